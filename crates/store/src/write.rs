//! The writes an item makes while it is worked, as values: its global-key lease, its intent
//! (a link), its commit, a ledger entry; and the end of a mailbox's run. Each backend runs
//! them through its `write` method: PostgreSQL one by one, SQLite grouped with the writes of
//! other items in flight into one transaction (`sqlite/writer.rs`, docs/STORE.md "Group
//! commit").
//!
//! Values rather than calls so that a write can wait in a queue: they own what they write.

use std::time::Duration;

use crate::error::StoreError;
use crate::lease::LeaseFence;
use crate::types::{ItemCommit, Link, NewLedgerEntry, Run, RunEnd};

/// One write of an item.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// `LeaseStore::try_acquire_lease`.
    Lease {
        key: String,
        holder: String,
        ttl: Duration,
    },
    /// `LinkStore::upsert_link`, held to `fences`.
    Link {
        link: Box<Link>,
        fences: Vec<LeaseFence>,
    },
    /// `LedgerStore::record_ledger`.
    Ledger(Box<NewLedgerEntry>),
    /// `ItemStore::commit_item`.
    Commit(Box<ItemCommit>),
    /// `RunStore::end_run`.
    EndRun(Box<RunEnd>),
}

/// What a [`Write`] answers, variant by variant.
#[derive(Debug)]
pub(crate) enum Written {
    /// Of [`Write::Lease`]: the fence, if the lease was taken.
    Lease(Option<LeaseFence>),
    /// Of [`Write::Link`].
    Link,
    /// Of [`Write::Ledger`]: the entry's id.
    Ledger(i64),
    /// Of [`Write::Commit`]: the ledger entries' ids.
    Commit(Vec<i64>),
    /// Of [`Write::EndRun`]: the finished run.
    Run(Box<Run>),
}

impl Written {
    pub(crate) fn lease(self) -> Result<Option<LeaseFence>, StoreError> {
        match self {
            Written::Lease(f) => Ok(f),
            other => Err(mismatch(&other)),
        }
    }

    pub(crate) fn link(self) -> Result<(), StoreError> {
        match self {
            Written::Link => Ok(()),
            other => Err(mismatch(&other)),
        }
    }

    pub(crate) fn ledger(self) -> Result<i64, StoreError> {
        match self {
            Written::Ledger(id) => Ok(id),
            other => Err(mismatch(&other)),
        }
    }

    pub(crate) fn commit(self) -> Result<Vec<i64>, StoreError> {
        match self {
            Written::Commit(ids) => Ok(ids),
            other => Err(mismatch(&other)),
        }
    }

    pub(crate) fn run(self) -> Result<Run, StoreError> {
        match self {
            Written::Run(run) => Ok(*run),
            other => Err(mismatch(&other)),
        }
    }
}

/// An answer of another kind than the write's: a bug of the store, reported as an error
/// rather than a panic in a service.
fn mismatch(got: &Written) -> StoreError {
    StoreError::Corrupt {
        what: "write answer",
        detail: format!("unexpected {got:?}"),
    }
}
