//! The task kind's rules (pure): what a change means, given the stored link, the CRM task
//! and the To Do task as they are now.
//!
//! Whichever source brought the change, the decision compares both sides with what was last
//! synchronized ([`Prints`], per field and per side): CRM changes go to To Do (CRM wins when
//! both sides changed a field); status changes in To Do go back to CRM, title and date
//! changes only with `direction = "both"`; other To Do edits stay in To Do. A task deleted in
//! CRM (or given to another rep) is deleted in To Do; a task deleted in To Do is marked in
//! CRM, never deleted; a CRM task that only left the window stays in To Do.

use gc_crm::{TaskRecord, TaskUpdate};
use gc_store::{Link, LinkState};
use jiff::tz::TimeZone;

use crate::adopt::AdoptedBy;
use crate::engine::cx::is_interrupted;
use crate::tasks::map::{percent_for, status_to_crm, todo_fields, updated};
use crate::tasks::model::{TaskChange, TodoFields, TodoItem, todo_id, todo_list};
use crate::tasks::prints::{Field, Prints};
use crate::tasks::rules::{Direction, TaskRules};

/// The link's `crm_version` of a task that left the window (so that the next full walks do
/// not record it again).
pub const OUTSIDE_WINDOW: &str = "outside-window";

/// What to do with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// In sync already; nothing to write or record.
    Unchanged,
    /// Create the To Do task.
    Create {
        /// What it gets.
        fields: TodoFields,
        /// Why (ledger).
        reason: String,
    },
    /// Bring an existing To Do task and its CRM task together (either or both writes).
    Sync(Box<SyncPlan>),
    /// The CRM task is gone for this rep: delete its To Do task (if there is one).
    DeleteTodo {
        /// The To Do task.
        todo_id: Option<String>,
        /// Why (ledger).
        reason: String,
    },
    /// The To Do task was deleted: mark the CRM task (never delete it).
    MarkDeleted {
        /// Why (ledger).
        reason: String,
    },
    /// The CRM task left the window: kept in To Do, recorded once.
    OutsideWindow {
        /// Why (ledger).
        reason: String,
    },
}

/// The writes that bring a linked (or adopted) To Do task and its CRM task together.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    /// The To Do task as read.
    pub todo: TodoItem,
    /// Found by its linked resource, not through the link: record the link (and the
    /// external key) anew.
    pub adopt: bool,
    /// Adopted without a linked resource of ours (see [`Facts::adopted_by`]): the task gets
    /// one.
    pub adopted_by: Option<AdoptedBy>,
    /// What goes into CRM (empty: nothing).
    pub to_crm: TaskUpdate,
    /// The CRM task after `to_crm`.
    pub crm_after: TaskRecord,
    /// What the To Do task gets (`None`: nothing to write).
    pub to_todo: Option<TodoFields>,
    /// Fields edited in To Do that are not written back (direction one way).
    pub kept: Vec<&'static str>,
    /// Fields written to To Do.
    pub pushed: Vec<&'static str>,
    /// Fields written to CRM.
    pub pulled: Vec<&'static str>,
}

/// What gather found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The CRM task, when it exists, is not marked deleted and is still this rep's.
    pub crm: Option<TaskRecord>,
    /// The To Do task in the list (by the link, or by its linked resource, or adopted).
    pub todo: Option<TodoItem>,
    /// How `todo` was adopted when it carries no linked resource of ours (a task the
    /// previous connector wrote, found by content).
    pub adopted_by: Option<AdoptedBy>,
}

/// The decision that needs no reads: already in sync, or none of this kind's business.
pub fn triage(
    change: &TaskChange,
    link: Option<&Link>,
    rules: &TaskRules,
    tz: &TimeZone,
    list: &str,
) -> Option<Decision> {
    let active = link.filter(|l| l.state == LinkState::Active);
    match change {
        TaskChange::Crm(t) => {
            let l = link?;
            if l.state == LinkState::SoftDeleted {
                // Deleted in To Do (and marked in CRM where the dialect allows): not again.
                return Some(Decision::Unchanged);
            }
            let same = l.state == LinkState::Active
                && l.crm_version.as_deref() != Some(OUTSIDE_WINDOW)
                && Prints::decode(l.crm_hash.as_deref())
                    .is_some_and(|p| p == Prints::of(&todo_fields(t, rules, tz)));
            // A link into another list: its To Do task went with a deleted list.
            (same && todo_list(l) == Some(list)).then_some(Decision::Unchanged)
        }
        TaskChange::CrmMissing { .. } => {
            let l = link?;
            let settled = l.state == LinkState::SoftDeleted
                || l.crm_version.as_deref() == Some(OUTSIDE_WINDOW);
            settled.then_some(Decision::Unchanged)
        }
        TaskChange::Todo(item) => match active {
            Some(l) if todo_id(l) == Some(item.id.as_str()) => {
                (item.etag.is_some() && item.etag == l.graph_version).then_some(Decision::Unchanged)
            }
            // Not linked (the CRM source adopts a task it finds by its linked resource), or
            // an older To Do task of the same CRM task.
            _ => Some(Decision::Unchanged),
        },
        TaskChange::TodoRemoved { id, .. } => match active {
            Some(l) if todo_id(l) == Some(id.as_str()) => None,
            _ => Some(Decision::Unchanged),
        },
    }
}

/// The decision from the change, the link and the facts.
pub fn decide(
    change: &TaskChange,
    link: Option<&Link>,
    facts: &Facts,
    rules: &TaskRules,
    tz: &TimeZone,
) -> Decision {
    let linked_todo = link.and_then(todo_id).map(str::to_owned);
    let Some(crm) = &facts.crm else {
        if matches!(change, TaskChange::Crm(_)) {
            // Read from the window a moment ago: it cannot be gone; let the next run tell.
            return Decision::Unchanged;
        }
        let todo = facts.todo.as_ref().map(|t| t.id.clone()).or(linked_todo);
        return Decision::DeleteTodo {
            todo_id: todo,
            reason: "the CRM task was deleted in CRM (or marked deleted, or given to another rep): removed from the To Do list".into(),
        };
    };
    if let TaskChange::TodoRemoved { .. } = change {
        return Decision::MarkDeleted {
            reason: "the task was deleted in Microsoft To Do".into(),
        };
    }
    if let TaskChange::CrmMissing { .. } = change {
        return Decision::OutsideWindow {
            reason: format!(
                "the CRM task left the window ({}): kept in To Do, leaving the window is not a deletion",
                crm.due_date
                    .or(crm.start_date)
                    .map_or_else(|| "no due or start date".to_owned(), |d| format!("due {d}"))
            ),
        };
    }
    let want = todo_fields(crm, rules, tz);
    let Some(todo) = &facts.todo else {
        let reason = if linked_todo.is_some() {
            format!(
                "created again in the To Do list \"{}\": its To Do task is gone with the list it was in",
                rules.list_name
            )
        } else {
            format!(
                "created in the To Do list \"{}\" from the CRM task{}",
                rules.list_name,
                want.due.map(|d| format!(" due {d}")).unwrap_or_default()
            )
        };
        return Decision::Create {
            fields: want,
            reason,
        };
    };
    let adopt = is_interrupted(link)
        || link.is_none_or(|l| l.state != LinkState::Active)
        || linked_todo.as_deref() != Some(todo.id.as_str());
    let bases = link
        .filter(|_| !adopt)
        .map(|l| {
            (
                Prints::decode(l.crm_hash.as_deref()),
                Prints::decode(l.graph_hash.as_deref()),
            )
        })
        .unwrap_or((None, None));
    let mut plan = merge(todo, crm, &want, bases, adopt, rules);
    plan.adopted_by = facts.adopted_by.filter(|_| adopt);
    Decision::Sync(Box::new(plan))
}

/// Per field: who changed it since the last sync, and so which way it flows.
fn merge(
    todo: &TodoItem,
    crm: &TaskRecord,
    want: &TodoFields,
    (crm_base, todo_base): (Option<Prints>, Option<Prints>),
    adopt: bool,
    rules: &TaskRules,
) -> SyncPlan {
    let both = rules.direction == Direction::Both;
    let mut out = todo.fields.clone();
    let mut to_crm = TaskUpdate::default();
    let (mut kept, mut pushed, mut pulled) = (Vec::new(), Vec::new(), Vec::new());
    for f in Field::ALL {
        let differs = Prints::of(want).differs(f, &todo.fields);
        if !differs {
            continue;
        }
        // Without a base (adoption, an older link) CRM counts as changed: CRM is the source.
        let crm_changed = crm_base.as_ref().is_none_or(|b| b.differs(f, want));
        let todo_changed = todo_base
            .as_ref()
            .is_some_and(|b| b.differs(f, &todo.fields));
        let goes_back = match f {
            Field::Status => true,
            Field::Title => both && !todo.fields.title.trim().is_empty(),
            Field::Due | Field::Start => both,
            _ => false,
        };
        if crm_changed {
            set(&mut out, want, f);
            pushed.push(f.name());
        } else if todo_changed && goes_back {
            pull(&mut to_crm, &todo.fields, crm, f, rules);
            pulled.push(f.name());
        } else if todo_changed {
            kept.push(f.name());
        }
        // Neither changed it: a difference kept earlier (a one-way field edited in To Do)
        // stays until CRM changes the field.
    }
    let crm_after = updated(crm, &to_crm);
    SyncPlan {
        todo: todo.clone(),
        adopt,
        adopted_by: None,
        to_crm,
        crm_after,
        to_todo: (!pushed.is_empty()).then_some(out),
        kept,
        pushed,
        pulled,
    }
}

fn set(out: &mut TodoFields, want: &TodoFields, f: Field) {
    match f {
        Field::Title => out.title = want.title.clone(),
        Field::Body => out.body = want.body.clone(),
        Field::Due => out.due = want.due,
        Field::Start => out.start = want.start,
        Field::Reminder => out.reminder = want.reminder,
        Field::Importance => out.importance = want.importance,
        Field::Status => out.status = want.status,
    }
}

fn pull(u: &mut TaskUpdate, todo: &TodoFields, crm: &TaskRecord, f: Field, rules: &TaskRules) {
    match f {
        Field::Status => {
            u.status = Some(status_to_crm(todo.status, rules).to_owned());
            u.percent_complete = percent_for(todo.status, crm.percent_complete);
        }
        Field::Title => u.subject = Some(todo.title.clone()),
        Field::Due => u.due_date = Some(todo.due),
        Field::Start => u.start_date = Some(todo.start),
        _ => {}
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
