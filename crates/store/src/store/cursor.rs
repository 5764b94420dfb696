//! [`CursorStore`]: the delta cursors of each mailbox, kind and scope.

use async_trait::async_trait;

use super::Result;
use crate::lease::LeaseFence;
use crate::types::{Cursor, Kind};

/// The delta cursors: where each mailbox, kind and scope (a folder, a calendar window) left off
/// in its change feed.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait CursorStore: Send + Sync {
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
}
