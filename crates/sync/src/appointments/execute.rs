//! Carrying out a decision: the CRM writes in the crash-safe order (the intent before a write
//! that must be found again; the external key written with the appointment), and what the
//! engine commits.

use gc_store::{LedgerAction, Link, LinkState};

use crate::appointments::decide::Decision;
use crate::appointments::kind::AppointmentKind;
use crate::engine::progress::ItemOutcome;
use crate::engine::{Applied, ItemCx};
use crate::error::PortError;
use crate::ports::CreateOutcome;

fn applied(outcome: ItemOutcome, link: Option<Link>, entry: gc_store::NewLedgerEntry) -> Applied {
    Applied {
        outcome,
        link,
        ledger: vec![entry],
        warnings: 0,
        failure: None,
    }
}

/// Apply a decision.
pub async fn apply(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    decision: Decision,
) -> Result<Applied, PortError> {
    let rep = cx.rep();
    match decision {
        Decision::Nothing => Ok(Applied::unchanged()),
        Decision::Skip(reason) => Ok(Applied {
            failure: Some(reason.clone()),
            ..applied(
                ItemOutcome::Skipped,
                None,
                cx.entry(
                    cx.link.and_then(|l| l.crm_id),
                    LedgerAction::Skipped,
                    &reason,
                ),
            )
        }),
        Decision::Fail(reason) => Ok(crate::engine::item::failed(cx, &reason)),
        Decision::Create {
            plan,
            version,
            hash,
        } => {
            // Found again after a crash by its external key (written with it), or, when the
            // crash fell between the two, by rep, date, time and subject.
            cx.intent(None).await?;
            cx.check()?;
            let id = match kind.crm.create(rep, &plan).await? {
                CreateOutcome::Complete(id) => id,
                CreateOutcome::Partial { id, error } => {
                    // The appointment exists; the next attempt adopts and completes it.
                    cx.intent(Some(id)).await?;
                    return Err(PortError::transient(format!(
                        "the appointment {id} was written but not completed: {}",
                        error.message
                    )));
                }
            };
            let mut link = cx.active_link(id);
            link.graph_version = version;
            link.graph_hash = Some(hash);
            let mut entry = cx.entry(
                Some(id),
                LedgerAction::Created,
                &format!(
                    "new event in Microsoft 365: appointment written with {} participant(s)",
                    plan.participants.len()
                ),
            );
            entry.detail = Some(serde_json::json!({ "iCalUId": plan.key }));
            Ok(applied(ItemOutcome::Created, Some(link), entry))
        }
        Decision::Sync {
            id,
            fields,
            add,
            add_key,
            version,
            hash,
            reason,
            adopted,
        } => {
            if !fields.is_empty() {
                cx.check()?;
                kind.crm.update(rep, id, &fields).await?;
            }
            if !add.is_empty() {
                cx.check()?;
                kind.crm.add_participants(rep, id, &add).await?;
            }
            if let Some((key, mailbox)) = &add_key {
                cx.check()?;
                kind.crm.add_key(rep, id, key, mailbox).await?;
            }
            let mut link = cx.active_link(id);
            link.graph_version = version;
            link.graph_hash = Some(hash);
            link.crm_version = cx.link.and_then(|l| l.crm_version.clone());
            link.crm_hash = cx.link.and_then(|l| l.crm_hash.clone());
            let (outcome, action) = match (adopted, fields.is_empty() && add.is_empty()) {
                (true, _) => (ItemOutcome::Adopted, LedgerAction::Adopted),
                (false, false) => (ItemOutcome::Updated, LedgerAction::Updated),
                (false, true) => {
                    // Nothing written: remember the new version without a ledger line.
                    return Ok(Applied {
                        link: Some(link),
                        ..Applied::unchanged()
                    });
                }
            };
            let mut entry = cx.entry(Some(id), action, &reason);
            if !fields.is_empty() || !add.is_empty() {
                entry.detail = Some(serde_json::json!({
                    "fields": fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                    "participants_added": add.iter().map(|m| &m.email).collect::<Vec<_>>(),
                }));
            }
            Ok(applied(outcome, Some(link), entry))
        }
        Decision::SoftDelete { id, reason } => {
            cx.check()?;
            kind.crm.soft_delete(rep, id).await?;
            let mut link = cx.link_or_new();
            link.crm_id = Some(id);
            link.state = LinkState::SoftDeleted;
            Ok(applied(
                ItemOutcome::Deleted,
                Some(link),
                cx.entry(Some(id), LedgerAction::Deleted, &reason),
            ))
        }
        Decision::CloseLink { id, reason } => {
            let mut link = cx.link_or_new();
            link.crm_id = id.or(link.crm_id);
            link.state = LinkState::SoftDeleted;
            let entry = cx.entry(link.crm_id, LedgerAction::Skipped, &reason);
            Ok(applied(ItemOutcome::Skipped, Some(link), entry))
        }
    }
}
