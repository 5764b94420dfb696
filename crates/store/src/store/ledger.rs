//! [`LedgerStore`]: the decision ledger.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWrite;

use super::Result;
use crate::types::{LedgerEntry, LedgerFilter, NewLedgerEntry};

/// The decision ledger: what was decided for each item and why, appended by commits and
/// read back by the admin page and the `ledger` command.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait LedgerStore: Send + Sync {
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
}
