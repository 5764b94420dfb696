//! Sync runs: how a run ended, its counters and the run row. Separate because runs are the
//! per-mailbox-and-kind history the admin page and the scheduler read, apart from items.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Kind, MailboxId};
use crate::error::StoreError;
use crate::lease::LeaseFence;

text_enum! {
    /// How a sync run ended.
    RunOutcome {
        /// Every item was processed successfully.
        Success => "success",
        /// The run finished but some items failed.
        Partial => "partial",
        /// The run stopped on an error (see [`Run::error`]).
        Failed => "failed",
        /// The run was interrupted (shutdown, lease lost).
        Cancelled => "cancelled",
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// Records created.
    pub created: u64,
    /// Existing records adopted.
    pub adopted: u64,
    /// Records updated.
    pub updated: u64,
    /// Items skipped.
    pub skipped: u64,
    /// Records deleted or soft-deleted.
    pub deleted: u64,
    /// Items failed.
    pub failed: u64,
    /// Warnings.
    pub warnings: u64,
}

/// One synchronization run of one mailbox and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Run id (UUID v7, so ids sort by start time).
    pub id: Uuid,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind.
    pub kind: Kind,
    /// Start (database clock).
    pub started_at: Timestamp,
    /// End, once finished.
    pub finished_at: Option<Timestamp>,
    /// Counters (zero until finished).
    pub counts: RunCounts,
    /// Outcome, once finished.
    pub outcome: Option<RunOutcome>,
    /// Error text for failed/cancelled runs.
    pub error: Option<String>,
}

/// The end of a run as one write (`RunStore::end_run`): the run's row, the mailbox's health
/// when the run went well, and the release of the mailbox lease the run held.
///
/// Why one write: the three belong together (a process killed between them left a finished
/// run whose lease had to lapse before the mailbox could run again), and each was a commit of
/// its own at the end of every run. Together they are one transaction, which SQLite's group
/// commit also joins with other items' writes: two commits fewer per run, two log flushes
/// fewer on PostgreSQL (docs/PERFORMANCE.md, the round of 2026-12-07 02:00 UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// The run (from `start_run`).
    pub id: Uuid,
    /// Its mailbox (rep id), whose health `success` records.
    pub mailbox: MailboxId,
    /// Its counters.
    pub counts: RunCounts,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Why it failed or stopped.
    pub error: Option<String>,
    /// The mailbox worked: its failure count and exclusion go, its last success is now (as
    /// `MailboxStore::record_success`; a mailbox removed meanwhile is no error).
    pub success: bool,
    /// The mailbox lease to give up with the rest (as `LeaseStore::release_lease`: a lease
    /// another holder has taken since is not touched).
    pub release: Option<LeaseFence>,
}
