//! Adoption for the kinds that write from CRM into Microsoft 365 (contacts, absences, tasks),
//! pure: which item the previous connector wrote for a record, found by content when its key
//! does not name it. The kinds ask in their gather, after their own marker found nothing
//! (the `CrmPersonId` / `CrmAbsenceId` property, the task's linked resource) and after the
//! previous connector's key ([`LegacyIndex::item_of`](crate::adopt::LegacyIndex::item_of)).
//!
//! Every candidate here is an item that carries no marker of ours (a marked item belongs to
//! another record); two or more candidates adopt nothing ([`only`]).

use jiff::civil::Date;

use crate::adopt::content::same_subject;
use crate::appointments::model::When;

/// A contact of the target folder as adoption compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactStub {
    /// Immutable id.
    pub id: String,
    pub display_name: String,
    /// E-mail addresses, lower case.
    pub emails: Vec<String>,
    /// The person id in the connector's property, when the contact has it.
    pub marker: Option<String>,
}

/// A calendar event as absence adoption compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpan {
    /// Immutable id.
    pub id: String,
    pub subject: String,
    pub when: When,
}

/// A To Do task as task adoption compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStub {
    pub id: String,
    pub title: String,
    pub due: Option<Date>,
    /// Whether it carries a linked resource of ours (then it is another CRM task's).
    pub marked: bool,
}

/// The one element, or `None` for none or several (a guess could merge two items).
pub fn only<T>(mut v: Vec<T>) -> Option<T> {
    if v.len() == 1 { v.pop() } else { None }
}

/// The unmarked contacts with the person's name (trimmed, case-insensitive) and one of its
/// addresses.
pub fn matching_contacts<'a>(
    contacts: &'a [ContactStub],
    name: &str,
    emails: &[String],
) -> Vec<&'a ContactStub> {
    contacts
        .iter()
        .filter(|c| c.marker.is_none())
        .filter(|c| same_subject(&c.display_name, name))
        .filter(|c| {
            c.emails
                .iter()
                .any(|a| emails.iter().any(|e| e.trim().eq_ignore_ascii_case(a)))
        })
        .collect()
}

/// Whether two spans are the same: all-day over the same dates, or timed with start and end
/// within a minute.
pub fn same_when(a: &When, b: &When) -> bool {
    match (a, b) {
        (When::AllDay { start: s1, end: e1 }, When::AllDay { start: s2, end: e2 }) => {
            s1 == s2 && e1 == e2
        }
        (When::Timed { start: s1, end: e1 }, When::Timed { start: s2, end: e2 }) => {
            (s1.as_second() - s2.as_second()).abs() < 60
                && (e1.as_second() - e2.as_second()).abs() < 60
        }
        _ => false,
    }
}

/// The events with the absence's subject and span (the caller leaves out events that carry
/// a marker or are linked).
pub fn matching_events<'a>(
    events: &'a [EventSpan],
    subject: &str,
    when: &When,
) -> Vec<&'a EventSpan> {
    events
        .iter()
        .filter(|e| same_subject(&e.subject, subject) && same_when(&e.when, when))
        .collect()
}

/// The unmarked tasks with the title (trimmed, case-insensitive) and the due date.
pub fn matching_tasks<'a>(
    tasks: &'a [TaskStub],
    title: &str,
    due: Option<Date>,
) -> Vec<&'a TaskStub> {
    tasks
        .iter()
        .filter(|t| !t.marked && same_subject(&t.title, title) && t.due == due)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;

    fn contact(id: &str, name: &str, emails: &[&str], marker: Option<&str>) -> ContactStub {
        ContactStub {
            id: id.into(),
            display_name: name.into(),
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
            marker: marker.map(str::to_owned),
        }
    }

    #[test]
    fn a_contact_matches_by_name_and_an_address_and_not_when_marked() {
        let c = vec![
            contact("a", "Ada Lovelace", &["ada@x.example"], None),
            contact(
                "b",
                " ada lovelace",
                &["other@x.example", "ada@x.example"],
                None,
            ),
            contact("c", "Ada Lovelace", &["ada@x.example"], Some("12")),
            contact("d", "Ada King", &["ada@x.example"], None),
            contact("e", "Ada Lovelace", &["lady@x.example"], None),
        ];
        let ids: Vec<&str> = matching_contacts(&c, "Ada Lovelace", &["ADA@x.example".into()])
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        // two candidates: nothing adopted; one: that one
        assert!(only(ids.clone()).is_none());
        assert_eq!(only(vec!["a"]), Some("a"));
        assert_eq!(only(Vec::<&str>::new()), None);
    }

    #[test]
    fn an_absence_event_matches_by_subject_and_span() {
        let day = |s: Date, e: Date| When::AllDay { start: s, end: e };
        let at = |s: &str, e: &str| When::Timed {
            start: s.parse().unwrap(),
            end: e.parse().unwrap(),
        };
        let ev = |id: &str, subject: &str, when: When| EventSpan {
            id: id.into(),
            subject: subject.into(),
            when,
        };
        let want = day(date(2026, 12, 10), date(2026, 12, 12));
        let events = vec![
            ev("a", "Vacation", want),
            ev(
                "b",
                "vacation ",
                day(date(2026, 12, 10), date(2026, 12, 13)),
            ),
            ev("c", "Training", want),
            ev(
                "d",
                "Vacation",
                at("2026-12-10T00:00:00Z", "2026-12-12T00:00:00Z"),
            ),
        ];
        let ids: Vec<&str> = matching_events(&events, "VACATION", &want)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["a"]);
        let timed = at("2026-12-10T08:00:00Z", "2026-12-10T12:00:00Z");
        assert!(same_when(
            &timed,
            &at("2026-12-10T08:00:30Z", "2026-12-10T12:00:00Z")
        ));
        assert!(!same_when(
            &timed,
            &at("2026-12-10T08:00:00Z", "2026-12-10T13:00:00Z")
        ));
    }

    #[test]
    fn a_task_matches_by_title_and_due_date_and_not_when_marked() {
        let t = |id: &str, title: &str, due: Option<Date>, marked: bool| TaskStub {
            id: id.into(),
            title: title.into(),
            due,
            marked,
        };
        let d = Some(date(2026, 12, 3));
        let tasks = vec![
            t("a", "Call back", d, false),
            t("b", "Call back", d, true),
            t("c", "Call back", Some(date(2026, 12, 4)), false),
            t("d", "Call back", None, false),
            t("e", "Write", d, false),
        ];
        let ids: Vec<&str> = matching_tasks(&tasks, " call BACK", d)
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(ids, ["a"]);
        let ids: Vec<&str> = matching_tasks(&tasks, "Call back", None)
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(ids, ["d"]);
    }
}
