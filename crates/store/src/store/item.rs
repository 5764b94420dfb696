//! [`ItemStore`]: an item's commit and its retry state.

use std::time::Duration;

use async_trait::async_trait;

use super::Result;
use crate::types::{ItemCommit, ItemRetry, Kind, Link};

/// What an item's attempt reads and writes around its own link: its retry state after a
/// transient failure, and the one transaction ([`ItemStore::commit_item`]) that stores its
/// outcome.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Apply the link upsert, the ledger entries and the cursor update in ONE transaction,
    /// which first checks [`ItemCommit::fences`]: `LeaseLost` if one is no longer held. The
    /// link's retry state (see [`ItemStore::record_retry`]) is deleted in it too, unless the
    /// caller knows there is none ([`ItemCommit::no_retry_row`]).
    /// On error nothing is changed. Returns the ids of the ledger entries, in order.
    async fn commit_item(&self, commit: &ItemCommit) -> Result<Vec<i64>>;

    /// What an item's attempt reads first, in one statement: the item's link
    /// ([`get_link`](crate::LinkStore::get_link)) and its retry state
    /// ([`get_retry`](Self::get_retry)), `item_key` being the link's Graph id. Every item of every
    /// run asks this, and each statement is a round trip to the database.
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

    /// Forget an item's retry state (also done by [`ItemStore::commit_item`] for its link).
    /// Returns whether there was one.
    async fn clear_retry(&self, kind: Kind, mailbox: &str, item_key: &str) -> Result<bool>;

    /// Items waiting for a retry (of one mailbox, or all), soonest first, at most `limit`.
    async fn list_retries(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<ItemRetry>>;
}
