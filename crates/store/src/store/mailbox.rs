//! [`MailboxStore`]: the mailboxes, their health, pauses and per-kind schedule.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::Result;
use crate::probe_reads::ProbeReads;
use crate::schedule::ScheduleEntry;
use crate::types::{
    ExclusionPolicy, Kind, KindRun, MailboxExclusion, MailboxFailure, MailboxRecord, MailboxUpsert,
};

/// The mailboxes synchronized: each rep's mailbox with its health (failures, exclusion), its
/// local pauses and when each kind is next due, and what the service's scheduler and the idle
/// pre-pass read of many mailboxes at once.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait MailboxStore: Send + Sync {
    /// Insert or update a mailbox from the CRM rep list. Health, schedule and local pauses
    /// are kept.
    /// `graph_user_id: None` keeps a stored id unless the address changed.
    async fn upsert_mailbox(&self, mailbox: &MailboxUpsert) -> Result<MailboxRecord>;

    /// One mailbox by rep id.
    async fn get_mailbox(&self, rep_id: &str) -> Result<Option<MailboxRecord>>;

    /// The mailbox's exclusion if it is excluded now (by the store's clock); `None` when it
    /// is not, or unknown. One statement: every mailbox run checks it under its lease, and
    /// [`MailboxStore::get_mailbox`] would read the schedule rows too.
    async fn exclusion(&self, rep_id: &str) -> Result<Option<MailboxExclusion>>;

    /// All mailboxes, ordered by rep id.
    async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>>;

    /// Every mailbox as the service's scheduler reads it on each pass (ordered by rep id):
    /// whether it may run, when each kind is due, its backlog; none of the texts of
    /// [`MailboxStore::list_mailboxes`]. Read row by row, so a pass over thousands of
    /// mailboxes holds only the result.
    async fn schedule(&self) -> Result<Vec<ScheduleEntry>>;

    /// The entries of [`MailboxStore::schedule`] of these mailboxes only (unknown ones are
    /// left out): what a pass started by a change notification reads instead of the whole
    /// schedule.
    async fn schedule_of(&self, rep_ids: &[String]) -> Result<Vec<ScheduleEntry>>;

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

    /// Make `kind` due `after` from now for this mailbox, by the store's clock read in the
    /// write itself (a change notification does this for every change, with zero: reading
    /// [`crate::StateStore::now`] first would be a second round trip on PostgreSQL).
    /// `NotFound` if the mailbox is unknown.
    async fn set_due_in(&self, rep_id: &str, kind: Kind, after: Duration) -> Result<()>;

    /// Enabled, not excluded, not paused mailboxes for which `kind` is due now (never
    /// scheduled counts as due), most overdue first, at most `limit`.
    async fn due_mailboxes(&self, kind: Kind, limit: u32) -> Result<Vec<MailboxRecord>>;

    /// Pause (`true`) or resume (`false`) a mailbox locally: all its kinds (`kind: None`) or
    /// one kind. Pausing what is paused keeps the original time. Only this call changes a
    /// pause; [`MailboxStore::upsert_mailbox`] never does. `NotFound` if the mailbox is unknown.
    async fn set_paused(&self, rep_id: &str, kind: Option<Kind>, paused: bool) -> Result<()>;

    /// Record how a scheduled run of `kind` ended and when the kind is due next.
    /// `NotFound` if the mailbox is unknown.
    async fn record_kind_run(&self, rep_id: &str, kind: Kind, run: &KindRun) -> Result<()>;

    /// Record, for each `(rep_id, next_due)`, a run of `kind` that found nothing to do (what
    /// [`MailboxStore::record_kind_run`] writes for a success with no error and no backlog), in
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
}
