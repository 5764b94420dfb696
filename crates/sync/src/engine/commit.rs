//! The engine's store writes for items and cursors: the commit of what an item's decision did
//! (link and ledger in one transaction), the retry bookkeeping of transiently failed items,
//! and cursor advances. Kept in one place because every one of them must run under the
//! mailbox lease and in the write order of docs/SYNC.md.

use gc_store::{Cursor, ItemCommit, ItemRetry, LeaseFence};

use crate::engine::cx::{ItemCx, RunCx};
use crate::engine::kind::Applied;
use crate::error::{PortError, store_error};

/// Commit what applying a decision did: its link and ledger entries in one transaction (the
/// link's retry state goes with it). Nothing to store is no write at all.
///
/// `release`: the item's global-key lease, given up in the same transaction (so the mailbox
/// waiting for the key finds this link and the key free at once, without a write of its
/// own). Whether it went: `false` when there was nothing to store, and the caller releases
/// it itself.
pub(crate) async fn commit_applied(
    cx: &ItemCx<'_>,
    applied: &Applied,
    release: Option<&LeaseFence>,
) -> Result<bool, PortError> {
    if applied.link.is_none() && applied.ledger.is_empty() {
        return Ok(false);
    }
    cx.check()?;
    cx.store
        .commit_item(&ItemCommit {
            link: applied.link.clone(),
            ledger: applied.ledger.clone(),
            cursor: None,
            fences: cx.fences(),
            no_retry_row: !cx.may_have_retry,
            release: release.cloned().into_iter().collect(),
        })
        .await
        .map(|_| release.is_some())
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

/// When the round checkpoint of a source (a delta link, no page in between) was stored, or
/// `None` without one. A round stores its checkpoint after every write of its items, so a
/// link written after this time comes from a round that never stored its own (cut off, or
/// an item of its page delayed): the next delta starts from the round before, and an item
/// created and deleted in between is reported neither created nor removed. A kind whose
/// deletions must reach CRM reads such links by id (`appointments::crm_source::settle`,
/// `tasks::settle`), and its idle probe runs the mailbox while there are any (see
/// [`gc_store::MailboxReads::last_link_write`]). Without a round checkpoint there is
/// nothing to compare: a walk from the start reconciles, and one continued from a page
/// checkpoint reads the rest of its round, which still reports what it linked.
pub(crate) async fn round_stored(
    cx: &RunCx<'_>,
    scope: &str,
) -> Result<Option<jiff::Timestamp>, PortError> {
    let cursor = cx
        .store
        .get_cursor(cx.mailbox(), cx.kind, scope)
        .await
        .map_err(store_error)?;
    Ok(cursor.and_then(|c| round_time(&c)))
}

/// When `cursor`'s round checkpoint was stored (see [`round_stored`]).
pub(crate) fn round_time(cursor: &Cursor) -> Option<jiff::Timestamp> {
    cursor.round_checkpoint().and(cursor.updated_at)
}

/// Whether a link was written after the round checkpoint `cursor` (see [`round_stored`]):
/// the idle probe then leaves the mailbox to its run.
pub(crate) fn written_after_round(reads: &gc_store::MailboxReads, cursor: Option<&Cursor>) -> bool {
    match (reads.last_link_write, cursor.and_then(round_time)) {
        (Some(written), Some(stored)) => written > stored,
        (Some(_), None) => true,
        (None, _) => false,
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use gc_store::{Cursor, Kind, MailboxReads};
    use jiff::Timestamp;

    use super::{round_time, written_after_round};

    #[test]
    fn only_a_link_written_after_a_stored_round_keeps_the_mailbox_from_the_probe() {
        let at = |s: i64| Some(Timestamp::from_second(1_800_000_000 + s).unwrap());
        let mut round = Cursor::new("r1", Kind::Task, "list");
        round.delta_link = Some("d".into());
        round.updated_at = at(10);
        let reads = |written| MailboxReads {
            last_link_write: written,
            ..MailboxReads::default()
        };
        assert!(!written_after_round(&reads(None), Some(&round)));
        assert!(!written_after_round(&reads(at(9)), Some(&round)));
        assert!(
            !written_after_round(&reads(at(10)), Some(&round)),
            "the round's own"
        );
        assert!(written_after_round(&reads(at(11)), Some(&round)));
        // A page checkpoint is no round checkpoint: the rest of its round reports its links.
        let mut paged = round.clone();
        paged.next_link = Some("n".into());
        assert_eq!(round_time(&paged), None);
        assert!(written_after_round(&reads(at(11)), Some(&paged)));
        assert!(written_after_round(&reads(at(11)), None));
    }
}
