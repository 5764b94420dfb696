//! What the appointments kind sees of a calendar event and of a CRM appointment, independent
//! of Graph's JSON and CRM.interface's XML.

use std::collections::BTreeMap;

use gc_crm::ParticipantRole;
use gc_store::{CrmId, Link};
use jiff::Timestamp;
use jiff::civil::Date;

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Timed `[start, end)`.
    Timed {
        /// Start instant.
        start: Timestamp,
        /// End instant.
        end: Timestamp,
    },
    /// All day, `[start, end)` dates (end exclusive, as Graph sends it).
    AllDay {
        /// First day.
        start: Date,
        /// Day after the last day.
        end: Date,
    },
}

impl When {
    /// `[start, end)` as instants; all-day dates count from the start of the day in UTC, as
    /// the synchronized window's days do. `None` for a date jiff cannot place.
    pub fn instants(&self) -> Option<(Timestamp, Timestamp)> {
        let utc = |d: Date| {
            d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        };
        match *self {
            When::Timed { start, end } => Some((start, end)),
            When::AllDay { start, end } => Some((utc(start)?, utc(end)?)),
        }
    }
}

/// An attendee of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// SMTP address, lower case.
    pub email: String,
    /// Role (required, optional, resource → informational).
    pub role: ParticipantRole,
    /// Response (`accepted`, `declined`, …), when known.
    pub response: Option<String>,
}

/// A calendar event (a single event, or one occurrence or exception of a series) as the
/// kind needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalEvent {
    /// Graph immutable id (of this mailbox's copy).
    pub id: String,
    /// `iCalUId`: the same in every attendee's copy (and per occurrence).
    pub ical_uid: Option<String>,
    /// `changeKey`: changes with every change of the event.
    pub change_key: Option<String>,
    /// When it was created (`createdDateTime`): an event created after the switch-over is not
    /// looked up among the previous connector's keys ([`crate::adopt::legacy::switch_over`]).
    pub created: Option<Timestamp>,
    /// When it was last changed.
    pub modified: Option<Timestamp>,
    /// Subject.
    pub subject: String,
    /// Body: HTML (`true`) or plain text, and the content.
    pub body: Option<(bool, String)>,
    /// When; `Err` with the reason when the times cannot be read (unknown zone ...).
    pub when: Result<When, String>,
    /// `sensitivity` (`normal`, `personal`, `private`, `confidential`).
    pub sensitivity: String,
    /// `showAs`.
    pub show_as: String,
    /// `importance`.
    pub importance: String,
    /// Reminder lead time in minutes, when the reminder is on.
    pub reminder: Option<i32>,
    /// Location display name.
    pub location: String,
    /// Attendees.
    pub attendees: Vec<Attendee>,
    /// Organizer address (lower case).
    pub organizer: Option<String>,
    /// Whether this copy is the organizer's.
    pub is_organizer: bool,
    /// Cancelled by the organizer.
    pub is_cancelled: bool,
    /// `singleInstance`, `occurrence`, `exception`, `seriesMaster`.
    pub event_type: String,
    /// The CRM record id stamped on events written from CRM (extended property), when read.
    pub crm_id: Option<String>,
    /// The absences kind's CRM id stamped on its events, when read: not an appointment.
    pub absence_id: Option<String>,
    /// Whether the extended properties were read (a delta page does not carry them).
    pub props_read: bool,
    /// Its place in a recurring series (empty for a single event).
    pub series: SeriesPart,
}

/// What an event knows of its recurring series.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesPart {
    /// Occurrences and exceptions: `seriesMasterId` (the master's id in this calendar).
    pub master_id: Option<String>,
    /// Occurrences and exceptions: `originalStart`, when the pattern scheduled it (a moved
    /// occurrence keeps it): with the series' `iCalUId` its tenant-wide key.
    pub original_start: Option<Timestamp>,
    /// Occurrences and exceptions: the series master, read once per series and run (the
    /// calendarView delta gives occurrences without it).
    pub master: Option<Box<CalEvent>>,
    /// Masters: the dates of cancelled occurrences (`cancelledOccurrences`), in the series'
    /// time zone.
    pub cancelled: Vec<Date>,
    /// Masters: the series' time zone as Graph names it (`recurrence.range.
    /// recurrenceTimeZone`, else `originalStartTimeZone`; Windows or IANA).
    pub zone: Option<String>,
}

impl CalEvent {
    /// Private events stay private (`private`, `confidential`).
    pub fn is_private(&self) -> bool {
        matches!(self.sensitivity.as_str(), "private" | "confidential")
    }

    /// An occurrence or an exception of a series.
    pub fn is_occurrence(&self) -> bool {
        matches!(self.event_type.as_str(), "occurrence" | "exception")
    }

    /// A series master.
    pub fn is_master(&self) -> bool {
        self.event_type == "seriesMaster"
    }

    /// The tenant-wide key: `iCalUId` (an occurrence: the series' `iCalUId` with its original
    /// start, see [`super::series::occurrence_key`]), or (none given) a key private to this
    /// copy.
    pub fn global_key(&self, mailbox: &str) -> String {
        if let Some(k) = crate::appointments::series::key_of(self) {
            return k;
        }
        match self
            .ical_uid
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(k) => k.to_owned(),
            None => format!("graph:{mailbox}:{}", self.id),
        }
    }
}

/// One change of the calendar source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventChange {
    /// New or changed.
    Event(Box<CalEvent>),
    /// Graph reported it removed: deleted, or moved out of the window.
    Removed {
        /// Graph id.
        id: String,
    },
    /// A linked event a walk from the start did not see: deleted, or out of the window.
    Vanished(Box<Link>),
    /// A CRM appointment of the rep in the window (the CRM source), with the event this
    /// mailbox links it to, if any.
    Crm(Box<CrmItem>),
    /// A linked CRM appointment a full walk of the CRM source did not see: deleted in CRM,
    /// out of the window, or no longer the rep's.
    CrmVanished(Box<Link>),
    /// Graph gave an unreadable item.
    Broken {
        /// Its id, when known.
        id: Option<String>,
        /// What was wrong.
        reason: String,
    },
}

/// One appointment of the CRM source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmItem {
    /// The appointment as the CRM source read it.
    pub appointment: CrmAppointment,
    /// Whether it passes the forms.xml VeventFilter condition (and `[appointments] types`);
    /// one marked `ConnectorDeleted` does not.
    pub in_scope: bool,
    /// This mailbox's link to it: its event id and the meeting's key.
    pub linked: Option<(String, Option<String>)>,
    /// An interrupted write of an event to CRM in this mailbox does not know yet which
    /// record it wrote: no event is created from an unlinked appointment (it may be that
    /// record) until the calendar side has completed it, later in the same run.
    pub hold_new: bool,
}

/// The item key of a CRM appointment that has no event in this mailbox yet.
pub fn crm_item_key(id: CrmId) -> String {
    format!("crm:{id}")
}

/// One page of the calendar source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventPage {
    /// The changes.
    pub changes: Vec<EventChange>,
    /// More pages follow from here.
    pub next_link: Option<String>,
    /// The round is complete.
    pub delta_link: Option<String>,
}

/// A participant of a CRM appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmParticipant {
    /// Address (lower case), when known.
    pub email: Option<String>,
    /// Rep record.
    pub rep: Option<CrmId>,
}

/// A CRM appointment as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmAppointment {
    /// Its id.
    pub id: CrmId,
    /// Every field read, by name.
    pub fields: BTreeMap<String, String>,
    /// When it starts (CRM time zone), when readable.
    pub start: Option<Timestamp>,
    /// CRM's update stamp (`[crm.dialect.activity] updated`), when the installation has one.
    pub updated: Option<String>,
    /// The meeting keys (`text/x-vevent` external keys) linked to it, as the CRM source reads
    /// them (empty elsewhere): one with a key came from a calendar.
    pub keys: Vec<String>,
    /// Its participants.
    pub participants: Vec<CrmParticipant>,
}

/// The external key of an appointment: which record, and which mailbox wrote it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The activity.
    pub id: CrmId,
    /// Mailbox (address) that wrote the key: the first synced copy.
    pub mailbox: Option<String>,
}

/// A participant to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Role.
    pub role: ParticipantRole,
    /// Address (lower case).
    pub email: String,
    /// Person record.
    pub person: Option<CrmId>,
    /// Rep record.
    pub rep: Option<CrmId>,
    /// Response, when known.
    pub status: Option<String>,
}

/// Everything needed to write one new appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentPlan {
    /// External key (`iCalUId`).
    pub key: String,
    /// The mailbox address recorded with the key.
    pub mailbox: String,
    /// Activity type (catalog text).
    pub contact_type: String,
    /// Every synced field (subject, dates, times, the vevent fields), by name.
    pub fields: BTreeMap<String, String>,
    /// Linked company.
    pub company: Option<CrmId>,
    /// Linked person.
    pub person: Option<CrmId>,
    /// Participants.
    pub participants: Vec<NewMember>,
}
