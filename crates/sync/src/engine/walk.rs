//! Walking one source of a mailbox page by page from its stored checkpoint.
//!
//! The items of a page are worked concurrently (`item_concurrency`); the checkpoint advances
//! only when every item of the page is done, so a page with a delayed item is read again next
//! time (done items are recognised by their links). A kind that allows it
//! ([`SyncKind::reads_ahead`]) has the next page read while the items of a page are worked.
//! An expired checkpoint (Graph's 410) is dropped and the source walked again from the start,
//! once per run. A reconciling source (see [`Source::reconcile`]) that was walked from the
//! start compares what it saw with the links and hands the rest to the kind.

use std::collections::HashSet;

use futures::StreamExt;

use crate::engine::commit::{clear_cursor, load_cursor, save_cursor};
use crate::engine::cx::RunCx;
use crate::engine::item::{Done, work};
use crate::engine::kind::{Page, Source, SyncKind};
use crate::engine::progress::{ItemOutcome, Progress};
use crate::engine::report::{MailboxOutcome, MailboxReport};
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
    // Deletions the mass-delete guard holds (see `engine::guard`): from the first page with
    // one, no checkpoint is stored until the guard has judged them at the end of the round.
    let mut held = Held::default();
    // The page at `checkpoint`, when it was read while the page before it was worked.
    let mut ahead: Option<Result<Page<K::Change>, PortError>> = None;
    loop {
        cx.check_run()?;
        let read = match ahead.take() {
            Some(read) => read,
            None => kind.page(cx, run, source, checkpoint.as_deref()).await,
        };
        let page = match read {
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
                held = Held::default();
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
        let items = work_all(kind, cx, run, &page.changes, first, report, progress);
        let batch = match page.next.as_deref().filter(|_| kind.reads_ahead(source)) {
            // Polled first, so the read takes a Graph slot before the items fill them.
            Some(next) => {
                let (next, batch) = tokio::join!(kind.page(cx, run, source, Some(next)), items);
                ahead = Some(next);
                batch?
            }
            None => items.await?,
        };
        held.keep(cx, page.changes, &batch.held).await?;
        if let Some(reason) = batch.delayed {
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
            if let Some(seen) = &seen {
                if seen.is_empty()
                    && let Some(g) = cx.guard
                {
                    g.saw_empty(&source.label);
                }
                if let Some(reason) = reconcile(
                    kind,
                    cx,
                    run,
                    source,
                    (seen, began),
                    report,
                    progress,
                    &mut held,
                )
                .await?
                {
                    delayed = delayed.or(Some(reason));
                }
            }
            if held.any() {
                match judge(kind, cx, run, report, progress, held).await? {
                    Judged::Stop => return Ok(()),
                    Judged::Delayed(reason) => delayed = delayed.or(Some(reason)),
                    Judged::Through => {}
                }
            }
            if let Some(reason) = delayed {
                report.error = Some(format!("some items were delayed: {reason}"));
                return Ok(());
            }
            return save_cursor(cx, &cursor).await;
        }
        if seen.is_none() && !held.any() {
            save_cursor(cx, &cursor).await?;
        }
        stop_after_errors(cx, report)?;
    }
}

/// The changes whose deletions the guard held in this walk of a source.
struct Held<C> {
    /// Held deletions seen (kept or not).
    count: u64,
    /// The held changes, kept for the second pass while it may come.
    kept: Vec<C>,
    /// Some were dropped: the run will stop anyway.
    dropped: bool,
}

impl<C> Default for Held<C> {
    fn default() -> Self {
        Held {
            count: 0,
            kept: Vec::new(),
            dropped: false,
        }
    }
}

impl<C> Held<C> {
    fn any(&self) -> bool {
        self.count > 0
    }

    /// Keep the held ones of a batch (`held`: their indices in `changes`), while the guard
    /// might still let them through.
    async fn keep(
        &mut self,
        cx: &RunCx<'_>,
        changes: Vec<C>,
        held: &[usize],
    ) -> Result<(), PortError> {
        let (Some(g), false) = (cx.guard, held.is_empty()) else {
            return Ok(());
        };
        self.count += held.len() as u64;
        let links = g.links(cx).await?;
        if self.dropped || !g.worth_keeping(links) {
            self.dropped = true;
            self.kept = Vec::new();
            return Ok(());
        }
        self.kept.extend(
            changes
                .into_iter()
                .enumerate()
                .filter(|(i, _)| held.contains(i))
                .map(|(_, c)| c),
        );
        Ok(())
    }
}

/// What the guard decided at the end of a source.
enum Judged {
    /// Within the limits: the held deletions were made.
    Through,
    /// Within the limits, but some of the held items were delayed in their second pass.
    Delayed(String),
    /// Beyond them: the run stops, nothing held is deleted, the hold is stored.
    Stop,
}

/// The end of a source with held deletions: let them through, or stop the run and hold the
/// mailbox and kind for the administrator.
#[allow(clippy::too_many_arguments)]
async fn judge<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    report: &mut MailboxReport,
    progress: &dyn Progress,
    held: Held<K::Change>,
) -> Result<Judged, PortError> {
    let Some(g) = cx.guard else {
        return Ok(Judged::Through);
    };
    let links = g.links(cx).await?;
    if let (None, false) = (g.judge(links), held.dropped) {
        g.let_through(true);
        let batch = work_all(kind, cx, run, &held.kept, false, report, progress).await;
        g.let_through(false);
        return Ok(match batch?.delayed {
            Some(reason) => Judged::Delayed(reason),
            None => Judged::Through,
        });
    }
    let why = g
        .judge(links)
        .unwrap_or_else(|| format!("{} deletion(s) of {links} linked item(s)", held.count));
    let hold = crate::engine::holds::Hold {
        reason: crate::engine::holds::HoldReason::MassDelete,
        summary: why.clone(),
        since: cx.store.now().await.map_err(store_error)?,
        plan: Some(serde_json::json!({
            "deletions_held": held.count,
            "links": links,
            "samples": g.samples(),
        })),
        confirmed_by: None,
    };
    cx.check_run()?;
    crate::engine::holds::put(&**cx.store, cx.mailbox(), cx.kind, &hold, Some(cx.run_id)).await?;
    tracing::warn!(mailbox = cx.rep(), kind = %cx.kind, reason = why, "mass-delete guard: run held");
    report.outcome = MailboxOutcome::Held;
    report.error = Some(format!(
        "mass-delete guard: {why}; nothing was deleted. Confirm with `graph-connector confirm --mailbox {} --kind {}` or on the admin page",
        cx.rep(),
        cx.kind
    ));
    Ok(Judged::Stop)
}

/// What a batch of changes left behind.
#[derive(Debug, Default)]
struct Batch {
    /// Why an item was delayed.
    delayed: Option<String>,
    /// The indices of the changes whose deletions the guard held.
    held: Vec<usize>,
}

/// Work a batch of changes.
async fn work_all<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    changes: &[K::Change],
    first: bool,
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<Batch, PortError> {
    // The futures are made first (they do nothing until polled): a closure over borrowed
    // changes inside the stream would ask the compiler to prove `Send` for every lifetime,
    // which it cannot (rust-lang/rust#102211).
    let items: Vec<_> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| async move { (i, work_reported(kind, cx, run, c, first, progress).await) })
        .collect();
    let results: Vec<(usize, Done)> = futures::stream::iter(items)
        .buffer_unordered(cx.policy.item_concurrency.max(1))
        .collect()
        .await;
    let mut batch = Batch::default();
    let mut stop: Option<PortError> = None;
    for (i, d) in results {
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
        if d.held {
            batch.held.push(i);
            continue;
        }
        report.count(d.outcome, d.warnings);
        if d.outcome == ItemOutcome::Delayed {
            batch.delayed = batch.delayed.or(d.delay);
        }
    }
    match stop {
        Some(e) => Err(e),
        None => Ok(batch),
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
    if d.outcome != ItemOutcome::Ignored && d.stop.is_none() && !d.held {
        progress.item(cx.rep(), cx.kind, d.outcome, d.warnings);
    }
    d
}

/// After a walk from the start: links of this mailbox and kind whose item was not seen.
#[allow(clippy::too_many_arguments)]
async fn reconcile<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    source: &Source,
    (seen, began): (&HashSet<String>, Option<jiff::Timestamp>),
    report: &mut MailboxReport,
    progress: &dyn Progress,
    held: &mut Held<K::Change>,
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
        let batch = work_all(kind, cx, run, &changes, false, report, progress).await?;
        held.keep(cx, changes, &batch.held).await?;
        if let Some(reason) = batch.delayed {
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
    async fn a_kind_that_reads_ahead_has_the_next_page_read_before_the_items_are_written() {
        let events = |read_ahead: bool| async move {
            let (e, store) = engine(RunPolicy::default()).await;
            let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
            k.script.lock().unwrap().read_ahead = read_ahead;
            let c = CancellationToken::new();
            let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
            assert_eq!((r.created, r.outcome), (3, MailboxOutcome::Complete));
            let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
            assert_eq!(cur.unwrap().delta_link.as_deref(), Some("done:2"));
            k.events.lock().unwrap().clone()
        };
        assert_eq!(
            events(true).await,
            ["read start", "read page:1", "apply a", "apply b", "apply c"]
        );
        assert_eq!(
            events(false).await,
            ["read start", "apply a", "apply b", "read page:1", "apply c"]
        );
    }

    #[tokio::test]
    async fn a_page_read_ahead_of_a_delayed_item_is_read_again_next_run() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a"], &["b"]]);
        k.script.lock().unwrap().read_ahead = true;
        k.fault("a", Fault::Transient(1));
        let c = CancellationToken::new();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        // The second page was read while "a" failed; it is not worked, and the checkpoint
        // stays before the first page.
        assert_eq!((r.created, r.delayed), (0, 1));
        assert_eq!(*k.reads.lock().unwrap(), [None, Some("page:1".to_owned())]);
        let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
        assert!(cur.is_none_or(|c| c.next_link.is_none() && c.delta_link.is_none()));
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!((r.created, r.outcome), (2, MailboxOutcome::Complete));
        assert_eq!(k.applied(), ["a", "b"]);
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
