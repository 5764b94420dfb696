//! The two sides of the appointments kind, as traits (real implementations over the Graph and
//! CRM clients in [`super::adapters`]). Every CRM call acts for the rep `rep`.

use async_trait::async_trait;
use gc_store::CrmId;
use jiff::Timestamp;

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
}

/// The CRM side.
#[async_trait]
pub trait AppointmentCrm: Send + Sync {
    /// Persons and companies by address, many at once.
    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError>;

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
