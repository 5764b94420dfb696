//! Walking one source of a mailbox page by page from its stored checkpoint.
//!
//! The items of a page are worked concurrently (`item_concurrency`); the checkpoint advances
//! only when every item of the page is done, so a page with a delayed item is read again next
//! time (done items are recognised by their links). An expired checkpoint (Graph's 410) is
//! dropped and the source walked again from the start, once per run. A reconciling source
//! (see [`Source::reconcile`]) that was walked from the start compares what it saw with the
//! links and hands the rest to the kind.

use std::collections::HashSet;

use futures::StreamExt;

use crate::engine::commit::{clear_cursor, load_cursor, save_cursor};
use crate::engine::cx::RunCx;
use crate::engine::item::{Done, work};
use crate::engine::kind::{Source, SyncKind};
use crate::engine::progress::{ItemOutcome, Progress};
use crate::engine::report::MailboxReport;
use crate::error::{ErrorClass, PortError, store_error};

/// Links read per request when reconciling.
const RECONCILE_PAGE: u32 = 500;

/// Walk `source` to the end of its round (or until a page has a delayed item).
pub(crate) async fn walk<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    source: &Source,
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<(), PortError> {
    let mut cursor = load_cursor(cx, &source.scope).await?;
    // A source read whole every run keeps its stored value for the idle check only.
    let whole = kind.reads_whole(source);
    // No round of this source completed yet: the mailbox's first sync of this kind (or the
    // first after a reset), when `[mailboxes] sync_from` applies; always for a source read
    // whole (it has no round to continue).
    let mut first = whole || cursor.delta_link.is_none();
    let mut checkpoint = if whole {
        None
    } else {
        cursor.next_link.clone().or(cursor.delta_link.clone())
    };
    let mut seen: Option<HashSet<String>> =
        (source.reconcile && checkpoint.is_none()).then(HashSet::new);
    // Links this walk writes were seen by it, whatever key their change came under (an item
    // worked under one key may be linked under another, e.g. a CRM record that became an
    // event): reconciling leaves links written since the walk began alone.
    let mut began = if source.reconcile {
        Some(cx.store.now().await.map_err(store_error)?)
    } else {
        None
    };
    let mut restarted = false;
    let mut delayed: Option<String> = None;
    loop {
        cx.check_run()?;
        let page = match kind.page(cx, run, source, checkpoint.as_deref()).await {
            Ok(p) => p,
            Err(e) if e.class == ErrorClass::SyncStateExpired && !restarted => {
                tracing::info!(
                    mailbox = cx.mailbox(),
                    kind = %cx.kind,
                    source = source.label,
                    "checkpoint expired, walking the source again from the start"
                );
                restarted = true;
                clear_cursor(cx, &source.scope).await?;
                cursor = load_cursor(cx, &source.scope).await?;
                first = true;
                checkpoint = None;
                seen = source.reconcile.then(HashSet::new);
                if source.reconcile {
                    began = Some(cx.store.now().await.map_err(store_error)?);
                }
                delayed = None;
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(seen) = seen.as_mut() {
            seen.extend(
                page.changes
                    .iter()
                    .filter_map(|c| kind.identify(cx, run, c))
                    .map(|i| i.item),
            );
        }
        if let Some(reason) =
            work_all(kind, cx, run, &page.changes, first, report, progress).await?
        {
            if seen.is_none() {
                // Keep the checkpoint: this page is read again next time.
                report.error = Some(format!("some items were delayed: {reason}"));
                return Ok(());
            }
            // A reconciling enumeration is all or nothing: it goes on to the end (so what
            // vanished is still found), but stores no checkpoint, so that the next run
            // enumerates again from the start and retries the delayed items.
            delayed = delayed.or(Some(reason));
        }
        match (page.next, page.done) {
            (Some(next), _) => {
                cursor.next_link = Some(next.clone());
                checkpoint = Some(next);
            }
            (None, Some(delta)) => {
                cursor.next_link = None;
                cursor.delta_link = Some(delta);
                checkpoint = None;
            }
            (None, None) => checkpoint = None,
        }
        if checkpoint.is_none() {
            if let Some(seen) = &seen
                && let Some(reason) =
                    reconcile(kind, cx, run, source, (seen, began), report, progress).await?
            {
                delayed = delayed.or(Some(reason));
            }
            if let Some(reason) = delayed {
                report.error = Some(format!("some items were delayed: {reason}"));
                return Ok(());
            }
            return save_cursor(cx, &cursor).await;
        }
        if seen.is_none() {
            save_cursor(cx, &cursor).await?;
        }
        stop_after_errors(cx, report)?;
    }
}

/// Work a batch of changes; `Ok(Some(reason))` when one was delayed.
async fn work_all<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    changes: &[K::Change],
    first: bool,
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<Option<String>, PortError> {
    // The futures are made first (they do nothing until polled): a closure over borrowed
    // changes inside the stream would ask the compiler to prove `Send` for every lifetime,
    // which it cannot (rust-lang/rust#102211).
    let items: Vec<_> = changes
        .iter()
        .map(|c| work_reported(kind, cx, run, c, first, progress))
        .collect();
    let results: Vec<Done> = futures::stream::iter(items)
        .buffer_unordered(cx.policy.item_concurrency.max(1))
        .collect()
        .await;
    let mut delayed = None;
    let mut stop: Option<PortError> = None;
    for d in results {
        if let Some(e) = d.stop {
            // The most serious stop wins: a tenant stop over a mailbox one over cancellation.
            let rank = |c: ErrorClass| match c {
                ErrorClass::Tenant => 0,
                ErrorClass::Mailbox => 1,
                _ => 2,
            };
            if stop.as_ref().is_none_or(|s| rank(e.class) < rank(s.class)) {
                stop = Some(e);
            }
            continue;
        }
        report.count(d.outcome, d.warnings);
        if d.outcome == ItemOutcome::Delayed {
            delayed = delayed.or(d.delay);
        }
    }
    match stop {
        Some(e) => Err(e),
        None => Ok(delayed),
    }
}

/// Work one change and report it to `progress`.
async fn work_reported<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    change: &K::Change,
    first: bool,
    progress: &dyn Progress,
) -> Done {
    let d = work(kind, cx, run, change, first).await;
    if d.outcome != ItemOutcome::Ignored && d.stop.is_none() {
        progress.item(cx.rep(), cx.kind, d.outcome, d.warnings);
    }
    d
}

/// After a walk from the start: links of this mailbox and kind whose item was not seen.
async fn reconcile<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    source: &Source,
    (seen, began): (&HashSet<String>, Option<jiff::Timestamp>),
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<Option<String>, PortError> {
    let mut after: Option<String> = None;
    let mut delayed = None;
    loop {
        let links = cx
            .store
            .list_links(cx.mailbox(), cx.kind, after.as_deref(), RECONCILE_PAGE)
            .await
            .map_err(store_error)?;
        let Some(last) = links.last() else {
            return Ok(delayed);
        };
        after = Some(last.graph_id.clone());
        let full = links.len() as u32 == RECONCILE_PAGE;
        let changes: Vec<K::Change> = links
            .into_iter()
            .filter(|l| !seen.contains(&l.graph_id))
            .filter(|l| match (began, l.updated_at) {
                (Some(b), Some(u)) => u < b,
                _ => true,
            })
            .filter_map(|l| kind.vanished(run, source, l))
            .collect();
        if let Some(reason) = work_all(kind, cx, run, &changes, false, report, progress).await? {
            delayed = delayed.or(Some(reason));
        }
        if !full {
            return Ok(delayed);
        }
    }
}

/// `[errors] stop_after_errors`: something systematic (CRM refusing everything) must not
/// fail a whole mailbox item by item; the rest waits for the next run.
fn stop_after_errors(cx: &RunCx<'_>, report: &MailboxReport) -> Result<(), PortError> {
    match cx.policy.stop_after_errors {
        Some(max) if report.failed >= max => Err(PortError::new(
            ErrorClass::Item,
            format!(
                "stopped after {} failed items ([errors] stop_after_errors)",
                report.failed
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use gc_store::Kind;
    use tokio_util::sync::CancellationToken;

    use crate::engine::testkit::{Fault, TestKind, engine, target};
    use crate::engine::{MailboxOutcome, NoProgress, RunPolicy};

    #[tokio::test]
    async fn the_checkpoint_advances_only_over_finished_pages() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
        k.fault("c", Fault::Transient(1));
        let c = CancellationToken::new();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(
            (r.created, r.delayed, r.outcome),
            (2, 1, MailboxOutcome::Delayed)
        );
        let cur = store
            .get_cursor("1", Kind::Task, "list")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            cur.next_link.as_deref(),
            Some("page:1"),
            "page 0 done, page 1 not"
        );
        assert_eq!(cur.delta_link, None);
        // Next run: only the second page is read again, c is done, the round completes.
        k.reads.lock().unwrap().clear();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(
            (r.created, r.outcome),
            (1, MailboxOutcome::Complete),
            "{r:?}"
        );
        assert_eq!(*k.reads.lock().unwrap(), vec![Some("page:1".to_owned())]);
        let cur = store
            .get_cursor("1", Kind::Task, "list")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cur.delta_link.as_deref(), Some("done:2"));
        assert_eq!(k.applied(), vec!["a", "b", "c"]);
    }

    #[tokio::test]
    async fn an_expired_checkpoint_is_walked_again_from_the_start_once() {
        let (e, _store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a"], &["b"]]);
        let c = CancellationToken::new();
        e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        k.script.lock().unwrap().expire_once = true;
        k.reads.lock().unwrap().clear();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.outcome, MailboxOutcome::Complete);
        // From the stored checkpoint (expired), then from the start; linked items are
        // recognised, nothing is written twice.
        let reads = k.reads.lock().unwrap().clone();
        assert_eq!(reads[0].as_deref(), Some("done:2"));
        assert_eq!(reads[1], None);
        assert_eq!((r.created, r.unchanged), (0, 2));
        assert_eq!(k.applied(), vec!["a", "b"]);
    }

    #[tokio::test]
    async fn a_reconciling_walk_from_the_start_hands_over_what_vanished() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
        k.script.lock().unwrap().reconcile = true;
        let c = CancellationToken::new();
        e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert!(k.vanished.lock().unwrap().is_empty());
        // "b" disappears while the checkpoint expires: only a full enumeration can tell.
        {
            let mut s = k.script.lock().unwrap();
            s.pages = vec![vec!["a".into()], vec!["c".into()]];
            s.expire_once = true;
        }
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.outcome, MailboxOutcome::Complete);
        assert_eq!(*k.vanished.lock().unwrap(), vec!["b".to_owned()]);
        // A walk from a valid checkpoint does not reconcile.
        e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(k.vanished.lock().unwrap().len(), 1);
        assert!(
            store
                .get_cursor("1", Kind::Task, "list")
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_reconciling_enumeration_with_a_delay_stores_no_checkpoint() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a"], &["b"]]);
        k.script.lock().unwrap().reconcile = true;
        k.fault("a", Fault::Transient(1));
        let c = CancellationToken::new();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!((r.created, r.delayed), (1, 1));
        assert!(
            store
                .get_cursor("1", Kind::Task, "list")
                .await
                .unwrap()
                .is_none()
        );
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(
            (r.created, r.unchanged, r.outcome),
            (1, 1, MailboxOutcome::Complete)
        );
        assert!(
            store
                .get_cursor("1", Kind::Task, "list")
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn stop_after_errors_leaves_the_rest_for_the_next_run() {
        let policy = RunPolicy {
            stop_after_errors: Some(2),
            ..RunPolicy::default()
        };
        let (e, _store) = engine(policy).await;
        let k = TestKind::with_pages(&[&["a", "b"], &["c", "d"], &["e"]]);
        for i in ["a", "b", "c", "d"] {
            k.fault(i, Fault::Always(crate::ErrorClass::Item));
        }
        let r = e
            .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
            .await;
        assert_eq!((r.failed, r.outcome), (2, MailboxOutcome::Failed));
        assert!(r.error.unwrap().contains("stop_after_errors"));
        assert!(!k.finished().contains_key("c"));
    }
}
