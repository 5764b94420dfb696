//! The field mapping between a CRM task and a To Do task, both ways (pure).
//!
//! CRM → To Do: subject → title, text → body, due and start date, reminder (CRM wall-clock
//! time in `[crm] time_zone`) → reminder, priority → importance (`[tasks] priority_high` /
//! `priority_low`, anything else normal), status → status through `[tasks] status_*`; a
//! status text none of them names falls back on the percentage (100 → completed, more than
//! 0 → in progress, else not started). To Do has no percentage of its own.
//!
//! To Do → CRM (see [`decide`](super::decide)): the status, with the percentage that follows
//! from it ([`percent_for`]); with `direction = "both"` also title, start and due date.

use gc_crm::{TaskRecord, TaskUpdate};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::tasks::model::{Importance, TodoFields, TodoStatus};
use crate::tasks::rules::TaskRules;

/// The To Do fields a CRM task should have.
pub fn todo_fields(t: &TaskRecord, rules: &TaskRules, tz: &TimeZone) -> TodoFields {
    TodoFields {
        title: t.subject.clone(),
        body: t.text.clone(),
        due: t.due_date,
        start: t.start_date,
        reminder: t
            .reminder
            .and_then(|(d, time)| gc_crm::localtime::from_local(d, time, tz)),
        importance: importance(&t.priority, rules),
        status: status_from_crm(&t.status, t.percent_complete, rules),
    }
}

fn importance(priority: &str, rules: &TaskRules) -> Importance {
    let p = priority.trim();
    if !p.is_empty() && p.eq_ignore_ascii_case(rules.priority_high.trim()) {
        Importance::High
    } else if !p.is_empty() && p.eq_ignore_ascii_case(rules.priority_low.trim()) {
        Importance::Low
    } else {
        Importance::Normal
    }
}

/// To Do's status for a CRM status text and percentage.
pub fn status_from_crm(status: &str, percent: Option<u8>, rules: &TaskRules) -> TodoStatus {
    let s = &rules.status;
    let t = status.trim();
    let is = |x: &str| !t.is_empty() && t.eq_ignore_ascii_case(x.trim());
    if is(&s.completed) {
        TodoStatus::Completed
    } else if is(&s.in_progress) {
        TodoStatus::InProgress
    } else if is(&s.waiting) {
        TodoStatus::WaitingOnOthers
    } else if is(&s.deferred) {
        TodoStatus::Deferred
    } else if is(&s.not_started) {
        TodoStatus::NotStarted
    } else {
        match percent {
            Some(100) => TodoStatus::Completed,
            Some(p) if p > 0 => TodoStatus::InProgress,
            _ => TodoStatus::NotStarted,
        }
    }
}

/// The CRM status text for To Do's status.
pub fn status_to_crm(status: TodoStatus, rules: &TaskRules) -> &str {
    let s = &rules.status;
    match status {
        TodoStatus::NotStarted => &s.not_started,
        TodoStatus::InProgress => &s.in_progress,
        TodoStatus::Completed => &s.completed,
        TodoStatus::WaitingOnOthers => &s.waiting,
        TodoStatus::Deferred => &s.deferred,
    }
}

/// The CRM percentage for a status set in To Do: completed 100, not started 0; otherwise the
/// CRM value stays, unless it said 100 (a reopened task starts again at 0).
pub fn percent_for(status: TodoStatus, crm: Option<u8>) -> Option<u8> {
    match status {
        TodoStatus::Completed => Some(100),
        TodoStatus::NotStarted => Some(0),
        _ if crm == Some(100) => Some(0),
        _ => None,
    }
}

/// The CRM task as it is after `update` (to remember what was synchronized).
pub fn updated(crm: &TaskRecord, u: &TaskUpdate) -> TaskRecord {
    let mut t = crm.clone();
    if let Some(s) = &u.status {
        t.status = s.clone();
    }
    if let Some(p) = u.percent_complete {
        t.percent_complete = Some(p);
    }
    if let Some(s) = &u.subject {
        t.subject = s.clone();
    }
    if let Some(d) = u.start_date {
        t.start_date = d;
    }
    if let Some(d) = u.due_date {
        t.due_date = d;
    }
    t
}

/// A reminder as Graph writes it back (seconds only), so that a task read back compares
/// equal to what was written.
pub fn whole_seconds(ts: Timestamp) -> Timestamp {
    Timestamp::from_second(ts.as_second()).unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gc_store::CrmId;

    fn crm() -> TaskRecord {
        TaskRecord {
            id: CrmId(7),
            rep_id: "100".into(),
            subject: "Call back".into(),
            text: "About the offer".into(),
            start_date: Some(jiff::civil::date(2026, 12, 1)),
            due_date: Some(jiff::civil::date(2026, 12, 4)),
            status: "In progress".into(),
            priority: "High".into(),
            percent_complete: Some(50),
            reminder: Some((
                jiff::civil::date(2026, 12, 4),
                Some(jiff::civil::time(9, 0, 0, 0)),
            )),
            deleted: false,
            updated: None,
        }
    }

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Vienna").unwrap()
    }

    #[test]
    fn crm_fields_map_onto_todo() {
        let f = todo_fields(&crm(), &TaskRules::default(), &tz());
        assert_eq!(f.title, "Call back");
        assert_eq!(f.importance, Importance::High);
        assert_eq!(f.status, TodoStatus::InProgress);
        assert_eq!(
            f.reminder.unwrap().to_string(),
            "2026-12-04T08:00:00Z",
            "09:00 in Vienna"
        );
    }

    #[test]
    fn an_unknown_status_text_falls_back_on_the_percentage() {
        let r = TaskRules::default();
        assert_eq!(
            status_from_crm("Erledigt", Some(100), &r),
            TodoStatus::Completed
        );
        assert_eq!(status_from_crm("", Some(10), &r), TodoStatus::InProgress);
        assert_eq!(status_from_crm("?", None, &r), TodoStatus::NotStarted);
        assert_eq!(
            status_from_crm("completed", None, &r),
            TodoStatus::Completed
        );
    }
}
