//! Sync runs: how a run ended, its counters and the run row. Separate because runs are the
//! per-mailbox-and-kind history the admin page and the scheduler read, apart from items.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Kind, MailboxId};
use crate::error::StoreError;

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
