//! Working a set of changes concurrently, and what their results add up to: the counts in the
//! mailbox report, the delayed items, the deletions the mass-delete guard held, and an error
//! that stops the run.

use futures::StreamExt;

use crate::engine::cx::RunCx;
use crate::engine::item::{Done, work};
use crate::engine::kind::SyncKind;
use crate::engine::progress::{ItemOutcome, Progress};
use crate::engine::report::MailboxReport;
use crate::error::{ErrorClass, PortError};

/// What a set of worked changes left behind.
#[derive(Debug)]
pub(crate) struct Batch<C> {
    /// Why an item was delayed (the first reason seen).
    pub delayed: Option<String>,
    /// The changes whose deletions the guard held, handed back for its second pass.
    pub held: Vec<C>,
    /// The most serious error that stops the run, if an item met one.
    pub stop: Option<PortError>,
}

impl<C> Default for Batch<C> {
    fn default() -> Self {
        Batch {
            delayed: None,
            held: Vec::new(),
            stop: None,
        }
    }
}

impl<C> Batch<C> {
    /// Add one item's result: counted in the report, or kept as held, delayed or stopping.
    pub fn add(&mut self, change: C, done: Done, report: &mut MailboxReport) {
        if let Some(e) = done.stop {
            self.stop = Some(graver(self.stop.take(), e));
            return;
        }
        if done.held {
            self.held.push(change);
            return;
        }
        report.count(done.outcome, done.warnings);
        if done.outcome == ItemOutcome::Delayed {
            self.delayed = self.delayed.take().or(done.delay);
        }
    }
}

/// Of two errors that stop the run, the one to report: a tenant stop over a mailbox one over
/// cancellation; the earlier one among equals.
pub(crate) fn graver(before: Option<PortError>, e: PortError) -> PortError {
    let rank = |c: ErrorClass| match c {
        ErrorClass::Tenant => 0,
        ErrorClass::Mailbox => 1,
        _ => 2,
    };
    match before {
        Some(b) if rank(b.class) <= rank(e.class) => b,
        _ => e,
    }
}

/// Work a set of changes, `item_concurrency` at a time, to the end; an error that stops the
/// run is returned once every started item is done.
pub(crate) async fn work_all<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    changes: Vec<K::Change>,
    first: bool,
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<Batch<K::Change>, PortError> {
    // The futures are made first (they do nothing until polled): a closure inside the stream
    // would ask the compiler to prove `Send` for every lifetime, which it cannot
    // (rust-lang/rust#102211).
    let items: Vec<_> = changes
        .into_iter()
        .map(|c| work_owned(kind, cx, run, c, first, progress))
        .collect();
    let results: Vec<(K::Change, Done)> = futures::stream::iter(items)
        .buffer_unordered(cx.policy.item_concurrency.max(1))
        .collect()
        .await;
    let mut batch = Batch::default();
    for (c, d) in results {
        batch.add(c, d, report);
    }
    match batch.stop.take() {
        Some(e) => Err(e),
        None => Ok(batch),
    }
}

/// Work one change it owns (so that a change held by the guard can be handed back), and
/// report it to `progress`.
pub(crate) async fn work_owned<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    change: K::Change,
    first: bool,
    progress: &dyn Progress,
) -> (K::Change, Done) {
    let d = work(kind, cx, run, &change, first).await;
    if d.outcome != ItemOutcome::Ignored && d.stop.is_none() && !d.held {
        progress.item(cx.rep(), cx.kind, d.outcome, d.warnings);
    }
    (change, d)
}
