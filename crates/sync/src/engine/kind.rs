//! How a kind plugs into the engine.
//!
//! A kind (e-mails, appointments, tasks, contacts, absences) is a set of types and pure
//! rules plus a few calls that do I/O; the engine does everything that is the same for every
//! kind: the mailbox lease and run record, walking the sources page by page with a cursor
//! per (mailbox, kind, scope), the retry gate, the global-key lease, the commit of link and
//! ledger, retries with backoff, error classes, cancellation and progress.
//!
//! Per change a source yields, the engine calls, in this order:
//! 1. [`SyncKind::identify`]: which item it is (link key, tenant-wide global key), or nothing;
//! 2. [`SyncKind::triage`] (pure, from the change and its stored link): a decision that needs no
//!    CRM data, such as "already done" or "skip", or `None`;
//! 3. under the global-key lease: [`SyncKind::gather`] (reads: the facts the decision needs),
//!    [`SyncKind::decide`] (pure), [`SyncKind::apply`] (writes, after
//!    [`ItemCx::intent`](crate::engine::ItemCx::intent) for a write that must be found again
//!    after a crash);
//! 4. the engine commits the [`Applied`] link and ledger entries in one transaction;
//! 5. [`SyncKind::finish`]: what happens only after the commit (for e-mails: move the message).
//!
//! An error of any step is handled by its [`ErrorClass`](crate::ErrorClass): transient ones are
//! retried with backoff across runs up to the retry limit, item errors fail the item (the
//! engine commits a failed link and calls `finish` with a failed [`Applied`]), tenant and
//! mailbox errors stop the run without charging the item.

use async_trait::async_trait;
use gc_store::{Kind, Link, NewLedgerEntry, ProbeReads};

use crate::engine::cx::{ItemCx, RunCx};
use crate::engine::mailbox::MailboxTarget;
use crate::engine::progress::ItemOutcome;
use crate::error::PortError;
use crate::plan::Planned;
use crate::ports::probe::{Probe, Prober};

/// Which item a change is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The link key (the Graph item's immutable id, or a key the kind derives for items that
    /// exist only on the CRM side so far); also the ledger's item key.
    pub item: String,
    /// The tenant-wide identity (`internetMessageId`, `iCalUId`, ...): leased around gather,
    /// decide, apply and commit, so two mailboxes or processes never write the same record
    /// twice. `None` for items that are private to the mailbox.
    pub global_key: Option<String>,
}

/// Where a kind's changes come from: one cursor per (mailbox, kind, scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Cursor scope (e.g. the sync folder's id, `"calendar"`, `"crm"`).
    pub scope: String,
    /// What it is, for logs and errors.
    pub label: String,
    /// After a walk from the start (a first sync, or an expired checkpoint), hand the links
    /// whose item was not seen to [`SyncKind::vanished`]: an enumeration cannot report
    /// deletions, so they are found by comparing with what is linked.
    pub reconcile: bool,
}

/// One page of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<C> {
    /// The changes.
    pub changes: Vec<C>,
    /// More pages follow from this checkpoint.
    pub next: Option<String>,
    /// The round is complete; the next round starts from this checkpoint.
    pub done: Option<String>,
}

impl<C> Default for Page<C> {
    fn default() -> Self {
        Page {
            changes: Vec::new(),
            next: None,
            done: None,
        }
    }
}

/// What [`SyncKind::prepare`] found for one mailbox run.
#[derive(Debug)]
pub struct Prepared<R> {
    /// The kind's state for this run (resolved folders, caches).
    pub run: R,
    /// The sources to walk, in order.
    pub sources: Vec<Source>,
    /// Items expected, when known (progress bars).
    pub total: Option<u64>,
}

/// What applying a decision did, to be committed (link and ledger in one transaction) and
/// then finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The outcome.
    pub outcome: ItemOutcome,
    /// The link to store (`None`: leave the stored link as it is).
    pub link: Option<Link>,
    /// Ledger entries (the engine fills in run and mailbox).
    pub ledger: Vec<NewLedgerEntry>,
    /// Warnings among the ledger entries.
    pub warnings: u64,
    /// Why the item was skipped or failed (what the user is told).
    pub failure: Option<String>,
}

impl Applied {
    /// Nothing to store: the item is already in sync.
    pub fn unchanged() -> Self {
        Applied {
            outcome: ItemOutcome::Unchanged,
            link: None,
            ledger: Vec::new(),
            warnings: 0,
            failure: None,
        }
    }
}

/// One kind of item the engine synchronizes. See the module documentation for the order of
/// the calls. `decide` and `triage` must not do I/O: they are the kind's rules, unit-tested.
#[async_trait]
pub trait SyncKind: Send + Sync + 'static {
    /// The kind's state for one mailbox run.
    type Run: Send + Sync;
    /// One change a source yields.
    type Change: Send + Sync;
    /// What [`SyncKind::gather`] finds out for a change.
    type Facts: Send + Sync;
    /// What to do with a change.
    type Decision: Send + Sync + std::fmt::Debug;

    /// Which kind this is.
    fn kind(&self) -> Kind;

    /// Resolve what this mailbox's run needs (folders, lists) and its sources; `None` when
    /// there is nothing to do for the mailbox (e.g. no sync folder and none to create).
    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<Self::Run>>, PortError>;

    /// Whether [`Prepared::total`] bounds what a first sync of this kind writes: each item of
    /// its sources creates at most one record, and a first sync deletes nothing. Then
    /// `[mailboxes] confirm_first_sync_above` needs no planning walk for a mailbox whose
    /// total is within it: the plan could not exceed the threshold, so the walk (every page
    /// and every page's reads, once more before the run reads them again) would only delay
    /// the first sync. The run is then prepared once, for real, before the review, so such a
    /// kind's `prepare` must write nothing a held first sync should not have written (e-mail:
    /// the ids it keeps, and a missing sync folder created empty, which has nothing to
    /// review). Items arriving after the total was read are not in it; a planning walk
    /// misses those that arrive after it, too. Default: `false` (the first sync is planned).
    fn total_bounds_first_sync(&self) -> bool {
        false
    }

    /// The questions that tell, without running the mailbox, that nothing changed since its
    /// last complete round (see [`Engine::idle`](crate::engine::Engine::idle)), read from the
    /// store only: **one probe per source** the run would walk (a Graph source's stored delta
    /// link, a CRM source's stored update stamp or fingerprint), since the mailbox is left out
    /// only when every probe answers "unchanged". `None` (the default) when the kind
    /// cannot tell for some source (never synchronized, a round in progress, a full walk due,
    /// a source without a change check): the mailbox is run. `reads` holds what the store
    /// keeps for every mailbox of the batch (read once for all of them).
    fn probes(&self, _reads: &ProbeReads, _target: &MailboxTarget) -> Option<Vec<Probe>> {
        None
    }

    /// Who answers [`SyncKind::probes`], many mailboxes per request; `None` (the default):
    /// every mailbox is run every cycle.
    fn prober(&self) -> Option<&dyn Prober> {
        None
    }

    /// Whether `source` is read from the start in every run (an enumeration that reconciles
    /// each time, e.g. a CRM selection without a change feed). Its round's `done` value is
    /// still stored at the end of a complete round, but only for [`SyncKind::probes`] to
    /// compare with; it is never handed back to [`SyncKind::page`]. Default: `false`.
    fn reads_whole(&self, _source: &Source) -> bool {
        false
    }

    /// Whether the next page of `source` may be read while the items of the page before it
    /// are worked, and its items started once the page before it has none left to start.
    /// Otherwise the read (a Graph request, and whatever the kind reads with it) and the
    /// next items would wait for the page's slowest item, leaving the mailbox's slots idle:
    /// a first sync of a full folder pays that once per page. At most two pages are in hand
    /// (read, or being read, and not finished). Only for a kind whose [`SyncKind::page`]
    /// keeps nothing in the run's state that the items of the page before still use (e-mail
    /// keeps the facts of the two latest pages for that reason), and whose items of
    /// consecutive pages may run in any order. The checkpoint still advances only when
    /// every item of a page and of the pages before it is done; a page read ahead of a
    /// delayed item is read again next time (its done items are recognised by their
    /// links). Default: `false`.
    fn reads_ahead(&self, _source: &Source) -> bool {
        false
    }

    /// One page of `source`, from the start (`None`) or from a checkpoint.
    async fn page(
        &self,
        cx: &RunCx<'_>,
        run: &Self::Run,
        source: &Source,
        checkpoint: Option<&str>,
    ) -> Result<Page<Self::Change>, PortError>;

    /// Which item a change is about; `None` when it is none of this kind's business (gone,
    /// not in the synchronized folder).
    fn identify(&self, cx: &RunCx<'_>, run: &Self::Run, change: &Self::Change) -> Option<Identity>;

    /// What the ledger should say about a change when the engine fails it (subject, keys): the
    /// `detail` of its failure entry.
    fn describe(&self, _change: &Self::Change) -> Option<serde_json::Value> {
        None
    }

    /// The date `[mailboxes] sync_from` compares with (received date of a message, start of
    /// an appointment, due date of a task...); `None`: the item is never left alone for its
    /// age. On the first sync of a mailbox and kind, an unlinked item dated before
    /// `sync_from` is skipped with a ledger entry and no link (a later change of it, after
    /// the first round, is worked as usual).
    fn dated(&self, _change: &Self::Change) -> Option<jiff::Timestamp> {
        None
    }

    /// A linked item that a reconciling walk of `source` did not see (see
    /// [`Source::reconcile`]), as a change to work, or `None` to leave it (a kind with two
    /// sources tells by `source` which side the item vanished from).
    fn vanished(&self, _run: &Self::Run, _source: &Source, _link: Link) -> Option<Self::Change> {
        None
    }

    /// The decision that needs nothing but the change and its link, or `None`.
    fn triage(
        &self,
        cx: &RunCx<'_>,
        run: &Self::Run,
        change: &Self::Change,
        link: Option<&Link>,
    ) -> Option<Self::Decision>;

    /// Read what the decision needs (the other side's record, people, other links).
    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &Self::Run,
        change: &Self::Change,
    ) -> Result<Self::Facts, PortError>;

    /// The decision, from the change, its link and the facts.
    fn decide(
        &self,
        cx: &RunCx<'_>,
        run: &Self::Run,
        change: &Self::Change,
        link: Option<&Link>,
        facts: &Self::Facts,
    ) -> Self::Decision;

    /// What `decision` amounts to: the outcome [`SyncKind::apply`] will report for it, the
    /// side it writes and why. A plan counts decisions by it, and the mass-delete guard holds
    /// those it calls deletions. Every kind's mapping is in [`crate::plan::map`].
    fn planned(&self, decision: &Self::Decision) -> Planned;

    /// Carry the decision out (the writes), saying what to commit.
    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        run: &Self::Run,
        change: &Self::Change,
        decision: Self::Decision,
    ) -> Result<Applied, PortError>;

    /// After the run's sources were walked (also when a page was delayed to the next run or
    /// the mailbox failed): what the kind does once per run rather than once per item, such
    /// as one notice per user for all the run's messages. `run` is `None` when the
    /// preparation found nothing to walk (work an earlier run left, kept under a
    /// [`gc_store::PENDING`] name, is still done). Not called when planning, after a
    /// tenant error, or once the run was called off. Must be harmless to repeat.
    async fn end_run(&self, _cx: &RunCx<'_>, _run: Option<&Self::Run>) -> Result<(), PortError> {
        Ok(())
    }

    /// What happens after the commit (also for a failed item, with `applied.outcome`
    /// [`ItemOutcome::Failed`]). Must be harmless to repeat: after a crash it runs again.
    async fn finish(
        &self,
        cx: &ItemCx<'_>,
        run: &Self::Run,
        change: &Self::Change,
        applied: &Applied,
    ) -> Result<(), PortError>;
}
