//! What the absences kind works with: its rules, the changes its CRM source yields, and the
//! calendar event an absence becomes.

use gc_store::{CrmId, Link};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::appointments::model::When;

/// The single-value extended property that marks an event as an absence of the connector and
/// carries the absence's CRM id. The appointments kind skips events that carry it.
pub const ABSENCE_PROPERTY: &str =
    "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmAbsenceId";

/// The "Content Type (groupware)" value of an absence's external key.
pub const CONTENT_TYPE: &str = "text/x-mmAbsences";

/// The `[absences]` rules.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsenceRules {
    /// Days before today the window starts.
    pub days_past: u32,
    /// Days after today the window ends.
    pub days_future: u32,
    /// The events' `showAs` (`oof`, `busy`, `tentative`, `free`).
    pub show_as: String,
    /// The subject of an absence without a type.
    pub default_subject: String,
    /// The zone of CRM's wall-clock dates and times (`[crm] time_zone`).
    pub time_zone: TimeZone,
}

impl Default for AbsenceRules {
    fn default() -> Self {
        AbsenceRules {
            days_past: 7,
            days_future: 90,
            show_as: "oof".into(),
            default_subject: "Absence".into(),
            time_zone: TimeZone::UTC,
        }
    }
}

impl AbsenceRules {
    /// The window `[first, last]` (dates, inclusive) around `today`: absences that overlap it
    /// are synchronized.
    pub fn window(&self, today: Date) -> (Date, Date) {
        let shift = |d: u32, sign: i64| {
            today
                .checked_add(jiff::Span::new().days(sign * i64::from(d)))
                .unwrap_or(today)
        };
        (shift(self.days_past, -1), shift(self.days_future, 1))
    }
}

/// A CRM absence as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceItem {
    pub id: CrmId,
    /// The rep number it belongs to.
    pub rep_number: String,
    pub start: Date,
    pub start_time: Option<Time>,
    pub end: Date,
    pub end_time: Option<Time>,
    /// The absence type (catalog text), the event's subject.
    pub kind: String,
    /// Free text, the event's body.
    pub text: String,
}

/// One change of the CRM source.
#[derive(Debug, Clone, PartialEq)]
pub enum AbsenceChange {
    /// An absence of the rep in the window.
    Absence(AbsenceItem),
    /// An absence CRM returned that cannot be read (a date that does not parse).
    Broken {
        /// Its id.
        id: CrmId,
        /// Why.
        reason: String,
    },
    /// A linked absence the window no longer holds: deleted in CRM, or outside the window.
    Gone(Link),
}

/// The link key of an absence's event.
pub fn item_key(absence: CrmId) -> String {
    format!("absence:{absence}")
}

fn whole_day_start(t: Option<Time>) -> bool {
    t.is_none_or(|t| t == Time::midnight())
}

fn whole_day_end(t: Option<Time>) -> bool {
    t.is_none_or(|t| t == Time::midnight() || (t.hour() == 23 && t.minute() == 59))
}

/// When the event is: `(start, end, all_day)` as Graph `dateTimeTimeZone` values in UTC. An
/// absence whose times are missing or span whole days (00:00 to 23:59 or to 00:00) is an
/// all-day event over its dates; otherwise its wall-clock times are read in CRM's zone.
pub fn event_times(a: &AbsenceItem, tz: &TimeZone) -> Result<(Value, Value, bool), String> {
    let fmt_day = |d: Date| json!({"dateTime": format!("{d}T00:00:00"), "timeZone": "UTC"});
    if a.end < a.start {
        return Err(format!(
            "absence {} ends ({}) before it starts ({})",
            a.id, a.end, a.start
        ));
    }
    if whole_day_start(a.start_time) && whole_day_end(a.end_time) {
        let end = if a.end_time == Some(Time::midnight()) && a.end > a.start {
            a.end
        } else {
            a.end
                .tomorrow()
                .map_err(|e| format!("absence {} ends on an impossible day: {e}", a.id))?
        };
        return Ok((fmt_day(a.start), fmt_day(end), true));
    }
    let at = |d: Date, t: Option<Time>| {
        gc_crm::localtime::from_local(d, t, tz)
            .ok_or_else(|| format!("absence {}: {d} is out of range", a.id))
    };
    let start = at(a.start, a.start_time)?;
    let end = at(a.end, a.end_time.or(Some(jiff::civil::time(23, 59, 0, 0))))?;
    if end <= start {
        return Err(format!("absence {} ends before it starts", a.id));
    }
    let fmt = |t: jiff::Timestamp| json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    Ok((fmt(start), fmt(end), false))
}

/// When the absence's event is, as the calendar reads an event back: all-day dates (end
/// exclusive) or instants (what adoption compares events with).
pub fn absence_when(a: &AbsenceItem, tz: &TimeZone) -> Option<When> {
    let (start, end, all_day) = event_times(a, tz).ok()?;
    let text = |v: &Value| v["dateTime"].as_str().map(str::to_owned);
    let (start, end) = (text(&start)?, text(&end)?);
    if all_day {
        return Some(When::AllDay {
            start: start.get(..10)?.parse().ok()?,
            end: end.get(..10)?.parse().ok()?,
        });
    }
    let at = |s: &str| {
        TimeZone::UTC
            .to_timestamp(s.parse::<jiff::civil::DateTime>().ok()?)
            .ok()
    };
    Some(When::Timed {
        start: at(&start)?,
        end: at(&end)?,
    })
}

/// The event's subject: the absence type, or the rules' default for an absence without one.
pub fn subject(a: &AbsenceItem, rules: &AbsenceRules) -> String {
    if a.kind.trim().is_empty() {
        rules.default_subject.clone()
    } else {
        a.kind.trim().to_owned()
    }
}

/// The event an absence becomes: subject from the absence type, its text as body, all-day or
/// timed, `showAs` from the rules, no reminder, and the absence id in [`ABSENCE_PROPERTY`].
pub fn event_body(a: &AbsenceItem, rules: &AbsenceRules) -> Result<Value, String> {
    let (start, end, all_day) = event_times(a, &rules.time_zone)?;
    let subject = subject(a, rules);
    Ok(json!({
        "subject": subject,
        "body": {"contentType": "text", "content": a.text},
        "start": start,
        "end": end,
        "isAllDay": all_day,
        "showAs": rules.show_as,
        "isReminderOn": false,
        "singleValueExtendedProperties": [
            {"id": ABSENCE_PROPERTY, "value": a.id.to_string()}
        ],
    }))
}

/// The hash of what the connector last wrote (the link's `crm_hash`).
pub fn body_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use jiff::civil::{date, time};

    use super::*;

    fn absence(st: Option<Time>, et: Option<Time>) -> AbsenceItem {
        AbsenceItem {
            id: CrmId(3),
            rep_number: "100".into(),
            start: date(2026, 12, 1),
            start_time: st,
            end: date(2026, 12, 4),
            end_time: et,
            kind: "Vacation".into(),
            text: "Annual leave".into(),
        }
    }

    #[test]
    fn whole_days_are_all_day_events_with_an_exclusive_end() {
        let tz = TimeZone::get("Europe/Vienna").unwrap();
        for (st, et) in [
            (None, None),
            (Some(time(0, 0, 0, 0)), Some(time(23, 59, 0, 0))),
        ] {
            let (s, e, all) = event_times(&absence(st, et), &tz).unwrap();
            assert!(all);
            assert_eq!(s["dateTime"], "2026-12-01T00:00:00");
            assert_eq!(e["dateTime"], "2026-12-05T00:00:00");
        }
        // ending at midnight: the last day is the one before
        let (_, e, _) = event_times(&absence(None, Some(time(0, 0, 0, 0))), &tz).unwrap();
        assert_eq!(e["dateTime"], "2026-12-04T00:00:00");
    }

    #[test]
    fn times_are_read_in_the_crm_zone() {
        let tz = TimeZone::get("Europe/Vienna").unwrap();
        let mut a = absence(Some(time(9, 0, 0, 0)), Some(time(12, 30, 0, 0)));
        a.end = a.start;
        let (s, e, all) = event_times(&a, &tz).unwrap();
        assert!(!all);
        assert_eq!(s["dateTime"], "2026-12-01T08:00:00");
        assert_eq!(e["dateTime"], "2026-12-01T11:30:00");
        a.end_time = Some(time(8, 0, 0, 0));
        assert!(event_times(&a, &tz).is_err(), "ends before it starts");
    }

    #[test]
    fn the_event_says_what_and_carries_the_id() {
        let r = AbsenceRules::default();
        let b = event_body(&absence(None, None), &r).unwrap();
        assert_eq!(b["subject"], "Vacation");
        assert_eq!(b["showAs"], "oof");
        assert_eq!(b["singleValueExtendedProperties"][0]["value"], "3");
        let mut untyped = absence(None, None);
        untyped.kind = " ".into();
        assert_eq!(event_body(&untyped, &r).unwrap()["subject"], "Absence");
    }

    #[test]
    fn the_event_reads_back_as_adoption_compares_it() {
        let tz = TimeZone::get("Europe/Vienna").unwrap();
        assert_eq!(
            absence_when(&absence(None, None), &tz),
            Some(When::AllDay {
                start: date(2026, 12, 1),
                end: date(2026, 12, 5)
            })
        );
        let mut a = absence(Some(time(9, 0, 0, 0)), Some(time(12, 30, 0, 0)));
        a.end = a.start;
        assert_eq!(
            absence_when(&a, &tz),
            Some(When::Timed {
                start: "2026-12-01T08:00:00Z".parse().unwrap(),
                end: "2026-12-01T11:30:00Z".parse().unwrap(),
            })
        );
    }

    #[test]
    fn the_window_is_inclusive_days_around_today() {
        let r = AbsenceRules::default();
        assert_eq!(
            r.window(date(2026, 12, 2)),
            (date(2026, 11, 25), date(2027, 3, 2))
        );
    }
}
