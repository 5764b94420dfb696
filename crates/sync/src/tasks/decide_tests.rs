#![allow(clippy::unwrap_used)]

use gc_crm::TaskRecord;
use gc_store::{CrmId, Kind, Link, LinkState};
use jiff::tz::TimeZone;

use super::*;
use crate::tasks::model::{TodoStatus, item_key, todo_key};

fn crm() -> TaskRecord {
    TaskRecord {
        id: CrmId(7),
        rep_id: "100".into(),
        subject: "Call back".into(),
        text: "About the offer".into(),
        start_date: None,
        due_date: Some(jiff::civil::date(2026, 12, 4)),
        status: "Open".into(),
        priority: "Normal".into(),
        percent_complete: Some(0),
        reminder: None,
        deleted: false,
        updated: Some("2026-12-02T01:00:00.000Z".into()),
    }
}

fn tz() -> TimeZone {
    TimeZone::UTC
}

fn todo_of(t: &TaskRecord, rules: &TaskRules) -> TodoItem {
    TodoItem {
        id: "T1".into(),
        etag: Some("e1".into()),
        fields: todo_fields(t, rules, &tz()),
        crm_id: Some(t.id),
    }
}

/// The link as the last sync left it: both sides as `t` gives them.
fn synced(t: &TaskRecord, todo: &TodoItem, rules: &TaskRules) -> Link {
    let mut l = Link::new(Kind::Task, "1", item_key(t.id));
    l.crm_id = Some(t.id);
    l.global_key = Some(todo_key("L", &todo.id));
    l.graph_version = todo.etag.clone();
    l.crm_hash = Some(Prints::of(&todo_fields(t, rules, &tz())).encode());
    l.graph_hash = Some(Prints::of(&todo.fields).encode());
    l
}

fn plan(d: Decision) -> SyncPlan {
    match d {
        Decision::Sync(p) => *p,
        other => panic!("not a sync: {other:?}"),
    }
}

#[test]
fn a_new_crm_task_is_created_in_todo() {
    let r = TaskRules::default();
    let c = TaskChange::Crm(crm());
    assert_eq!(triage(&c, None, &r, &tz(), "L"), None);
    let facts = Facts {
        crm: Some(crm()),
        todo: None,
        adopted_by: None,
    };
    match decide(&c, None, &facts, &r, &tz()) {
        Decision::Create { fields, reason } => {
            assert_eq!(fields.title, "Call back");
            assert!(reason.contains("due 2026-12-04"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_task_found_by_its_linked_resource_after_an_interruption_is_adopted() {
    let r = TaskRules::default();
    let mut todo = todo_of(&crm(), &r);
    todo.fields.title = "old".into();
    let mut link = Link::new(Kind::Task, "1", item_key(CrmId(7)));
    link.state = LinkState::Interrupted;
    link.crm_id = Some(CrmId(7));
    let facts = Facts {
        crm: Some(crm()),
        todo: Some(todo),
        adopted_by: None,
    };
    let p = plan(decide(
        &TaskChange::Crm(crm()),
        Some(&link),
        &facts,
        &r,
        &tz(),
    ));
    assert!(p.adopt);
    assert_eq!(p.pushed, vec!["title"]);
    assert!(p.to_crm.is_empty());
}

#[test]
fn an_unchanged_crm_task_is_settled_by_triage_unless_the_list_was_recreated() {
    let r = TaskRules::default();
    let todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    let c = TaskChange::Crm(crm());
    assert_eq!(
        triage(&c, Some(&link), &r, &tz(), "L"),
        Some(Decision::Unchanged)
    );
    assert_eq!(triage(&c, Some(&link), &r, &tz(), "L2"), None);
    let mut changed = crm();
    changed.subject = "Call back today".into();
    assert_eq!(
        triage(&TaskChange::Crm(changed), Some(&link), &r, &tz(), "L"),
        None
    );
    // Our own write echoed by the To Do delta.
    assert_eq!(
        triage(&TaskChange::Todo(todo), Some(&link), &r, &tz(), "L"),
        Some(Decision::Unchanged)
    );
}

#[test]
fn crm_changes_go_to_todo() {
    let r = TaskRules::default();
    let todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    let mut changed = crm();
    changed.subject = "Call back today".into();
    changed.priority = "High".into();
    let facts = Facts {
        crm: Some(changed.clone()),
        todo: Some(todo),
        adopted_by: None,
    };
    let p = plan(decide(
        &TaskChange::Crm(changed),
        Some(&link),
        &facts,
        &r,
        &tz(),
    ));
    assert!(!p.adopt);
    assert_eq!(p.pushed, vec!["title", "importance"]);
    assert_eq!(p.to_todo.unwrap().title, "Call back today");
    assert!(p.to_crm.is_empty());
}

#[test]
fn completing_in_todo_completes_the_crm_task() {
    let r = TaskRules::default();
    let mut todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    todo.fields.status = TodoStatus::Completed;
    todo.etag = Some("e2".into());
    let c = TaskChange::Todo(todo.clone());
    assert_eq!(triage(&c, Some(&link), &r, &tz(), "L"), None);
    let facts = Facts {
        crm: Some(crm()),
        todo: Some(todo),
        adopted_by: None,
    };
    let p = plan(decide(&c, Some(&link), &facts, &r, &tz()));
    assert_eq!(p.to_crm.status.as_deref(), Some("Completed"));
    assert_eq!(p.to_crm.percent_complete, Some(100));
    assert_eq!(p.pulled, vec!["status"]);
    assert!(p.to_todo.is_none());
    // What CRM holds afterwards gives To Do's fields: nothing flows back again.
    assert_eq!(
        todo_fields(&p.crm_after, &r, &tz()).status,
        TodoStatus::Completed
    );
}

#[test]
fn a_title_edit_in_todo_goes_back_only_both_ways_and_is_not_overwritten() {
    let mut r = TaskRules::default();
    let mut todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    todo.fields.title = "Call back (urgent)".into();
    todo.etag = Some("e2".into());
    let c = TaskChange::Todo(todo.clone());
    let facts = Facts {
        crm: Some(crm()),
        todo: Some(todo.clone()),
        adopted_by: None,
    };
    let p = plan(decide(&c, Some(&link), &facts, &r, &tz()));
    assert_eq!(p.kept, vec!["title"]);
    assert!(p.to_crm.is_empty() && p.to_todo.is_none());
    // The next sync (link now holds To Do's title) leaves the edit alone...
    let mut after = link.clone();
    after.graph_hash = Some(Prints::of(&todo.fields).encode());
    let p = plan(decide(
        &TaskChange::Crm(crm()),
        Some(&after),
        &facts,
        &r,
        &tz(),
    ));
    assert!(p.kept.is_empty() && p.pushed.is_empty(), "{p:?}");
    // ...and both ways it goes to CRM.
    r.direction = Direction::Both;
    let p = plan(decide(&c, Some(&link), &facts, &r, &tz()));
    assert_eq!(p.to_crm.subject.as_deref(), Some("Call back (urgent)"));
    assert_eq!(p.pulled, vec!["title"]);
}

#[test]
fn when_both_sides_changed_a_field_crm_wins() {
    let r = TaskRules {
        direction: Direction::Both,
        ..TaskRules::default()
    };
    let mut todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    todo.fields.title = "To Do title".into();
    let mut changed = crm();
    changed.subject = "CRM title".into();
    let facts = Facts {
        crm: Some(changed.clone()),
        todo: Some(todo),
        adopted_by: None,
    };
    let p = plan(decide(
        &TaskChange::Crm(changed),
        Some(&link),
        &facts,
        &r,
        &tz(),
    ));
    assert_eq!(p.to_todo.unwrap().title, "CRM title");
    assert!(p.to_crm.subject.is_none());
}

#[test]
fn deletions_both_ways_and_leaving_the_window() {
    let r = TaskRules::default();
    let todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    let removed = TaskChange::TodoRemoved {
        id: "T1".into(),
        crm_id: CrmId(7),
    };
    assert_eq!(triage(&removed, Some(&link), &r, &tz(), "L"), None);
    let facts = Facts {
        crm: Some(crm()),
        todo: None,
        adopted_by: None,
    };
    assert!(matches!(
        decide(&removed, Some(&link), &facts, &r, &tz()),
        Decision::MarkDeleted { .. }
    ));
    // The removal of an older To Do task of the same CRM task means nothing.
    let older = TaskChange::TodoRemoved {
        id: "T0".into(),
        crm_id: CrmId(7),
    };
    assert_eq!(
        triage(&older, Some(&link), &r, &tz(), "L"),
        Some(Decision::Unchanged)
    );
    let missing = TaskChange::CrmMissing { crm_id: CrmId(7) };
    let gone = Facts {
        crm: None,
        todo: Some(todo),
        adopted_by: None,
    };
    assert_eq!(
        decide(&missing, Some(&link), &gone, &r, &tz()),
        Decision::DeleteTodo {
            todo_id: Some("T1".into()),
            reason: "the CRM task was deleted in CRM (or marked deleted, or given to another rep): removed from the To Do list".into()
        }
    );
    assert!(matches!(
        decide(&missing, Some(&link), &facts, &r, &tz()),
        Decision::OutsideWindow { .. }
    ));
    let mut outside = link.clone();
    outside.crm_version = Some(OUTSIDE_WINDOW.into());
    assert_eq!(
        triage(&missing, Some(&outside), &r, &tz(), "L"),
        Some(Decision::Unchanged)
    );
    let mut deleted = link;
    deleted.state = LinkState::SoftDeleted;
    assert_eq!(
        triage(&TaskChange::Crm(crm()), Some(&deleted), &r, &tz(), "L"),
        Some(Decision::Unchanged)
    );
}

#[test]
fn a_todo_task_of_a_recreated_list_is_created_again() {
    let r = TaskRules::default();
    let todo = todo_of(&crm(), &r);
    let link = synced(&crm(), &todo, &r);
    let facts = Facts {
        crm: Some(crm()),
        todo: None,
        adopted_by: None,
    };
    match decide(&TaskChange::Crm(crm()), Some(&link), &facts, &r, &tz()) {
        Decision::Create { reason, .. } => assert!(reason.contains("again"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
