//! Intents: what a write that must be found again after a crash records before it is made, so
//! that the next run of this mailbox, and the runs of other mailboxes, can tell a write that
//! may have happened from one that never did.
//!
//! - **An event written from CRM** ([`CreateIntent`]): right before the create request goes
//!   out (after every wait of the request layer), the CRM item's link becomes an intent
//!   (`crm:<id>`, [`LinkState::Interrupted`], the appointment's id); it is withdrawn when
//!   Graph answers that it did not carry the request out. The next attempt that finds the
//!   intent looks for the event by its CrmId property: found, it is adopted; gone, the user
//!   deleted it before any run linked it, and that is a deletion in Microsoft 365 (never a
//!   reason to write the event again). The body's `transactionId` makes a repeated attempt
//!   return the event the first one created.
//! - **An appointment written from a calendar** ([`pending_link`]): before the CRM insert, a
//!   record under a key made of what CRM will hold (rep, date, time, subject: [`write_key`]);
//!   until the external key is in CRM the appointment can only be told by those. The CRM side
//!   of any mailbox that meets an appointment without external key and without link looks
//!   the key up ([`holds`]): while the calendar write that announced it is unresolved (its
//!   mailbox's link still an intent), no event is written for that appointment; the copy of
//!   the meeting in that calendar adopts it instead (see `gather`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use gc_crm::Dialect;
use gc_store::{CrmId, Kind, LeaseFence, Link, LinkState, StateStore};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::engine::ItemCx;
use crate::error::{ErrorClass, PortError, store_error};

/// Prefix of the item key of a pending calendar write's record (see [`pending_link`]).
pub const PENDING: &str = "pending:";

/// Whether `link` is the intent of an event create from CRM: a create that may have reached
/// Graph and whose answer never arrived.
pub fn is_create_intent(link: Option<&Link>) -> bool {
    link.is_some_and(|l| {
        l.state == LinkState::Interrupted && l.crm_id.is_some() && l.graph_id.starts_with("crm:")
    })
}

/// The `transactionId` of the event written for appointment `crm_id` in `mailbox`: the same
/// for every attempt, so that a repeated create returns the event the first one made.
pub fn transaction_id(mailbox: &str, crm_id: CrmId) -> String {
    let digest = Sha256::digest(format!("{mailbox}/{crm_id}").as_bytes());
    format!("gc-appointment-{crm_id}-{}", hex::encode(&digest[..6]))
}

/// The key of a new appointment's record before its external key exists: rep, date, time and
/// subject as CRM holds them (normalized, hashed). `None` without a date or a subject.
pub fn write_key(fields: &BTreeMap<String, String>, dl: &Dialect) -> Option<String> {
    let a = &dl.activity;
    let get = |name: &str| fields.get(name).map_or("", |v| v.trim());
    let subject = get(&a.subject);
    let date = dl.parse_date(get(&a.date))?;
    if subject.is_empty() {
        return None;
    }
    let time = dl
        .parse_time(get(&a.time))
        .map(|t| t.strftime("%H:%M").to_string())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{}|{date}|{time}|{subject}", get(&a.rep_id)).as_bytes());
    Some(format!("write:{}", hex::encode(&digest[..16])))
}

/// The record a calendar-side write of a new appointment leaves before the CRM insert, found
/// by [`write_key`] from the other mailboxes.
pub fn pending_link(mailbox: &str, item: &str, key: String) -> Link {
    let mut l = Link::new(Kind::Appointment, mailbox, format!("{PENDING}{item}"));
    l.global_key = Some(key);
    l.state = LinkState::Interrupted;
    l
}

/// Whether a pending record still holds its appointment: the write that left it is
/// unresolved (its item's link is still an intent). Pure: the caller reads that link.
pub fn still_pending(item_link: Option<&Link>) -> bool {
    item_link.is_some_and(|l| l.state == LinkState::Interrupted)
}

/// Whether an unresolved calendar-side write of any mailbox may have made the appointment
/// with these fields (read from CRM, without external key): its record is found by
/// [`write_key`] and the write's intent is still there.
pub async fn holds(
    store: &Arc<dyn StateStore>,
    fields: &BTreeMap<String, String>,
    dl: &Dialect,
) -> Result<bool, PortError> {
    let Some(key) = write_key(fields, dl) else {
        return Ok(false);
    };
    let pending = store
        .links_by_global_key(Kind::Appointment, &key)
        .await
        .map_err(store_error)?;
    for p in pending {
        let Some(item) = p.graph_id.strip_prefix(PENDING) else {
            continue;
        };
        let link = store
            .get_link(Kind::Appointment, &p.mailbox, item)
            .await
            .map_err(store_error)?;
        if still_pending(link.as_ref()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The intent of an event create from CRM, written by the request layer right before the
/// request goes out (see [`gc_graph::Announce`]) and withdrawn when Graph did not carry it
/// out.
pub struct CreateIntent {
    store: Arc<dyn StateStore>,
    fences: Vec<LeaseFence>,
    cancel: CancellationToken,
    /// The intent.
    intent: Link,
    /// What the item's link is when no create is under way.
    withdrawn: Link,
    /// Why writing the intent failed (the request was then not sent).
    error: Mutex<Option<PortError>>,
}

impl CreateIntent {
    /// The intent of creating the event of appointment `crm_id` for the item of `cx`.
    pub fn new(cx: &ItemCx<'_>, crm_id: CrmId) -> Self {
        let mut intent = cx.link_or_new();
        intent.crm_id = Some(crm_id);
        intent.state = LinkState::Interrupted;
        let withdrawn = cx.link.cloned().unwrap_or_else(|| {
            let mut l = Link::new(cx.kind, cx.mailbox(), cx.item);
            l.global_key = cx.global_key.map(str::to_owned);
            l
        });
        CreateIntent {
            store: cx.store.clone(),
            fences: cx.fences(),
            cancel: cx.cancel.clone(),
            intent,
            withdrawn,
            error: Mutex::new(None),
        }
    }

    /// Why the request was not sent, when writing the intent failed.
    pub fn take_error(&self) -> Option<PortError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    fn keep(&self, e: PortError) -> String {
        let message = e.message.clone();
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(e);
        }
        message
    }
}

impl gc_graph::Announce for CreateIntent {
    fn sending(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.cancel.is_cancelled() {
                return Err(self.keep(PortError::new(
                    ErrorClass::Cancelled,
                    "the run was called off before the event was written",
                )));
            }
            self.store
                .upsert_link(&self.intent, &self.fences)
                .await
                .map_err(|e| self.keep(store_error(e)))
        })
    }

    fn not_sent(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.store.upsert_link(&self.withdrawn, &self.fences).await {
                // The intent stays: the next attempt looks for an event that is not there
                // and takes it for deleted; logged so that it can be told apart.
                tracing::warn!(mailbox = %self.intent.mailbox, item = %self.intent.graph_id, error = %e, "cannot withdraw the intent of an event create Graph did not carry out");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields(subject: &str, date: &str, time: &str) -> BTreeMap<String, String> {
        let a = Dialect::default().activity;
        [
            (a.subject, subject.to_owned()),
            (a.date, date.to_owned()),
            (a.time, time.to_owned()),
            (a.rep_id, "42".to_owned()),
        ]
        .into()
    }

    #[test]
    fn the_write_key_is_what_crm_holds_normalized() {
        let dl = Dialect::default();
        let k = write_key(&fields("Review", "2026-05-04", "08:00"), &dl).unwrap();
        assert!(k.starts_with("write:"));
        // As CRM gives it back: surrounding blanks, seconds.
        assert_eq!(
            write_key(&fields(" Review ", "2026-05-04", "08:00:00"), &dl),
            Some(k.clone())
        );
        assert_ne!(
            write_key(&fields("Review", "2026-05-04", "09:00"), &dl),
            Some(k.clone())
        );
        assert_ne!(
            write_key(&fields("Other", "2026-05-04", "08:00"), &dl),
            Some(k)
        );
        // All day: no time.
        assert!(write_key(&fields("Review", "2026-05-04", ""), &dl).is_some());
        assert_eq!(write_key(&fields("", "2026-05-04", "08:00"), &dl), None);
        assert_eq!(write_key(&fields("Review", "", "08:00"), &dl), None);
    }

    #[test]
    fn a_create_intent_is_an_interrupted_crm_item_with_its_appointment() {
        let mut l = Link::new(Kind::Appointment, "7", "crm:5");
        assert!(!is_create_intent(Some(&l)));
        l.state = LinkState::Interrupted;
        assert!(!is_create_intent(Some(&l)), "no appointment id");
        l.crm_id = Some(CrmId(5));
        assert!(is_create_intent(Some(&l)));
        // A calendar-side intent (an event's write to CRM) is not one.
        let mut e = l.clone();
        e.graph_id = "AAMk-event".into();
        assert!(!is_create_intent(Some(&e)));
        assert!(!is_create_intent(None));
    }

    #[test]
    fn transaction_ids_are_stable_per_mailbox_and_appointment() {
        let a = transaction_id("7", CrmId(5));
        assert_eq!(a, transaction_id("7", CrmId(5)));
        assert_ne!(a, transaction_id("8", CrmId(5)));
        assert_ne!(a, transaction_id("7", CrmId(6)));
    }

    #[test]
    fn a_pending_record_holds_only_while_its_write_is_unresolved() {
        let p = pending_link("7", "AAMk-event", "write:ab".into());
        assert_eq!(p.graph_id, "pending:AAMk-event");
        let mut item = Link::new(Kind::Appointment, "7", "AAMk-event");
        assert!(!still_pending(None), "never written, or given up");
        assert!(!still_pending(Some(&item)), "completed");
        item.state = LinkState::Interrupted;
        assert!(still_pending(Some(&item)));
    }
}
