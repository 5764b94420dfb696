//! The item commit (everything stored when the engine finishes one item, in one transaction)
//! and the retry row of an item that failed transiently. Separate because the commit ties the
//! other areas together (link, ledger, cursor, fences, releases); the retry row is here because
//! the item's commit is what deletes it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Cursor, Kind, Link, MailboxId, NewLedgerEntry};

/// Everything that changes when the engine finishes one item, applied in one transaction
/// by [`crate::ItemStore::commit_item`]: either all of it is stored or none of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemCommit {
    /// The leases this commit must run under (typically the mailbox lease and the item's
    /// global-key lease). Each must still be held (key, holder, generation, unexpired by the
    /// database clock) when the transaction writes, or nothing is written and the commit
    /// fails with [`StoreError::LeaseLost`](crate::StoreError::LeaseLost). Empty: unfenced (single-process tools, tests).
    pub fences: Vec<crate::lease::LeaseFence>,
    /// Link to insert or replace.
    pub link: Option<Link>,
    /// Ledger entries to append.
    pub ledger: Vec<NewLedgerEntry>,
    /// Cursor to store (e.g. the next page checkpoint covering this item).
    pub cursor: Option<Cursor>,
    /// The caller knows the item has no retry row ([`ItemRetry`]): it read the item's retry
    /// state when the item started and nothing else writes it meanwhile. The commit then does
    /// not delete one (one statement fewer per item). `false`, the default: a commit with a
    /// link deletes the item's retry row, if any.
    pub no_retry_row: bool,
    /// Leases given up in the same transaction, after the writes (the item's global-key
    /// lease): whoever waits for the key then finds this item's link and the lease free at
    /// once, and the release needs no transaction of its own (on PostgreSQL one flush of the
    /// log per item fewer). A lease no longer held by its fence is left as it is; the fences
    /// above already decide whether the commit may write.
    pub release: Vec<crate::lease::LeaseFence>,
}

/// An item that failed transiently and waits for its next attempt: the engine retries it with
/// backoff across runs and fails it for good after `[errors] item_retry_limit` attempts, so one
/// poison item can never hold a mailbox's checkpoint for ever. The row is deleted when the
/// item's link is committed (filed, failed, or anything else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRetry {
    /// Kind of item.
    pub kind: Kind,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// The item (the link's Graph id, or the kind's item key).
    pub item_key: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this time (database clock).
    pub retry_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: String,
    /// Set by the store on write.
    pub updated_at: Option<Timestamp>,
}
