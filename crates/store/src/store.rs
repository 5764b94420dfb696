//! The [`StateStore`] trait: everything the sync engine persists.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::io::AsyncWrite;
use uuid::Uuid;

use crate::error::StoreError;
use crate::lease::{Lease, LeaseFence};
use crate::probe_reads::ProbeReads;
use crate::schedule::ScheduleEntry;
use crate::types::{
    Alert, AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit, ItemRetry, Kind, KindRun,
    LedgerEntry, LedgerFilter, Link, MailboxExclusion, MailboxFailure, MailboxRecord,
    MailboxUpsert, NewAlert, NewLedgerEntry, Run, RunCounts, RunOutcome, SubscriptionRecord,
};
use crate::url::Backend;

/// Kept names that start with this mark work a run left to do (a notice to the user not sent
/// yet): [`StateStore::needing_runs`] runs their mailbox whatever a change probe says, so an
/// idle mailbox does not sit on them.
pub const PENDING: &str = "pending:";

/// Result alias of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The connector's memory of what it has synchronized.
///
/// Object safe: callers hold an `Arc<dyn StateStore>` from [`crate::open`]. Both backends
/// pass the same conformance suite (`tests/conformance.rs`). Every timestamp the store writes
/// comes from the database clock, so several processes sharing one PostgreSQL database agree
/// on lease expiry, exclusion ends and ledger times.
///
/// Crash safety (see `docs/STORE.md`): store the intent link ([`crate::LinkState::Interrupted`])
/// under the item's fences, write the CRM record (findable again by external key / global
/// key, so a repeat becomes an adoption), then call [`StateStore::commit_item`] with the
/// link, ledger entries, cursor advance and fences (one transaction), and only after that
/// move the Graph message to its success/failure folder.
///
/// Fenced writes (`fences` arguments, [`ItemCommit::fences`]) check in their own
/// transaction that every [`LeaseFence`] is still held (key, holder, generation, not
/// expired by the database clock) and fail with [`StoreError::LeaseLost`], writing nothing,
/// when one is not. An empty list means unfenced.
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The database clock.
    async fn now(&self) -> Result<Timestamp>;

    /// Close the connection pool (waits for checked-out connections).
    async fn close(&self);

    // ----- mailboxes -------------------------------------------------------------------

    /// Insert or update a mailbox from the CRM rep list. Health, schedule and local pauses
    /// are kept.
    /// `graph_user_id: None` keeps a stored id unless the address changed.
    async fn upsert_mailbox(&self, mailbox: &MailboxUpsert) -> Result<MailboxRecord>;

    /// One mailbox by rep id.
    async fn get_mailbox(&self, rep_id: &str) -> Result<Option<MailboxRecord>>;

    /// The mailbox's exclusion if it is excluded now (by the store's clock); `None` when it
    /// is not, or unknown. One statement: every mailbox run checks it under its lease, and
    /// [`StateStore::get_mailbox`] would read the schedule rows too.
    async fn exclusion(&self, rep_id: &str) -> Result<Option<MailboxExclusion>>;

    /// All mailboxes, ordered by rep id.
    async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>>;

    /// Every mailbox as the service's scheduler reads it on each pass (ordered by rep id):
    /// whether it may run, when each kind is due, its backlog; none of the texts of
    /// [`StateStore::list_mailboxes`]. Read row by row, so a pass over thousands of
    /// mailboxes holds only the result.
    async fn schedule(&self) -> Result<Vec<ScheduleEntry>>;

    /// Enable or disable a mailbox. `NotFound` if unknown.
    async fn set_enabled(&self, rep_id: &str, enabled: bool) -> Result<()>;

    /// Store (or forget) the resolved Entra object id. `NotFound` if unknown.
    async fn set_graph_user_id(&self, rep_id: &str, graph_user_id: Option<&str>) -> Result<()>;

    /// A run of this mailbox succeeded: reset the failure counter, end any exclusion.
    /// The last error kind/text are kept for the admin page. `NotFound` if unknown. Every
    /// run that completes calls it, so it writes and reads nothing more.
    async fn record_success(&self, rep_id: &str) -> Result<()>;

    /// A mailbox-level failure: increment `consecutive_failures`, remember kind and text.
    /// With `exclusion: Some(p)`, the mailbox is excluded for `p.exclude_for` once the
    /// counter (including this failure) reaches `p.after_failures`; pass `Some` only for
    /// failures that should count towards exclusion (access errors). `NotFound` if unknown.
    async fn record_failure(
        &self,
        rep_id: &str,
        failure: &MailboxFailure,
        exclusion: Option<ExclusionPolicy>,
    ) -> Result<MailboxRecord>;

    /// End an exclusion early (admin "retry now"). `NotFound` if unknown.
    async fn clear_exclusion(&self, rep_id: &str) -> Result<()>;

    /// Set when `kind` is next due for this mailbox. `NotFound` if the mailbox is unknown.
    async fn set_next_due(&self, rep_id: &str, kind: Kind, at: Timestamp) -> Result<()>;

    /// Enabled, not excluded, not paused mailboxes for which `kind` is due now (never
    /// scheduled counts as due), most overdue first, at most `limit`.
    async fn due_mailboxes(&self, kind: Kind, limit: u32) -> Result<Vec<MailboxRecord>>;

    /// Pause (`true`) or resume (`false`) a mailbox locally: all its kinds (`kind: None`) or
    /// one kind. Pausing what is paused keeps the original time. Only this call changes a
    /// pause; [`StateStore::upsert_mailbox`] never does. `NotFound` if the mailbox is unknown.
    async fn set_paused(&self, rep_id: &str, kind: Option<Kind>, paused: bool) -> Result<()>;

    /// Record how a scheduled run of `kind` ended and when the kind is due next.
    /// `NotFound` if the mailbox is unknown.
    async fn record_kind_run(&self, rep_id: &str, kind: Kind, run: &KindRun) -> Result<()>;

    /// Record, for each `(rep_id, next_due)`, a run of `kind` that found nothing to do (what
    /// [`StateStore::record_kind_run`] writes for a success with no error and no backlog), in
    /// one statement: the scheduler records the idle mailboxes of a `$batch` of probes
    /// together instead of one write each. Unknown mailboxes are skipped; a mailbox listed
    /// twice is recorded with its last entry.
    async fn record_idle_runs(&self, kind: Kind, idle: &[(String, Timestamp)]) -> Result<()>;

    /// Which of `mailboxes` need a run of `kind` whatever a change probe says, in one
    /// statement for the whole batch: excluded at `at` (their run reports the exclusion),
    /// holding items of `kind` that wait for a retry, or keeping a name of `kind` that starts
    /// with [`PENDING`](crate::PENDING) (work a run left to do, such as a notice not sent yet).
    /// Unknown mailboxes are not listed.
    async fn needing_runs(
        &self,
        kind: Kind,
        mailboxes: &[String],
        at: Timestamp,
    ) -> Result<Vec<String>>;

    /// What the idle pre-pass reads for `mailboxes` and `kind` (cursors, kept names, the Graph
    /// ids of unsettled links, see [`ProbeReads`]) in three statements for the whole batch,
    /// with the store's clock.
    async fn probe_reads(&self, kind: Kind, mailboxes: &[String]) -> Result<ProbeReads>;

    // ----- cursors ---------------------------------------------------------------------

    /// The cursor of one mailbox, kind and scope.
    async fn get_cursor(&self, mailbox: &str, kind: Kind, scope: &str) -> Result<Option<Cursor>>;

    /// All cursors of a mailbox (optionally of one kind), ordered by kind and scope.
    async fn list_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<Vec<Cursor>>;

    /// Insert or replace a cursor, under `fences` (the mailbox lease): `LeaseLost` and no
    /// write if one is no longer held.
    async fn put_cursor(&self, cursor: &Cursor, fences: &[LeaseFence]) -> Result<()>;

    /// Delete one cursor (expired sync state: the next round re-enumerates and reconciles
    /// against the links), under `fences`. Returns whether it existed.
    async fn clear_cursor(
        &self,
        mailbox: &str,
        kind: Kind,
        scope: &str,
        fences: &[LeaseFence],
    ) -> Result<bool>;

    /// Delete all cursors of a mailbox (optionally of one kind). Returns how many.
    async fn clear_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<u64>;

    // ----- resolved names ----------------------------------------------------------------

    /// What a kind resolved `name` to for this mailbox (a folder path → its Graph id), so an
    /// idle cycle asks Graph nothing; `None` when it was never resolved or was forgotten.
    async fn get_resolved(&self, mailbox: &str, kind: Kind, name: &str) -> Result<Option<String>>;

    /// Every kept name of one mailbox and kind with its value, ordered by name: what a run
    /// needs at its start (its hold, a reset date, folder ids) in one statement instead of a
    /// read per name.
    async fn resolved_of(&self, mailbox: &str, kind: Kind) -> Result<Vec<(String, String)>>;

    /// Every kept value named `name`, of every mailbox and kind, ordered by mailbox and kind
    /// (e.g. the hold of every mailbox and kind waiting for the administrator).
    async fn list_resolved(&self, name: &str) -> Result<Vec<(String, Kind, String)>>;

    /// Keep what `name` resolved to (`Some`), or forget it (`None`: Graph answered 404 for
    /// the id, so the next run resolves the name again).
    async fn put_resolved(
        &self,
        mailbox: &str,
        kind: Kind,
        name: &str,
        value: Option<&str>,
    ) -> Result<()>;

    /// Forget every name of one mailbox and kind that starts with `prefix` (the pending
    /// notices a digest just told the user about). Returns how many.
    async fn clear_resolved_prefix(&self, mailbox: &str, kind: Kind, prefix: &str) -> Result<u64>;

    // ----- change-notification subscriptions ----------------------------------------

    /// Every stored subscription.
    async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>>;

    /// Keep a subscription (replacing the mailbox and kind's previous one).
    async fn put_subscription(&self, subscription: &SubscriptionRecord) -> Result<()>;

    /// Forget the subscription `subscription_id`. Returns whether there was one.
    async fn delete_subscription(&self, subscription_id: &str) -> Result<bool>;

    // ----- links -----------------------------------------------------------------------

    /// The link of one Graph item.
    async fn get_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<Option<Link>>;

    /// All links (any mailbox) sharing a global key (`internetMessageId`, `iCalUId`),
    /// ordered by mailbox: the tenant-wide dedup lookup.
    async fn links_by_global_key(&self, kind: Kind, global_key: &str) -> Result<Vec<Link>>;

    /// All links (any mailbox) to one CRM record, ordered by mailbox.
    async fn links_by_crm_id(&self, kind: Kind, crm_id: CrmId) -> Result<Vec<Link>>;

    /// Links of one mailbox and kind ordered by Graph id, after `after_graph_id` (keyset
    /// paging), at most `limit`. Used to reconcile after a re-enumeration.
    async fn list_links(
        &self,
        mailbox: &str,
        kind: Kind,
        after_graph_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>>;

    /// Links of one mailbox and kind whose Microsoft 365 side is not settled: an intent
    /// without a CRM id ([`crate::LinkState::Interrupted`]: a write to CRM was begun and cut
    /// off), or an active link to a CRM record whose Graph item the connector wrote and no
    /// change feed has reported yet (a Graph version but no Graph hash), and with `since`,
    /// every active link to a CRM record written after `since` (the time its source's
    /// checkpoint was stored: a round that linked items and was cut off before storing its
    /// own checkpoint). A change feed need not report the removal of an item it never
    /// reported, or reported only in a round whose checkpoint was lost, so these are read by
    /// id.
    async fn unsettled_links(
        &self,
        mailbox: &str,
        kind: Kind,
        since: Option<Timestamp>,
    ) -> Result<Vec<Link>>;

    /// Insert or replace a link (keyed by kind, mailbox, Graph id), under `fences`: the
    /// intent marker ([`crate::LinkState::Interrupted`]) stored before a CRM write goes
    /// through here, fenced by the mailbox and global-key leases.
    async fn upsert_link(&self, link: &Link, fences: &[LeaseFence]) -> Result<()>;

    /// Insert or replace many links in one transaction (bulk import, adoption scans).
    async fn upsert_links(&self, links: &[Link]) -> Result<()>;

    /// Delete a link. Returns whether it existed.
    async fn delete_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<bool>;

    // ----- item commit and ledger --------------------------------------------------------

    /// Apply the link upsert, the ledger entries and the cursor update in ONE transaction,
    /// which first checks [`ItemCommit::fences`]: `LeaseLost` if one is no longer held. The
    /// link's retry state (see [`StateStore::record_retry`]) is deleted in it too, unless the
    /// caller knows there is none ([`ItemCommit::no_retry_row`]).
    /// On error nothing is changed. Returns the ids of the ledger entries, in order.
    async fn commit_item(&self, commit: &ItemCommit) -> Result<Vec<i64>>;

    /// Append one ledger entry on its own. Returns its id.
    async fn record_ledger(&self, entry: &NewLedgerEntry) -> Result<i64>;

    /// Ledger entries matching `filter`, newest first.
    async fn query_ledger(&self, filter: &LedgerFilter) -> Result<Vec<LedgerEntry>>;

    /// Retention: delete ledger entries older than `age`. Returns how many.
    async fn purge_ledger_older_than(&self, age: Duration) -> Result<u64>;

    /// Write the entries matching `filter` (its `limit` is ignored) as JSON lines, oldest
    /// first, streaming from the database. Returns the number of lines.
    async fn export_ledger_jsonl(
        &self,
        filter: &LedgerFilter,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64>;

    // ----- item retries -------------------------------------------------------------------

    /// What an item's attempt reads first, in one statement: the item's link
    /// ([`get_link`](Self::get_link)) and its retry state ([`get_retry`](Self::get_retry)),
    /// `item_key` being the link's Graph id. Every item of every run asks this, and each
    /// statement is a round trip to the database.
    async fn link_and_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
    ) -> Result<(Option<Link>, Option<ItemRetry>)>;

    /// The retry state of one item, if it failed transiently before.
    async fn get_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
    ) -> Result<Option<ItemRetry>>;

    /// Count one more failed attempt: `attempts + 1`, `retry_at = now + delay` (database clock),
    /// `last_error = error`. Returns the new state.
    async fn record_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
        error: &str,
        delay: Duration,
    ) -> Result<ItemRetry>;

    /// Forget an item's retry state (also done by [`StateStore::commit_item`] for its link).
    /// Returns whether there was one.
    async fn clear_retry(&self, kind: Kind, mailbox: &str, item_key: &str) -> Result<bool>;

    /// Items waiting for a retry (of one mailbox, or all), soonest first, at most `limit`.
    async fn list_retries(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<ItemRetry>>;

    // ----- runs --------------------------------------------------------------------------

    /// Record the start of a run; the id is a fresh UUID v7.
    async fn start_run(&self, mailbox: &str, kind: Kind) -> Result<Run>;

    /// Record the end of a run. `NotFound` if the id is unknown.
    async fn finish_run(
        &self,
        id: Uuid,
        counts: &RunCounts,
        outcome: RunOutcome,
        error: Option<&str>,
    ) -> Result<Run>;

    /// One run.
    async fn get_run(&self, id: Uuid) -> Result<Option<Run>>;

    /// Most recent runs (of one mailbox, or all), newest first.
    async fn list_runs(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<Run>>;

    /// Retention for runs: delete runs started more than `age` ago. Returns how many.
    async fn purge_runs_older_than(&self, age: Duration) -> Result<u64>;

    // ----- alerts ------------------------------------------------------------------------

    /// Raise an alert unless one with the same key was raised less than `repeat_after` ago
    /// (then `None`). Atomic across processes sharing the database: of two processes raising
    /// the same alert at once, one gets it. The new alert is `Pending`.
    async fn raise_alert(&self, alert: &NewAlert, repeat_after: Duration) -> Result<Option<Alert>>;

    /// Record what became of an alert. `NotFound` if the id is unknown.
    async fn set_alert_delivery(
        &self,
        id: i64,
        delivery: AlertDelivery,
        error: Option<&str>,
    ) -> Result<()>;

    /// Most recent alerts, newest first.
    async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>>;

    /// Retention for alerts: delete alerts raised more than `age` ago. Returns how many.
    async fn purge_alerts_older_than(&self, age: Duration) -> Result<u64>;

    // ----- leases ------------------------------------------------------------------------

    /// Take `key` for `holder` for `ttl` if it is free, expired, or already held by
    /// `holder` (then it is extended and keeps its generation). Atomic across processes.
    /// `None` when someone else holds it.
    async fn try_acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseFence>>;

    /// Extend a lease still held with this fence (same holder and generation, not expired).
    /// `false` means it was lost: stop working on it.
    async fn renew_lease(&self, fence: &LeaseFence, ttl: Duration) -> Result<bool>;

    /// Give a lease up. Returns whether it was still held with this fence (expired or not);
    /// a lease taken over by someone else is left alone.
    async fn release_lease(&self, fence: &LeaseFence) -> Result<bool>;

    /// Claim up to `limit` of `candidates` that are free, expired or already ours (ours are
    /// renewed first). Returns the fences of the keys now held by `holder` from this call,
    /// sorted by key.
    async fn acquire_leases(
        &self,
        holder: &str,
        candidates: &[String],
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<LeaseFence>>;

    /// Renew every unexpired lease of `holder`. Returns the fences still held, sorted by
    /// key.
    async fn renew_leases(&self, holder: &str, ttl: Duration) -> Result<Vec<LeaseFence>>;

    /// Release every lease of `holder` (shutdown). Returns how many.
    async fn release_leases(&self, holder: &str) -> Result<u64>;

    /// All lease rows (including expired ones), ordered by key.
    async fn list_leases(&self) -> Result<Vec<Lease>>;
}
