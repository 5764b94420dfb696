//! The two sides of the appointments kind, as traits (real implementations over the Graph and
//! CRM clients in [`super::adapters`]). Every CRM call acts for the rep `rep`.

use async_trait::async_trait;
use gc_store::CrmId;
use jiff::Timestamp;
use serde_json::Value;

use crate::appointments::model::{
    AppointmentPlan, CalEvent, CrmAppointment, EventPage, KeyRecord, NewMember,
};
use crate::email::model::PeopleMatch;
use crate::error::PortError;
use crate::ports::CreateOutcome;

/// The calendar side.
#[async_trait]
pub trait CalendarGraph: Send + Sync {
    /// One page of the calendarView delta of `[start, end)` (from the start, or from a
    /// checkpoint of the same window).
    async fn event_page(
        &self,
        user: &str,
        start: Timestamp,
        end: Timestamp,
        checkpoint: Option<&str>,
    ) -> Result<EventPage, PortError>;

    /// One event with the connector's extended properties; `None` when it is gone.
    async fn event(&self, user: &str, id: &str) -> Result<Option<CalEvent>, PortError>;

    /// The events that carry `crm_id` in the connector's `CrmId` property: the events the
    /// connector wrote for that appointment (found again after a crash before the link).
    async fn events_for_crm_id(
        &self,
        user: &str,
        crm_id: CrmId,
    ) -> Result<Vec<CalEvent>, PortError>;

    /// Create an event from a Graph body; the event as created.
    async fn create_event(&self, user: &str, body: &Value) -> Result<CalEvent, PortError>;

    /// PATCH an event; the event as it is now, `None` when it is gone.
    async fn update_event(
        &self,
        user: &str,
        id: &str,
        body: &Value,
    ) -> Result<Option<CalEvent>, PortError>;

    /// Delete an event (one already gone is no error). The organizer's delete cancels the
    /// meeting for its attendees.
    async fn delete_event(&self, user: &str, id: &str) -> Result<(), PortError>;
}

/// Which CRM appointments the CRM source reads.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmWindow {
    /// The rep number (`RepID`).
    pub rep_number: String,
    /// First day (inclusive, CRM time zone).
    pub from: jiff::civil::Date,
    /// Last day (inclusive).
    pub to: jiff::civil::Date,
    /// Only those whose update stamp is at or after this one.
    pub since: Option<String>,
    /// The fields to read.
    pub fields: Vec<String>,
}

/// The CRM side.
#[async_trait]
pub trait AppointmentCrm: Send + Sync {
    /// Persons and companies by address, many at once.
    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError>;

    /// The rep's appointments in the window, with their participants.
    async fn appointments(
        &self,
        rep: &str,
        window: &CrmWindow,
    ) -> Result<Vec<CrmAppointment>, PortError>;

    /// The appointment whose external key is `key` (the `iCalUId`).
    async fn find_by_key(&self, rep: &str, key: &str) -> Result<Option<KeyRecord>, PortError>;

    /// An appointment by id with its fields and participants; `None` when it does not exist.
    async fn appointment(&self, rep: &str, id: CrmId) -> Result<Option<CrmAppointment>, PortError>;

    /// An appointment an interrupted attempt wrote for `plan` before its external key: same
    /// rep, date, time and subject.
    async fn find_orphan(
        &self,
        rep: &str,
        plan: &AppointmentPlan,
    ) -> Result<Option<CrmId>, PortError>;

    /// Write a new appointment with its external key and participants.
    async fn create(&self, rep: &str, plan: &AppointmentPlan) -> Result<CreateOutcome, PortError>;

    /// Update fields.
    async fn update(
        &self,
        rep: &str,
        id: CrmId,
        fields: &[(String, String)],
    ) -> Result<(), PortError>;

    /// Add participants.
    async fn add_participants(
        &self,
        rep: &str,
        id: CrmId,
        members: &[NewMember],
    ) -> Result<(), PortError>;

    /// Record the external key of an adopted appointment.
    async fn add_key(
        &self,
        rep: &str,
        id: CrmId,
        key: &str,
        mailbox: &str,
    ) -> Result<(), PortError>;

    /// Mark it deleted (`ConnectorDeleted`): appointments are never physically deleted.
    async fn soft_delete(&self, rep: &str, id: CrmId) -> Result<(), PortError>;
}
