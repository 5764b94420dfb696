//! What the absences kind needs of its two sides.

use async_trait::async_trait;
use gc_store::CrmId;
use serde_json::Value;

use crate::absences::model::AbsenceChange;
use crate::adopt::records::EventSpan;
use crate::error::PortError;

/// The Graph side: the connector's absence events, always addressed through the absence id
/// they carry.
#[async_trait]
pub trait AbsenceCalendar: Send + Sync {
    /// Ids of the events that carry `absence` in the connector's extended property.
    async fn find_events(&self, user: &str, absence: CrmId) -> Result<Vec<String>, PortError>;

    /// Whether the event `id` exists, and the absence id it carries in the connector's
    /// property: `None` when the calendar has no such event (adoption checks a candidate).
    async fn absence_mark(&self, user: &str, id: &str)
    -> Result<Option<Option<String>>, PortError>;

    /// The calendar's events (occurrences expanded, cancelled ones and series masters left
    /// out) that overlap `[from, to)`, with readable times.
    async fn events_between(
        &self,
        user: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<EventSpan>, PortError>;

    /// Create an event in the default calendar; its id.
    async fn create_event(&self, user: &str, body: &Value) -> Result<String, PortError>;

    /// Write `body` over an event.
    async fn update_event(&self, user: &str, id: &str, body: &Value) -> Result<(), PortError>;

    /// Delete an event (one that is already gone is no error).
    async fn delete_event(&self, user: &str, id: &str) -> Result<(), PortError>;
}

/// What one read of a rep's absences found.
#[derive(Debug, Clone, Default)]
pub struct AbsenceRead {
    /// Each absence, as [`AbsenceChange::Absence`] or, when unreadable,
    /// [`AbsenceChange::Broken`].
    pub changes: Vec<AbsenceChange>,
    /// Each absence's id and update stamp (`None` when the dialect names no update stamp):
    /// what the idle check compares.
    pub stamps: Option<Vec<(CrmId, String)>>,
}

/// The CRM side.
#[async_trait]
pub trait AbsencesCrm: Send + Sync {
    /// The rep's absences overlapping `[from, to]` (dates, inclusive).
    async fn absences(
        &self,
        rep: &str,
        rep_number: &str,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<AbsenceRead, PortError>;

    /// One absence by id, read the same way; `None` when CRM no longer has it.
    async fn absence(&self, rep: &str, id: CrmId) -> Result<Option<AbsenceChange>, PortError>;

    /// Record the external key absence → event (content type `text/x-mmAbsences`) unless
    /// CRM already has it.
    async fn ensure_key(&self, rep: &str, absence: CrmId, event: &str) -> Result<(), PortError>;
}
