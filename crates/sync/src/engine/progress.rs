//! What the engine tells its caller while it works: one call per mailbox run start, per item
//! and per run end (the CLI draws progress bars from it, the daemon feeds its metrics).

use gc_store::Kind;
use serde::Serialize;

use crate::engine::report::MailboxReport;

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// A new record was written (for e-mails: the message was filed).
    Created,
    /// An existing record was adopted instead of writing a duplicate.
    Adopted,
    /// An existing record was updated.
    Updated,
    /// The counterpart was deleted (or marked deleted).
    Deleted,
    /// Already in sync; at most finished (for e-mails: filed earlier, only moved now).
    Unchanged,
    /// Skipped on purpose, with the reason in the ledger.
    Skipped,
    /// Failed, with the reason in the ledger.
    Failed,
    /// Delayed by a transient error: retried later.
    Delayed,
    /// Nothing to do (gone, or not this kind's business).
    Ignored,
}

/// Receives progress of mailbox runs.
pub trait Progress: Send + Sync {
    /// A run of `kind` for `mailbox` (the rep's address) starts; `total` is the number of
    /// items expected, if known.
    fn start(&self, _mailbox: &str, _kind: Kind, _total: Option<u64>) {}
    /// One item was handled.
    fn item(&self, _mailbox: &str, _kind: Kind, _outcome: ItemOutcome, _warnings: u64) {}
    /// The run ended.
    fn finish(&self, _report: &MailboxReport) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
