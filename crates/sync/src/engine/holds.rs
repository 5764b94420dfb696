//! Mailboxes and kinds waiting for the administrator: the first-sync review (`[mailboxes]
//! confirm_first_sync_above`) and the mass-delete guard ([`super::guard`]).
//!
//! A hold is kept in the store per mailbox and kind (`resolved_names`, name `hold`, a JSON
//! value), so every process sharing the store sees it: while it waits, no run of that
//! mailbox and kind writes anything. `graph-connector confirm` and the admin page's button
//! mark it confirmed (with who asked, in the ledger); the next run then does what was held
//! and, once it completes, the hold is gone.

use gc_store::{Kind, LedgerAction, NewLedgerEntry, StateStore};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::engine::kept::Kept;
use crate::error::{PortError, store_error};

/// The store's name for a hold.
pub const HOLD: &str = "hold";

/// The ledger's item key for hold and confirmation entries (they are about a mailbox and
/// kind, not one item).
pub const HOLD_ITEM: &str = "(mailbox)";

/// Why a mailbox and kind waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// Its first sync would create more than `[mailboxes] confirm_first_sync_above` records,
    /// or delete some.
    FirstSync,
    /// A run would have deleted too much (`[errors] max_delete_fraction`) or found a side
    /// empty.
    MassDelete,
}

impl HoldReason {
    /// In words.
    pub fn text(self) -> &'static str {
        match self {
            HoldReason::FirstSync => "first sync waits for review",
            HoldReason::MassDelete => "mass-delete guard",
        }
    }
}

/// A hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// Why.
    pub reason: HoldReason,
    /// What was held, in words.
    pub summary: String,
    /// When it was held.
    pub since: Timestamp,
    /// The plan that was held (the first-sync review's plan, or the guard's counts and
    /// examples), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<serde_json::Value>,
    /// Who confirmed it, once confirmed: the next run goes ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
}

impl Hold {
    /// Whether it still waits for the administrator.
    pub fn waiting(&self) -> bool {
        self.confirmed_by.is_none()
    }
}

/// The hold of a mailbox and kind.
pub async fn get(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
) -> Result<Option<Hold>, PortError> {
    let text = store
        .get_resolved(mailbox, kind, HOLD)
        .await
        .map_err(store_error)?;
    parse(text.as_deref(), mailbox, kind)
}

/// The hold a run found when it started (see [`Kept`]).
pub fn of(kept: &Kept, mailbox: &str, kind: Kind) -> Result<Option<Hold>, PortError> {
    parse(kept.get(HOLD), mailbox, kind)
}

fn parse(text: Option<&str>, mailbox: &str, kind: Kind) -> Result<Option<Hold>, PortError> {
    let Some(text) = text else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| PortError::transient(format!("unreadable hold of {mailbox}/{kind}: {e}")))
}

/// Every hold, ordered by mailbox and kind.
pub async fn list(store: &dyn StateStore) -> Result<Vec<(String, Kind, Hold)>, PortError> {
    let rows = store.list_resolved(HOLD).await.map_err(store_error)?;
    Ok(rows
        .into_iter()
        .filter_map(|(m, k, v)| serde_json::from_str(&v).ok().map(|h| (m, k, h)))
        .collect())
}

/// Store a hold, with its ledger entry.
pub async fn put(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    hold: &Hold,
    run_id: Option<uuid::Uuid>,
) -> Result<(), PortError> {
    let text = serde_json::to_string(hold)
        .map_err(|e| PortError::transient(format!("cannot write a hold: {e}")))?;
    store
        .put_resolved(mailbox, kind, HOLD, Some(&text))
        .await
        .map_err(store_error)?;
    let mut e = NewLedgerEntry::new(
        mailbox,
        kind,
        HOLD_ITEM,
        LedgerAction::Held,
        format!(
            "{}: {}; waiting for the administrator's confirmation",
            hold.reason.text(),
            hold.summary
        ),
    );
    e.run_id = run_id;
    e.detail = hold.plan.clone();
    store.record_ledger(&e).await.map_err(store_error)?;
    Ok(())
}

/// Forget the hold (the run it held has completed).
pub async fn clear(store: &dyn StateStore, mailbox: &str, kind: Kind) -> Result<(), PortError> {
    store
        .put_resolved(mailbox, kind, HOLD, None)
        .await
        .map_err(store_error)
}

/// The administrator (`who`) confirms a waiting hold: the next run of the mailbox and kind
/// does what was held. `Ok(None)`: nothing was waiting.
pub async fn confirm(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    who: &str,
) -> Result<Option<Hold>, PortError> {
    let Some(mut hold) = get(store, mailbox, kind).await? else {
        return Ok(None);
    };
    if !hold.waiting() {
        return Ok(Some(hold));
    }
    hold.confirmed_by = Some(who.to_owned());
    let text = serde_json::to_string(&hold)
        .map_err(|e| PortError::transient(format!("cannot write a hold: {e}")))?;
    store
        .put_resolved(mailbox, kind, HOLD, Some(&text))
        .await
        .map_err(store_error)?;
    let e = NewLedgerEntry::new(
        mailbox,
        kind,
        HOLD_ITEM,
        LedgerAction::Confirmed,
        format!(
            "confirmed by {who}: {} ({}); the next run goes ahead",
            hold.reason.text(),
            hold.summary
        ),
    );
    store.record_ledger(&e).await.map_err(store_error)?;
    Ok(Some(hold))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gc_store::LedgerFilter;

    #[tokio::test]
    async fn a_hold_waits_until_confirmed_and_both_are_in_the_ledger() {
        let store = gc_store::open("sqlite::memory:").await.unwrap();
        let hold = Hold {
            reason: HoldReason::MassDelete,
            summary: "30 deletion(s) of 40".into(),
            since: Timestamp::now(),
            plan: None,
            confirmed_by: None,
        };
        put(&*store, "7", Kind::Appointment, &hold, None)
            .await
            .unwrap();
        assert!(
            get(&*store, "7", Kind::Appointment)
                .await
                .unwrap()
                .unwrap()
                .waiting()
        );
        assert_eq!(list(&*store).await.unwrap().len(), 1);
        // What a run reads at its start says the same.
        let kept = Kept::read(&*store, "7", Kind::Appointment).await.unwrap();
        assert_eq!(
            of(&kept, "7", Kind::Appointment).unwrap(),
            get(&*store, "7", Kind::Appointment).await.unwrap()
        );
        assert!(
            confirm(&*store, "7", Kind::Task, "admin")
                .await
                .unwrap()
                .is_none()
        );
        let h = confirm(&*store, "7", Kind::Appointment, "cli:root")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h.confirmed_by.as_deref(), Some("cli:root"));
        let ledger = store.query_ledger(&LedgerFilter::default()).await.unwrap();
        let actions: Vec<_> = ledger.iter().map(|e| e.action).collect();
        assert!(actions.contains(&LedgerAction::Held));
        assert!(actions.contains(&LedgerAction::Confirmed));
        assert!(ledger.iter().any(|e| e.reason.contains("cli:root")));
        clear(&*store, "7", Kind::Appointment).await.unwrap();
        assert!(list(&*store).await.unwrap().is_empty());
    }
}
