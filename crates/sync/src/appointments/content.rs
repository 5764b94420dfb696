//! What an appointment *is*, on either side, in one shape: subject, times, place, text,
//! flags, reminder and attendees' addresses. Both directions compare a side's content with
//! the hash the link remembers to tell a real change from an echo of the connector's own
//! write, and the both-changed rule keeps the losing side's content in the ledger.
//!
//! Each side is hashed from its own reading (an event from Graph, an appointment from CRM),
//! so the two hashes are never compared with each other: only with their own earlier value.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::appointments::model::{CalEvent, CrmAppointment, When};
use crate::appointments::rules::AppointmentRules;
use crate::email::model::RepRef;

/// An appointment's synchronized content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Subject, trimmed.
    pub subject: String,
    /// When.
    pub when: When,
    /// Location, trimmed.
    pub location: String,
    /// Plain text of the body, trimmed, line ends normalized.
    pub text: String,
    /// The rich body (HTML), when the side has one.
    pub html: Option<String>,
    /// Private (`sensitivity` private or confidential; CRM's `Private`).
    pub private: bool,
    /// Graph's `showAs` value.
    pub show_as: String,
    /// Graph's `importance` value.
    pub importance: String,
    /// Reminder lead time in minutes, when there is a reminder.
    pub reminder: Option<i64>,
    /// Addresses of the attendees (CRM: the participants with an address), lower case.
    pub attendees: BTreeSet<String>,
}

impl Content {
    /// The hash the link remembers: equal hashes mean nothing synchronized changed.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        let when = match self.when {
            When::Timed { start, end } => format!("t{}-{}", start.as_second(), end.as_second()),
            When::AllDay { start, end } => format!("d{start}-{end}"),
        };
        for part in [
            self.subject.as_str(),
            &when,
            &self.location,
            &self.text,
            if self.private { "p" } else { "-" },
            &self.show_as,
            &self.importance,
            &self.reminder.map(|r| r.to_string()).unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for a in &self.attendees {
            h.update(a.as_bytes());
            h.update([1]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// A readable form for the ledger (the losing version of a conflict, what was written).
    pub fn to_json(&self) -> Value {
        let when = match self.when {
            When::Timed { start, end } => {
                json!({"start": start.to_string(), "end": end.to_string()})
            }
            When::AllDay { start, end } => {
                json!({"allDay": true, "start": start.to_string(), "end": end.to_string()})
            }
        };
        json!({
            "subject": self.subject,
            "when": when,
            "location": self.location,
            "text": self.text,
            "private": self.private,
            "showAs": self.show_as,
            "importance": self.importance,
            "reminderMinutes": self.reminder,
            "attendees": self.attendees,
        })
    }

    /// The names of the parts that differ from `other` (for the ledger).
    pub fn differences(&self, other: &Content) -> Vec<&'static str> {
        let mut d = Vec::new();
        let mut check = |same: bool, name: &'static str| {
            if !same {
                d.push(name);
            }
        };
        check(self.subject == other.subject, "subject");
        check(self.when == other.when, "time");
        check(self.location == other.location, "location");
        check(self.text == other.text, "text");
        check(self.private == other.private, "private");
        check(self.show_as == other.show_as, "showAs");
        check(self.importance == other.importance, "importance");
        check(self.reminder == other.reminder, "reminder");
        check(self.attendees == other.attendees, "attendees");
        d
    }
}

fn norm_text(s: &str) -> String {
    s.replace("\r\n", "\n").trim().to_owned()
}

/// An event's content; `None` when its times cannot be read.
pub fn of_event(ev: &CalEvent) -> Option<Content> {
    let when = ev.when.clone().ok()?;
    let (text, html) = match &ev.body {
        Some((true, html)) => (
            crate::email::body::html_to_text(html),
            Some(html.clone()).filter(|h| !h.trim().is_empty()),
        ),
        Some((false, text)) => (text.clone(), None),
        None => (String::new(), None),
    };
    let attendees = ev
        .attendees
        .iter()
        .map(|a| a.email.to_ascii_lowercase())
        .chain(ev.organizer.clone())
        .collect();
    Some(Content {
        subject: ev.subject.trim().to_owned(),
        when,
        location: ev.location.trim().to_owned(),
        text: norm_text(&text),
        html,
        private: ev.is_private(),
        show_as: ev.show_as.clone(),
        importance: ev.importance.clone(),
        reminder: ev.reminder.map(i64::from).filter(|m| *m > 0),
        attendees,
    })
}

/// The hash of an event's content (`""` when its times cannot be read: never equal to a
/// remembered hash).
pub fn event_hash(ev: &CalEvent) -> String {
    of_event(ev).map(|c| c.hash()).unwrap_or_default()
}

/// A CRM appointment's content, in the CRM's time zone; `Err` with the reason when its date
/// or times cannot be read. `reps` give the addresses of rep participants without one.
pub fn of_crm(
    a: &CrmAppointment,
    rules: &AppointmentRules,
    reps: &[RepRef],
) -> Result<Content, String> {
    let dl = &rules.dialect;
    let d = &dl.activity;
    let m = &dl.appointment;
    let get = |name: &str| {
        if name.is_empty() {
            ""
        } else {
            a.fields.get(name).map_or("", |v| v.trim())
        }
    };
    let date = dl
        .parse_date(get(&d.date))
        .ok_or_else(|| format!("the appointment {} has no readable date", a.id))?;
    let time = Some(get(&d.time))
        .filter(|t| !t.is_empty())
        .map(|t| {
            dl.parse_time(t)
                .ok_or_else(|| format!("the appointment {} has an unreadable time {t:?}", a.id))
        })
        .transpose()?;
    let end_date = dl.parse_date(get(&d.end_date));
    let duration: Option<i64> = get(&m.duration).parse().ok().filter(|d: &i64| *d > 0);
    let when = match time {
        None => {
            // All day: over its dates, the end exclusive as Graph has it.
            let last = end_date.filter(|e| *e >= date).unwrap_or(date);
            let end = last
                .tomorrow()
                .map_err(|e| format!("the appointment {} ends on an impossible day: {e}", a.id))?;
            When::AllDay { start: date, end }
        }
        Some(t) => {
            let tz = &rules.time_zone;
            let start = gc_crm::localtime::from_local(date, Some(t), tz)
                .ok_or_else(|| format!("the appointment {}: {date} is out of range", a.id))?;
            let end_time = dl.parse_time(get(&d.end_time));
            let end = match (end_date, end_time, duration) {
                (Some(ed), Some(et), _) => gc_crm::localtime::from_local(ed, Some(et), tz),
                (None, Some(et), _) => gc_crm::localtime::from_local(date, Some(et), tz),
                (_, None, Some(min)) => {
                    start.checked_add(jiff::SignedDuration::from_mins(min)).ok()
                }
                _ => None,
            }
            .filter(|e| *e > start)
            .unwrap_or_else(|| {
                start
                    .checked_add(jiff::SignedDuration::from_mins(rules.default_minutes))
                    .unwrap_or(start)
            });
            When::Timed { start, end }
        }
    };
    let html = Some(get(&m.body))
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    let reminder = match get(&m.reminder_duration).parse::<i64>() {
        Ok(n) if n > 0 => {
            let unit = get(&m.reminder_unit);
            rules.reminder_minutes(unit).map(|per| n * per)
        }
        _ => None,
    };
    let attendees = a
        .participants
        .iter()
        .filter_map(|p| {
            p.email.clone().or_else(|| {
                let rep = p.rep?;
                reps.iter()
                    .find(|r| r.crm_id == rep)
                    .map(|r| r.email.clone())
            })
        })
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    Ok(Content {
        subject: get(&d.subject).to_owned(),
        when,
        location: get(&m.location).to_owned(),
        text: norm_text(get(&d.text)),
        html,
        private: !m.private.is_empty() && dl.parse_bool(get(&m.private)),
        show_as: m
            .show_as_graph(get(&m.show_as))
            .unwrap_or("busy")
            .to_owned(),
        importance: m.importance(get(&m.priority)).to_owned(),
        reminder,
        attendees,
    })
}

/// The hash of a CRM appointment's content (`""` when unreadable).
pub fn crm_hash(a: &CrmAppointment, rules: &AppointmentRules, reps: &[RepRef]) -> String {
    of_crm(a, rules, reps).map(|c| c.hash()).unwrap_or_default()
}

/// When a side last changed, as far as it says (for `conflict = "newest"`).
pub fn crm_modified(a: &CrmAppointment) -> Option<Timestamp> {
    a.updated.as_deref().and_then(parse_stamp)
}

/// CRM's update stamp as a time: RFC 3339, or `YYYY-MM-DD HH:MM:SS` taken as UTC.
fn parse_stamp(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    s.parse::<Timestamp>().ok().or_else(|| {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s)
            .ok()
            .and_then(|dt| {
                jiff::tz::TimeZone::UTC
                    .to_ambiguous_timestamp(dt)
                    .compatible()
                    .ok()
            })
    })
}

/// The Graph body that writes `c` onto an event (times in UTC). `attendees`: the addresses to
/// invite (`None`: leave the attendees as they are).
pub fn event_body(c: &Content, attendees: Option<&[String]>) -> Value {
    let fmt = |t: Timestamp| json!({"dateTime": t.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    let day =
        |d: jiff::civil::Date| json!({"dateTime": format!("{d}T00:00:00"), "timeZone": "UTC"});
    let (start, end, all_day) = match c.when {
        When::Timed { start, end } => (fmt(start), fmt(end), false),
        When::AllDay { start, end } => (day(start), day(end), true),
    };
    let body = match &c.html {
        Some(h) => json!({"contentType": "html", "content": h}),
        None => json!({"contentType": "text", "content": c.text}),
    };
    let mut v = json!({
        "subject": c.subject,
        "body": body,
        "start": start,
        "end": end,
        "isAllDay": all_day,
        "location": {"displayName": c.location},
        "sensitivity": if c.private { "private" } else { "normal" },
        "showAs": c.show_as,
        "importance": c.importance,
        "isReminderOn": c.reminder.is_some(),
    });
    if let Some(r) = c.reminder {
        v["reminderMinutesBeforeStart"] = json!(r);
    }
    if let Some(list) = attendees {
        v["attendees"] = Value::Array(
            list.iter()
                .map(|a| json!({"type": "required", "emailAddress": {"address": a}}))
                .collect(),
        );
    }
    v
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use gc_store::CrmId;

    use super::*;
    use crate::appointments::model::CrmParticipant;

    fn rules() -> AppointmentRules {
        AppointmentRules {
            time_zone: jiff::tz::TimeZone::get("Europe/Vienna").unwrap(),
            ..AppointmentRules::default()
        }
    }

    pub(crate) fn crm(fields: &[(&str, &str)]) -> CrmAppointment {
        CrmAppointment {
            id: CrmId(5),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            start: None,
            updated: None,
            keys: Vec::new(),
            participants: vec![CrmParticipant {
                email: Some("Kim@Customer.example".into()),
                rep: None,
            }],
        }
    }

    #[test]
    fn a_crm_appointment_reads_in_the_crm_time_zone() {
        let a = crm(&[
            ("Subject", " Review "),
            ("Date", "2026-03-29"),
            ("Time", "09:00"),
            ("EndDate", "2026-03-29"),
            ("EndTime", "10:30"),
            ("Private", "true"),
            ("ShowAs", "Tentative"),
            ("Priority", "3"),
            ("ReminderDur", "15"),
            ("ReminderUnit", "min"),
        ]);
        let c = of_crm(&a, &rules(), &[]).unwrap();
        assert_eq!(c.subject, "Review");
        // 29 March 2026 is the day Vienna moves to summer time (UTC+2).
        assert_eq!(
            c.when,
            When::Timed {
                start: "2026-03-29T07:00:00Z".parse().unwrap(),
                end: "2026-03-29T08:30:00Z".parse().unwrap(),
            }
        );
        assert!(c.private);
        assert_eq!(c.show_as, "tentative");
        assert_eq!(c.importance, "high");
        assert_eq!(c.reminder, Some(15));
        assert!(c.attendees.contains("kim@customer.example"));
    }

    #[test]
    fn without_a_time_it_is_all_day_and_without_an_end_the_duration_counts() {
        let c = of_crm(
            &crm(&[("Date", "2026-12-01"), ("EndDate", "2026-12-02")]),
            &rules(),
            &[],
        )
        .unwrap();
        assert_eq!(
            c.when,
            When::AllDay {
                start: jiff::civil::date(2026, 12, 1),
                end: jiff::civil::date(2026, 12, 3)
            }
        );
        let c = of_crm(
            &crm(&[
                ("Date", "2026-12-01"),
                ("Time", "10:00"),
                ("Duration", "45"),
            ]),
            &rules(),
            &[],
        )
        .unwrap();
        let When::Timed { start, end } = c.when else {
            panic!("timed")
        };
        assert_eq!(end.duration_since(start).as_secs(), 45 * 60);
        assert!(of_crm(&crm(&[("Date", "tomorrow")]), &rules(), &[]).is_err());
    }

    #[test]
    fn the_hash_follows_the_content_and_the_body_writes_it_back() {
        let a = crm(&[("Subject", "A"), ("Date", "2026-12-01"), ("Time", "10:00")]);
        let c = of_crm(&a, &rules(), &[]).unwrap();
        let mut b = c.clone();
        assert_eq!(c.hash(), b.hash());
        b.location = "Room 2".into();
        assert_ne!(c.hash(), b.hash());
        assert_eq!(c.differences(&b), vec!["location"]);
        let body = event_body(&c, Some(&["kim@customer.example".to_owned()]));
        assert_eq!(body["start"]["dateTime"], "2026-12-01T09:00:00");
        assert_eq!(body["isAllDay"], false);
        assert_eq!(body["isReminderOn"], false);
        assert_eq!(
            body["attendees"][0]["emailAddress"]["address"],
            "kim@customer.example"
        );
    }

    #[test]
    fn an_event_reads_into_the_same_shape() {
        let ev = crate::appointments::fields::tests::event();
        let c = of_event(&ev).unwrap();
        assert_eq!(c.text, "Agenda");
        assert_eq!(c.reminder, Some(15));
        assert!(c.attendees.contains("anna@contoso.com"));
        assert_eq!(event_hash(&ev), c.hash());
    }
}
