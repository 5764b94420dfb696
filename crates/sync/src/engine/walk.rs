//! Walking one source of a mailbox page by page from its stored checkpoint.
//!
//! The items of a page are worked concurrently (`item_concurrency`); the checkpoint advances
//! only when every item of the page is done, so a page with a delayed item is read again next
//! time (done items are recognised by their links). A kind that allows it
//! ([`SyncKind::reads_ahead`]) has two pages in hand: the next page is read while the items of
//! a page are worked, and its items start as soon as the page before it has none left to
//! start, so a page's slowest items no longer leave the mailbox's slots idle; the checkpoint
//! still passes the pages in order. An expired checkpoint (Graph's 410) is dropped and the
//! source walked again from the start, once per run. A reconciling source (see
//! [`Source::reconcile`]) that was walked from the start compares what it saw with the links
//! and hands the rest to the kind.

use std::collections::{HashSet, VecDeque};

use futures::stream::FuturesUnordered;

use crate::engine::batch::{Batch, graver, work_all, work_owned};
use crate::engine::commit::{clear_cursor, load_cursor, save_cursor};
use crate::engine::cx::RunCx;
use crate::engine::flight::{Event, InFlight};
use crate::engine::held::{Held, Judged, judge};
use crate::engine::kind::{Page, Source, SyncKind};
use crate::engine::progress::Progress;
use crate::engine::report::MailboxReport;
use crate::error::{ErrorClass, PortError, store_error};

/// Links read per request when reconciling.
const RECONCILE_PAGE: u32 = 500;

/// A page read and not finished: its items not started yet, those running, and what the done
/// ones left behind.
struct Live<C> {
    /// Its place in the walk; an item's result names it.
    seq: u64,
    /// Items not started yet.
    pending: std::vec::IntoIter<C>,
    /// Items started and not done.
    running: usize,
    /// More pages follow from this checkpoint.
    next: Option<String>,
    /// The round ends here, with this checkpoint for the next one.
    done: Option<String>,
    batch: Batch<C>,
}

impl<C> Live<C> {
    fn new(seq: u64, page: Page<C>) -> Self {
        Live {
            seq,
            pending: page.changes.into_iter(),
            running: 0,
            next: page.next,
            done: page.done,
            batch: Batch::default(),
        }
    }

    fn finished(&self) -> bool {
        self.running == 0 && self.pending.len() == 0
    }
}

/// Why the walk reads no further: it returns once the items already started are done.
enum Halt {
    /// A page could not be read. The items of the pages already read still run, and their
    /// pages still move the checkpoint; then the error is returned (or, for an expired
    /// checkpoint, the source is walked again from the start).
    Read(PortError),
    /// An item was delayed: the checkpoint stays before its page, nothing more starts.
    Delayed,
    /// The run stops (an item's tenant or mailbox error, cancellation, `stop_after_errors`):
    /// nothing more starts or moves the checkpoint.
    Stop(PortError),
}

/// The halt after an error that stops the run, given the halt before it: the gravest error
/// is the one returned (see [`graver`]). Items already running still finish.
fn stop(before: Option<Halt>, e: PortError) -> Halt {
    match before {
        Some(Halt::Stop(b)) => Halt::Stop(graver(Some(b), e)),
        _ => Halt::Stop(e),
    }
}

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
    // Pages in hand (read, or being read, and not finished): two for a kind that reads ahead.
    // E-mail keeps the CRM facts of exactly that many pages (`email::prefetch::RecentPages`).
    let window = if kind.reads_ahead(source) { 2 } else { 1 };
    let width = cx.policy.item_concurrency.max(1);
    let mut live: VecDeque<Live<K::Change>> = VecDeque::new();
    let mut flight = InFlight {
        reading: None,
        running: FuturesUnordered::new(),
        ready: VecDeque::new(),
    };
    let mut seq = 0u64;
    let mut halt: Option<Halt> = None;
    loop {
        // The next page, while there is room in hand: after the last page read, or from the
        // checkpoint when none is in hand.
        if halt.is_none() && !flight.read_pending() && live.len() < window {
            let from = match live.back() {
                Some(p) => p.next.clone().map(Some),
                None => Some(checkpoint.clone()),
            };
            if let Some(from) = from {
                match cx.check_run() {
                    Ok(()) => {
                        flight.reading = Some(Box::pin(async move {
                            kind.page(cx, run, source, from.as_deref()).await
                        }));
                    }
                    Err(e) => halt = Some(stop(halt.take(), e)),
                }
            }
        }
        // Items, oldest page first, while there are free slots.
        if !matches!(halt, Some(Halt::Delayed | Halt::Stop(_))) {
            while flight.running.len() < width {
                let Some(page) = live.iter_mut().find(|p| p.pending.len() > 0) else {
                    break;
                };
                let Some(change) = page.pending.next() else {
                    break;
                };
                page.running += 1;
                let s = page.seq;
                let item = work_owned(kind, cx, run, change, first, progress);
                flight.running.push(async move { (s, item.await) });
            }
        }
        let Some(event) = flight.next().await else {
            // Nothing in flight, and nothing more may start: the halt decides.
            match halt.take() {
                Some(Halt::Read(e)) if e.class == ErrorClass::SyncStateExpired && !restarted => {
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
                    live.clear();
                    continue;
                }
                Some(Halt::Read(e) | Halt::Stop(e)) => return Err(e),
                Some(Halt::Delayed) => return Ok(()),
                // Every page in hand ends the round or leads to a page being read.
                None => return Ok(()),
            }
        };
        match event {
            Event::Read(Ok(page)) => {
                see(seen.as_mut(), kind, cx, run, &page.changes);
                seq += 1;
                live.push_back(Live::new(seq, page));
            }
            Event::Read(Err(e)) => halt = Some(Halt::Read(e)),
            Event::Item((s, (change, done))) => {
                if let Some(page) = live.iter_mut().find(|p| p.seq == s) {
                    page.running -= 1;
                    page.batch.add(change, done, report);
                    if let Some(e) = page.batch.stop.take() {
                        halt = Some(stop(halt.take(), e));
                    }
                    // Counted as items finish: nothing more starts once the limit is reached
                    // (the items already running still finish).
                    if let Err(e) = stop_after_errors(cx, report) {
                        halt = Some(stop(halt.take(), e));
                    }
                }
            }
        }
        // Finished pages move the checkpoint, in order, unless the walk stopped or an item
        // was delayed. The store writes go on beside the items in flight, which may hold
        // what the writes wait for (a store connection, a Graph slot).
        while matches!(halt, None | Some(Halt::Read(_))) && live.front().is_some_and(Live::finished)
        {
            let Some(page) = live.pop_front() else {
                break;
            };
            if let Err(e) = flight.beside(held.keep(cx, page.batch.held)).await {
                halt = Some(stop(halt.take(), e));
                break;
            }
            if let Some(reason) = page.batch.delayed {
                if seen.is_none() {
                    // Keep the checkpoint: this page is read again next time.
                    report.error = Some(format!("some items were delayed: {reason}"));
                    halt = Some(Halt::Delayed);
                    break;
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
                // The end of the round: nothing else is in hand or in flight.
                return end_of_round(
                    kind,
                    cx,
                    run,
                    source,
                    (seen.as_ref(), began),
                    (&cursor, delayed.take(), held),
                    report,
                    progress,
                )
                .await;
            }
            if seen.is_none()
                && !held.any()
                && let Err(e) = flight.beside(save_cursor(cx, &cursor)).await
            {
                halt = Some(stop(halt.take(), e));
            }
        }
    }
}

/// Note the items of a page as seen by a walk from the start of a reconciling source (`seen`
/// is `None` otherwise): what it did not see vanished.
pub(crate) fn see<K: SyncKind>(
    seen: Option<&mut HashSet<String>>,
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    changes: &[K::Change],
) {
    if let Some(seen) = seen {
        seen.extend(
            changes
                .iter()
                .filter_map(|c| kind.identify(cx, run, c))
                .map(|i| i.item),
        );
    }
}

/// The last page of a round is done: reconcile (a walk from the start of a reconciling
/// source), let the guard judge the deletions it held, and store the round's checkpoint
/// unless an item was delayed.
#[allow(clippy::too_many_arguments)]
async fn end_of_round<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    source: &Source,
    (seen, began): (Option<&HashSet<String>>, Option<jiff::Timestamp>),
    (cursor, mut delayed, mut held): (&gc_store::Cursor, Option<String>, Held<K::Change>),
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<(), PortError> {
    if let Some(seen) = seen {
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
    save_cursor(cx, cursor).await
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
        let batch = work_all(kind, cx, run, changes, false, report, progress).await?;
        held.keep(cx, batch.held).await?;
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
#[path = "walk_tests.rs"]
mod tests;
