//! Carrying out a task decision, in the write order of ARCHITECTURE.md: the intent before a
//! To Do task is created (the task carries its CRM id in a linked resource, so a repeat finds
//! it instead of creating it twice), the writes, and the link and ledger entry the engine
//! commits. Updates in either direction are idempotent: a repeat writes the same values.

use gc_crm::TaskUpdate;
use gc_store::{LedgerAction, Link, LinkState};

use crate::adopt::AdoptedBy;
use crate::engine::cx::is_interrupted;
use crate::engine::{Applied, ItemCx, ItemOutcome};
use crate::error::PortError;
use crate::tasks::decide::{Decision, OUTSIDE_WINDOW, SyncPlan};
use crate::tasks::kind::{TaskRun, TasksKind};
use crate::tasks::map::todo_fields;
use crate::tasks::model::{TaskChange, TodoFields, TodoItem, todo_key, todo_list};
use crate::tasks::prints::Prints;

/// Apply `decision` for `change`.
pub async fn apply(
    k: &TasksKind,
    cx: &ItemCx<'_>,
    run: &TaskRun,
    change: &TaskChange,
    decision: Decision,
) -> Result<Applied, PortError> {
    let Some(crm_id) = change.crm_id() else {
        return Ok(Applied::unchanged());
    };
    match decision {
        Decision::Unchanged => Ok(Applied::unchanged()),
        Decision::Create { fields, reason } => {
            cx.intent(Some(crm_id)).await?;
            cx.check()?;
            let item = k
                .graph
                .create(cx.user(), &run.list, &fields, crm_id)
                .await?;
            cx.check()?;
            k.crm.ensure_key(cx.rep(), crm_id, &item.id).await?;
            let link = synced_link(cx, run, crm_id, &item, &fields);
            Ok(done(
                cx,
                link,
                ItemOutcome::Created,
                LedgerAction::Created,
                &reason,
            ))
        }
        Decision::Sync(plan) => sync(k, cx, run, *plan).await,
        Decision::DeleteTodo { todo_id, reason } => {
            let same_list = cx
                .link
                .is_none_or(|l| todo_list(l).is_none_or(|x| x == run.list));
            if let (Some(id), true) = (todo_id, same_list) {
                cx.check()?;
                k.graph.delete(cx.user(), &run.list, &id).await?;
            }
            let mut link = cx.link_or_new();
            link.crm_id = Some(crm_id);
            link.state = LinkState::SoftDeleted;
            link.crm_version = None;
            Ok(done(
                cx,
                link,
                ItemOutcome::Deleted,
                LedgerAction::Deleted,
                &reason,
            ))
        }
        Decision::MarkDeleted { reason } => {
            let reason = match k.crm.deleted_field() {
                Some(field) => {
                    cx.check()?;
                    k.crm
                        .update(
                            cx.rep(),
                            crm_id,
                            &TaskUpdate {
                                deleted: true,
                                ..TaskUpdate::default()
                            },
                        )
                        .await?;
                    format!(
                        "{reason}: the CRM task is marked deleted ({field}), never deleted; it is not sent to To Do again"
                    )
                }
                None => format!(
                    "{reason}: CRM is left as it is ([crm.dialect] task.deleted names no field to mark it); it is not sent to To Do again"
                ),
            };
            let mut link = cx.link_or_new();
            link.state = LinkState::SoftDeleted;
            Ok(done(
                cx,
                link,
                ItemOutcome::Deleted,
                LedgerAction::Deleted,
                &reason,
            ))
        }
        Decision::OutsideWindow { reason } => {
            let mut link = cx.link_or_new();
            link.crm_version = Some(OUTSIDE_WINDOW.into());
            Ok(done(
                cx,
                link,
                ItemOutcome::Skipped,
                LedgerAction::Skipped,
                &reason,
            ))
        }
    }
}

async fn sync(
    k: &TasksKind,
    cx: &ItemCx<'_>,
    run: &TaskRun,
    plan: SyncPlan,
) -> Result<Applied, PortError> {
    let crm_id = plan.crm_after.id;
    if !plan.to_crm.is_empty() {
        cx.check()?;
        k.crm.update(cx.rep(), crm_id, &plan.to_crm).await?;
    }
    let todo = match &plan.to_todo {
        Some(fields) => {
            cx.check()?;
            k.graph
                .update(cx.user(), &run.list, &plan.todo.id, fields)
                .await?
        }
        None => plan.todo.clone(),
    };
    if plan.adopt {
        cx.check()?;
        k.crm.ensure_key(cx.rep(), crm_id, &todo.id).await?;
    }
    if plan.adopted_by.is_some() {
        // The previous connector's task: our linked resource, so it is found by it next time.
        cx.check()?;
        k.graph
            .add_link(cx.user(), &run.list, &todo.id, crm_id)
            .await?;
    }
    let want = todo_fields(&plan.crm_after, &k.rules, &run.tz);
    // What To Do holds is the To Do side's base (a field kept in To Do stays kept).
    let link = synced_link(cx, run, crm_id, &todo, &want);
    let mut parts = Vec::new();
    if !plan.pushed.is_empty() {
        parts.push(format!("CRM → To Do: {}", plan.pushed.join(", ")));
    }
    if !plan.pulled.is_empty() {
        let mut text = format!("To Do → CRM: {}", plan.pulled.join(", "));
        if let Some(s) = &plan.to_crm.status {
            text.push_str(&format!(" (status {s:?}"));
            if let Some(p) = plan.to_crm.percent_complete {
                text.push_str(&format!(", {p}% complete"));
            }
            text.push(')');
        }
        parts.push(text);
    }
    if !plan.kept.is_empty() {
        parts.push(format!(
            "edited in To Do and not sent back ([tasks] direction = \"crm_to_microsoft365\"): {}",
            plan.kept.join(", ")
        ));
    }
    let (outcome, action, reason) = if plan.adopt {
        let mut r = match plan.adopted_by {
            Some(how) => format!(
                "adopted {how}: the task the previous connector wrote in the To Do list, given the CRM task's linked resource instead of a second task"
            ),
            None => "found in the To Do list by the CRM id in its linked resource: linked instead of created again".to_owned(),
        };
        if !parts.is_empty() {
            r.push_str("; ");
            r.push_str(&parts.join("; "));
        }
        (ItemOutcome::Adopted, LedgerAction::Adopted, r)
    } else if !plan.pushed.is_empty() || !plan.pulled.is_empty() {
        (
            ItemOutcome::Updated,
            LedgerAction::Updated,
            parts.join("; "),
        )
    } else if !plan.kept.is_empty() {
        (
            ItemOutcome::Skipped,
            LedgerAction::Skipped,
            parts.join("; "),
        )
    } else {
        // Both sides agree already (e.g. the echo of a write): remember the new versions.
        return Ok(Applied {
            link: Some(link),
            ..Applied::unchanged()
        });
    };
    let mut applied = done(cx, link, outcome, action, &reason);
    if plan.adopt {
        let how = plan.adopted_by.unwrap_or(if is_interrupted(cx.link) {
            AdoptedBy::Interrupted
        } else {
            AdoptedBy::CrmIdProperty
        });
        for e in &mut applied.ledger {
            e.detail = Some(serde_json::json!({
                "adopted_by": how.as_str(),
                "title": plan.todo.fields.title,
            }));
        }
    }
    Ok(applied)
}

/// The link of a CRM task whose To Do task is `todo`, synchronized with CRM fields `want`.
fn synced_link(
    cx: &ItemCx<'_>,
    run: &TaskRun,
    crm_id: gc_store::CrmId,
    todo: &TodoItem,
    want: &TodoFields,
) -> Link {
    let mut l = cx.link_or_new();
    l.crm_id = Some(crm_id);
    l.global_key = Some(todo_key(&run.list, &todo.id));
    l.graph_version = todo.etag.clone();
    l.graph_hash = Some(Prints::of(&todo.fields).encode());
    l.crm_hash = Some(Prints::of(want).encode());
    l.crm_version = None;
    l.state = LinkState::Active;
    l
}

fn done(
    cx: &ItemCx<'_>,
    link: Link,
    outcome: ItemOutcome,
    action: LedgerAction,
    reason: &str,
) -> Applied {
    let entry = cx.entry(link.crm_id, action, reason);
    Applied {
        outcome,
        link: Some(link),
        ledger: vec![entry],
        warnings: 0,
        failure: None,
    }
}
