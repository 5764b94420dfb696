//! The engine's store writes for items and cursors: the commit of what an item's decision did
//! (link and ledger in one transaction), the retry bookkeeping of transiently failed items,
//! and cursor advances. Kept in one place because every one of them must run under the
//! mailbox lease and in the write order of docs/SYNC.md.

use gc_store::{Cursor, ItemCommit, ItemRetry};

use crate::engine::cx::{ItemCx, RunCx};
use crate::engine::kind::Applied;
use crate::error::{PortError, store_error};

/// Commit what applying a decision did: its link and ledger entries in one transaction (the
/// link's retry state goes with it). Nothing to store is no write at all.
pub(crate) async fn commit_applied(cx: &ItemCx<'_>, applied: &Applied) -> Result<(), PortError> {
    if applied.link.is_none() && applied.ledger.is_empty() {
        return Ok(());
    }
    cx.check()?;
    cx.store
        .commit_item(&ItemCommit {
            link: applied.link.clone(),
            ledger: applied.ledger.clone(),
            cursor: None,
            fences: cx.fences(),
        })
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// Count a failed attempt of an item and schedule the next one with backoff.
pub(crate) async fn record_retry(
    cx: &ItemCx<'_>,
    previous: Option<&ItemRetry>,
    error: &str,
) -> Result<ItemRetry, PortError> {
    let attempts = previous.map_or(0, |r| r.attempts) + 1;
    cx.store
        .record_retry(
            cx.kind,
            cx.mailbox(),
            cx.item,
            error,
            cx.policy.backoff(attempts),
        )
        .await
        .map_err(store_error)
}

/// Forget an item's retry state after it was done without a link change.
pub(crate) async fn clear_retry(cx: &ItemCx<'_>) {
    if let Err(e) = cx.store.clear_retry(cx.kind, cx.mailbox(), cx.item).await {
        tracing::warn!(mailbox = cx.mailbox(), item = cx.item, error = %e, "cannot clear the retry state");
    }
}

/// The stored cursor of a source, or a new one.
pub(crate) async fn load_cursor(cx: &RunCx<'_>, scope: &str) -> Result<Cursor, PortError> {
    Ok(cx
        .store
        .get_cursor(cx.mailbox(), cx.kind, scope)
        .await
        .map_err(store_error)?
        .unwrap_or_else(|| Cursor::new(cx.mailbox(), cx.kind, scope)))
}

/// Store a cursor advance (only after every item of the page is done).
pub(crate) async fn save_cursor(cx: &RunCx<'_>, cursor: &Cursor) -> Result<(), PortError> {
    cx.check_run()?;
    cx.store
        .put_cursor(cursor, std::slice::from_ref(cx.fence))
        .await
        .map_err(store_error)
}

/// Forget a cursor whose checkpoint expired: the source is walked again from the start.
pub(crate) async fn clear_cursor(cx: &RunCx<'_>, scope: &str) -> Result<(), PortError> {
    cx.check_run()?;
    cx.store
        .clear_cursor(cx.mailbox(), cx.kind, scope, std::slice::from_ref(cx.fence))
        .await
        .map(|_| ())
        .map_err(store_error)
}
