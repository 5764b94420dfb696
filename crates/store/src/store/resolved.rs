//! [`ResolvedNameStore`]: the names a kind keeps per mailbox (resolved ids, holds, pending
//! notices).

use async_trait::async_trait;

use super::Result;
use crate::types::Kind;

/// The names a kind keeps per mailbox (table `resolved_names`): what it resolved by name (a
/// folder path to its Graph id), and what a run keeps between runs (a hold, a reset date,
/// notices not sent yet, see [`PENDING`](crate::PENDING)).
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait ResolvedNameStore: Send + Sync {
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
}
