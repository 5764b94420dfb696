//! Carrying out a decision: the CRM writes in the crash-safe order (the intent before a write
//! that must be found again; the external key written with the appointment), and what the
//! engine commits.

use gc_store::{LedgerAction, Link, LinkState};

use crate::appointments::adapters::CRM_ID_PROPERTY;
use crate::appointments::content;
use crate::appointments::decide::Decision;
use crate::appointments::decide_crm::EventWrite;
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
            crm_hash,
        } => {
            // Found again after a crash by its external key (written with it), or, when the
            // crash fell between the two, by rep, date, time and subject.
            // The intent keeps what is written: a CRM edit of the record before the next
            // attempt adopts it is then told from the write itself.
            cx.intent_writing(None, Some(&crm_hash)).await?;
            cx.check()?;
            let id = match kind.crm.create(rep, &plan).await? {
                CreateOutcome::Complete(id) => id,
                CreateOutcome::Partial { id, error } => {
                    // The appointment exists; the next attempt adopts and completes it.
                    cx.intent_writing(Some(id), Some(&crm_hash)).await?;
                    return Err(PortError::transient(format!(
                        "the appointment {id} was written but not completed: {}",
                        error.message
                    )));
                }
            };
            let mut link = cx.active_link(id);
            link.graph_version = version;
            link.graph_hash = Some(hash);
            link.crm_hash = Some(crm_hash);
            // CRM's stamp is not known until the CRM side reads it; an empty one still makes
            // the link the CRM side's to reconcile (a physical deletion in CRM is found).
            link.crm_version = Some(String::new());
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
            adopted_by,
            crm_hash,
            conflict,
        } => {
            if let Some(c) = &conflict {
                keep_losing_version(cx, id, c).await?;
            }
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
            link.crm_version = match cx.link {
                Some(l) if l.crm_id == Some(id) => l.crm_version.clone(),
                _ => Some(String::new()),
            };
            link.crm_hash = crm_hash.or_else(|| cx.link.and_then(|l| l.crm_hash.clone()));
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
            if !fields.is_empty() || !add.is_empty() || conflict.is_some() || adopted {
                let mut detail = serde_json::json!({
                    "fields": fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                    "participants_added": add.iter().map(|m| &m.email).collect::<Vec<_>>(),
                });
                if let Some(c) = conflict {
                    detail["conflict"] = c["conflict"].clone();
                }
                if let (true, Some(how)) = (adopted, adopted_by) {
                    detail["adopted_by"] = how.as_str().into();
                }
                entry.detail = Some(detail);
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
        Decision::WriteEvent(w) => write_event(kind, cx, *w).await,
        Decision::DeleteEvent {
            event_id,
            crm_id,
            reason,
        } => {
            cx.check()?;
            kind.graph.delete_event(cx.user(), &event_id).await?;
            let mut link = cx.link_or_new();
            link.crm_id = crm_id.or(link.crm_id);
            link.state = LinkState::SoftDeleted;
            Ok(applied(
                ItemOutcome::Deleted,
                Some(link),
                cx.entry(crm_id, LedgerAction::Deleted, &reason),
            ))
        }
        Decision::Confirm { graph_hash, key } => {
            let mut link = cx.link_or_new();
            if let (Some(k), Some(crm_id)) = (&key, link.crm_id) {
                ensure_key(kind, cx, crm_id, k).await?;
            }
            link.graph_hash = Some(graph_hash);
            Ok(Applied {
                link: Some(link),
                ..Applied::unchanged()
            })
        }
        Decision::Remember {
            crm_hash,
            crm_version,
            reason,
        } => {
            let mut link = cx.link_or_new();
            link.crm_hash = crm_hash;
            link.crm_version = crm_version;
            match reason {
                None => Ok(Applied {
                    link: Some(link),
                    ..Applied::unchanged()
                }),
                Some(reason) => {
                    let entry = cx.entry(link.crm_id, LedgerAction::Skipped, &reason);
                    Ok(applied(ItemOutcome::Skipped, Some(link), entry))
                }
            }
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

/// Write a CRM appointment into the rep's calendar. A new event is created without attendees
/// and carries the appointment's id in its CrmId property; it is linked at once (unconfirmed:
/// no event hash, so the next run compares and completes it); the meeting's key (`iCalUId`) goes
/// into CRM's external keys before anyone is invited, so an attendee's copy is always known
/// as this appointment and never becomes a second one. A crash between the create and that
/// first link is harmless too: the next run finds the event by its CrmId property and adopts
/// it.
async fn write_event(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    w: EventWrite,
) -> Result<Applied, PortError> {
    let user = cx.user();
    cx.check()?;
    if let Some(c) = &w.conflict {
        keep_losing_version(cx, w.crm_id, c).await?;
    }
    let (mut ev, action, outcome) = match &w.event_id {
        None => {
            let mut body = w.body.clone();
            body["singleValueExtendedProperties"] = serde_json::json!([
                {"id": CRM_ID_PROPERTY, "value": w.crm_id.to_string()}
            ]);
            let ev = kind.graph.create_event(user, &body).await?;
            // Linked at once: if the run dies now and the user deletes the event before the
            // next run, the deletion is seen as one (instead of writing the event again).
            let mut early = gc_store::Link::new(cx.kind, cx.mailbox(), ev.id.clone());
            early.global_key = ev.ical_uid.clone();
            early.crm_id = Some(w.crm_id);
            early.graph_version = ev.change_key.clone();
            early.crm_hash = Some(w.crm_hash.clone());
            early.crm_version = w.crm_version.clone();
            cx.store
                .upsert_link(&early, &cx.fences())
                .await
                .map_err(crate::error::store_error)?;
            (ev, LedgerAction::Created, ItemOutcome::Created)
        }
        Some(id) => {
            let ev = if w.body.is_null() {
                kind.graph.event(user, id).await?
            } else {
                kind.graph.update_event(user, id, &w.body).await?
            };
            let Some(ev) = ev else {
                // Deleted meanwhile: the calendar side reports the removal next.
                return Err(PortError::transient(format!(
                    "the event {id} disappeared while it was being written"
                )));
            };
            let (action, outcome) = if w.adopted {
                (LedgerAction::Adopted, ItemOutcome::Adopted)
            } else {
                (LedgerAction::Updated, ItemOutcome::Updated)
            };
            (ev, action, outcome)
        }
    };
    let series_key = cx
        .global_key
        .or_else(|| cx.link.and_then(|l| l.global_key.as_deref()));
    let key = crate::appointments::decide::meeting_key(&ev, series_key);
    if let Some(k) = &key {
        ensure_key(kind, cx, w.crm_id, k).await?;
    }
    if !w.invite.is_empty() {
        let mut attendees: Vec<serde_json::Value> = ev
            .attendees
            .iter()
            .map(|a| {
                serde_json::json!({
                    "type": match a.role {
                        gc_crm::ParticipantRole::Optional => "optional",
                        gc_crm::ParticipantRole::Informational => "resource",
                        _ => "required",
                    },
                    "emailAddress": {"address": a.email},
                })
            })
            .collect();
        attendees.extend(
            w.invite
                .iter()
                .map(|a| serde_json::json!({"type": "required", "emailAddress": {"address": a}})),
        );
        cx.check()?;
        if let Some(e) = kind
            .graph
            .update_event(user, &ev.id, &serde_json::json!({ "attendees": attendees }))
            .await?
        {
            ev = e;
        }
    }
    if cx.item.starts_with("crm:") {
        // The item was worked under its CRM key; from now on it is the event's.
        cx.store
            .delete_link(cx.kind, cx.mailbox(), cx.item)
            .await
            .map_err(crate::error::store_error)?;
    }
    let mut link = gc_store::Link::new(cx.kind, cx.mailbox(), ev.id.clone());
    link.global_key = key.or_else(|| cx.global_key.map(str::to_owned));
    link.crm_id = Some(w.crm_id);
    link.graph_version = ev.change_key.clone();
    // A new event stays unconfirmed (no hash) until the calendar reports it: a calendar
    // delta need not report the removal of an event it never reported, so until then the
    // CRM side checks that it still exists.
    // Only the calendar confirms an event (by reporting it; `Decision::Confirm`): a delta
    // that never reported an event would not report its removal either, so until then the
    // run reads it by id (`crm_source::settle`). A write keeps a confirmed link confirmed;
    // an event adopted by its CrmId property (written by a run cut off before its calendar
    // walk) stays unconfirmed; one adopted by content match is the previous connector's,
    // reported long ago.
    let confirmed = match cx.link {
        Some(l) if l.state == LinkState::Active && l.crm_id.is_some() => l.graph_hash.is_some(),
        _ => w.adopted_by == Some(crate::adopt::AdoptedBy::ContentMatch),
    };
    link.graph_hash = (w.event_id.is_some() && confirmed).then(|| content::event_hash(&ev));
    link.crm_hash = Some(w.crm_hash);
    link.crm_version = w.crm_version;
    let mut entry = cx.entry(Some(w.crm_id), action, &w.reason);
    let mut detail = serde_json::json!({
        "direction": "crm_to_microsoft365",
        "eventId": ev.id,
        "iCalUId": ev.ical_uid,
        "invited": w.invite,
    });
    if let Some(c) = w.conflict {
        detail["conflict"] = c["conflict"].clone();
    }
    if let (true, Some(how)) = (w.adopted, w.adopted_by) {
        detail["adopted_by"] = how.as_str().into();
    }
    entry.detail = Some(detail);
    Ok(applied(outcome, Some(link), entry))
}

/// Write the meeting key `key` into CRM's external keys for the appointment `crm_id`,
/// unless CRM has it already (a repeated write, or another mailbox's copy, wrote it).
async fn ensure_key(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    crm_id: gc_store::CrmId,
    key: &str,
) -> Result<(), PortError> {
    if kind.crm.find_by_key(cx.rep(), key).await?.is_some() {
        return Ok(());
    }
    cx.check()?;
    let owner = cx.target.owner.email.to_ascii_lowercase();
    kind.crm.add_key(cx.rep(), crm_id, key, &owner).await
}

/// Before the winning side overwrites the other in a conflict, the losing version goes into
/// the ledger on its own: a run that dies after the overwrite and before its commit must not
/// take the only record of it along.
async fn keep_losing_version(
    cx: &ItemCx<'_>,
    crm_id: gc_store::CrmId,
    conflict: &serde_json::Value,
) -> Result<(), PortError> {
    let mut entry = cx.entry(
        Some(crm_id),
        LedgerAction::Updated,
        "both sides changed since the last sync: the losing version is kept here before it is overwritten",
    );
    entry.detail = Some(serde_json::json!({ "conflict": conflict["conflict"].clone() }));
    cx.check()?;
    cx.store
        .record_ledger(&entry)
        .await
        .map(|_| ())
        .map_err(crate::error::store_error)
}
