//! The two sides adoption reads, as traits (implemented for `GraphMail` and `CrmActivities` in
//! [`crate::adapters::adopt`]). Every CRM call acts for the rep `rep`.

use async_trait::async_trait;
use gc_store::CrmId;
use jiff::Timestamp;

use crate::error::PortError;

/// An external key another system left for the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyKey {
    /// The key as stored.
    pub ext_key: String,
    /// The record it points to (of the kind's table).
    pub record: CrmId,
}

/// The CRM table whose records the external keys of a content type point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordTable {
    /// Activities (`MA`): e-mails and appointments.
    Activity,
    /// Persons (`KP`): the contacts kind.
    Person,
    /// Absences (`A3`).
    Absence,
    /// Tasks (`A1`).
    Task,
}

/// The id forms `translateExchangeIds` takes that the EWS connector may have stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceForm {
    /// An EWS item id.
    EwsId,
    /// A MAPI entry id, as hex.
    HexEntryId,
}

/// A calendar event as content matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStub {
    /// Immutable id.
    pub id: String,
    pub subject: String,
    /// Start instant (`None` for an all-day event or unreadable times).
    pub start: Option<Timestamp>,
    /// Organizer address, lower case.
    pub organizer: Option<String>,
}

/// A CRM activity as content matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentCandidate {
    pub id: CrmId,
    pub subject: String,
    /// `HH:MM` as CRM holds it.
    pub time: String,
    /// Participant addresses, lower case.
    pub participants: Vec<String>,
}

/// The Microsoft 365 side.
#[async_trait]
pub trait AdoptionGraph: Send + Sync {
    /// Translate `ids` of one mailbox, all of form `form`, into immutable ids (`None`: the
    /// mailbox does not know the id). `Err` of class `Item` or `NotFound` means the
    /// translation is not available (e.g. not granted): adoption goes on without it.
    async fn translate(
        &self,
        user: &str,
        ids: &[String],
        form: SourceForm,
    ) -> Result<Vec<Option<String>>, PortError>;

    /// The calendar's events (occurrences expanded) that start in `[from, to)`.
    async fn events_starting(
        &self,
        user: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<EventStub>, PortError>;
}

/// The CRM side.
#[async_trait]
pub trait AdoptionCrm: Send + Sync {
    /// The external keys other systems left for `mailbox` with `content_type` on records of
    /// `table`, at most `max`; `true` when there are more.
    async fn legacy_keys(
        &self,
        rep: &str,
        mailbox: &str,
        content_type: &str,
        table: RecordTable,
        max: u32,
    ) -> Result<(Vec<LegacyKey>, bool), PortError>;

    /// The activities of the rep `rep_number` on `date` with this subject (not marked
    /// deleted), with their participants.
    async fn activities_like(
        &self,
        rep: &str,
        rep_number: &str,
        date: jiff::civil::Date,
        subject: &str,
    ) -> Result<Vec<ContentCandidate>, PortError>;
}
