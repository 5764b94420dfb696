//! `event` with attendees, recurrence and time conversion.

use serde::{Deserialize, Serialize};

use super::{
    DateTimeTimeZone, EmailAddress, ItemBody, PhysicalAddress, Recipient,
    SingleValueExtendedProperty,
};
use crate::tz::TimeError;

/// `eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventType {
    /// A non-recurring event.
    SingleInstance,
    /// An unmodified occurrence of a series.
    Occurrence,
    /// A modified occurrence of a series.
    Exception,
    /// The series itself.
    SeriesMaster,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

model! {
    /// `responseStatus`.
    pub struct ResponseStatus {
        /// `none`, `organizer`, `tentativelyAccepted`, `accepted`, `declined`, `notResponded`.
        pub response: Option<String>,
        pub time: Option<String>,
    }
}

model! {
    /// `attendee`.
    pub struct Attendee {
        /// `required`, `optional`, `resource`.
        #[serde(rename = "type")]
        pub attendee_type: Option<String>,
        pub status: Option<ResponseStatus>,
        pub email_address: Option<EmailAddress>,
    }
}

model! {
    /// `location`.
    pub struct Location {
        pub display_name: Option<String>,
        pub location_type: Option<String>,
        pub unique_id: Option<String>,
        pub unique_id_type: Option<String>,
        pub address: Option<PhysicalAddress>,
    }
}

model! {
    /// `recurrencePattern`.
    pub struct RecurrencePattern {
        /// `daily`, `weekly`, `absoluteMonthly`, `relativeMonthly`, `absoluteYearly`, `relativeYearly`.
        #[serde(rename = "type")]
        pub pattern_type: Option<String>,
        pub interval: Option<u32>,
        pub month: Option<u32>,
        pub day_of_month: Option<u32>,
        pub days_of_week: Option<Vec<String>>,
        pub first_day_of_week: Option<String>,
        /// `first`, `second`, `third`, `fourth`, `last`.
        pub index: Option<String>,
    }
}

model! {
    /// `recurrenceRange`.
    pub struct RecurrenceRange {
        /// `endDate`, `noEnd`, `numbered`.
        #[serde(rename = "type")]
        pub range_type: Option<String>,
        pub start_date: Option<String>,
        pub end_date: Option<String>,
        pub recurrence_time_zone: Option<String>,
        pub number_of_occurrences: Option<u32>,
    }
}

model! {
    /// `patternedRecurrence`.
    pub struct PatternedRecurrence {
        pub pattern: Option<RecurrencePattern>,
        pub range: Option<RecurrenceRange>,
    }
}

model! {
    /// A calendar event. Reads are made with `Prefer: outlook.timezone="UTC"`.
    pub struct Event {
        pub id: String,
        #[serde(rename = "@odata.etag")]
        pub etag: Option<String>,
        pub change_key: Option<String>,
        pub created_date_time: Option<String>,
        pub last_modified_date_time: Option<String>,
        pub categories: Option<Vec<String>>,
        pub subject: Option<String>,
        pub body: Option<ItemBody>,
        pub body_preview: Option<String>,
        pub start: Option<DateTimeTimeZone>,
        pub end: Option<DateTimeTimeZone>,
        pub original_start_time_zone: Option<String>,
        pub original_end_time_zone: Option<String>,
        pub original_start: Option<String>,
        pub is_all_day: Option<bool>,
        pub is_cancelled: Option<bool>,
        pub is_draft: Option<bool>,
        pub is_organizer: Option<bool>,
        pub is_reminder_on: Option<bool>,
        pub is_online_meeting: Option<bool>,
        pub reminder_minutes_before_start: Option<i32>,
        pub response_requested: Option<bool>,
        pub response_status: Option<ResponseStatus>,
        /// `normal`, `personal`, `private`, `confidential`.
        pub sensitivity: Option<String>,
        /// `free`, `tentative`, `busy`, `oof`, `workingElsewhere`, `unknown`.
        pub show_as: Option<String>,
        pub importance: Option<String>,
        #[serde(rename = "type")]
        pub event_type: Option<EventType>,
        pub series_master_id: Option<String>,
        #[serde(rename = "iCalUId")]
        pub ical_uid: Option<String>,
        pub transaction_id: Option<String>,
        pub location: Option<Location>,
        pub locations: Option<Vec<Location>>,
        pub attendees: Option<Vec<Attendee>>,
        pub organizer: Option<Recipient>,
        pub recurrence: Option<PatternedRecurrence>,
        /// Series masters: `OID.{masterId}.{date}` of each cancelled occurrence (the date in
        /// the series' time zone).
        pub cancelled_occurrences: Option<Vec<String>>,
        pub has_attachments: Option<bool>,
        pub web_link: Option<String>,
        pub online_meeting_url: Option<String>,
        pub single_value_extended_properties: Option<Vec<SingleValueExtendedProperty>>,
    }
}

/// When an event happens: all-day events stay calendar dates (they float with the viewer),
/// timed events become instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// Timed event `[start, end)`.
    Timed {
        /// Start instant.
        start: jiff::Timestamp,
        /// End instant.
        end: jiff::Timestamp,
    },
    /// All-day event covering `[start, end)` dates (end exclusive, as Graph sends it).
    AllDay {
        /// First day.
        start: jiff::civil::Date,
        /// Day after the last day.
        end: jiff::civil::Date,
    },
}

impl Event {
    /// Start and end converted: instants for timed events, dates for all-day events.
    pub fn time(&self) -> Result<EventTime, TimeError> {
        let missing = || TimeError::InvalidDateTime(String::new());
        let start = self.start.as_ref().ok_or_else(missing)?;
        let end = self.end.as_ref().ok_or_else(missing)?;
        if self.is_all_day == Some(true) {
            let s = start.civil()?.date();
            let mut e = end.civil()?.date();
            if e <= s {
                e = s.tomorrow().map_err(|_| missing())?;
            }
            return Ok(EventTime::AllDay { start: s, end: e });
        }
        Ok(EventTime::Timed {
            start: start.to_timestamp()?,
            end: end.to_timestamp()?,
        })
    }

    /// The value of an extended property by id (case-insensitive).
    pub fn extended_property(&self, id: &str) -> Option<&str> {
        self.single_value_extended_properties
            .iter()
            .flatten()
            .find(|p| p.id.eq_ignore_ascii_case(id))
            .and_then(|p| p.value.as_deref())
    }
}
