//! [`LinkStore`]: the links between Graph items and CRM records.

use async_trait::async_trait;
use jiff::Timestamp;

use super::Result;
use crate::lease::LeaseFence;
use crate::types::{CrmId, Kind, Link};

/// The links between a Graph item and its CRM record, keyed by kind, mailbox and Graph id:
/// how an item is found again, deduplicated across mailboxes and reconciled.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// The link of one Graph item.
    async fn get_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<Option<Link>>;

    /// All links (any mailbox) sharing a global key (`internetMessageId`, `iCalUId`),
    /// ordered by mailbox: the tenant-wide dedup lookup.
    async fn links_by_global_key(&self, kind: Kind, global_key: &str) -> Result<Vec<Link>>;

    /// All links (any mailbox) to one CRM record, ordered by mailbox.
    async fn links_by_crm_id(&self, kind: Kind, crm_id: CrmId) -> Result<Vec<Link>>;

    /// Links of one mailbox and kind ordered by Graph id, after `after_graph_id` (keyset
    /// paging), at most `limit`. Used to reconcile after a re-enumeration.
    async fn list_links(
        &self,
        mailbox: &str,
        kind: Kind,
        after_graph_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>>;

    /// Links of one mailbox and kind whose Microsoft 365 side is not settled: an intent
    /// without a CRM id ([`crate::LinkState::Interrupted`]: a write to CRM was begun and cut
    /// off), or an active link to a CRM record whose Graph item the connector wrote and no
    /// change feed has reported yet (a Graph version but no Graph hash), and with `since`,
    /// every active link to a CRM record written after `since` (the time its source's
    /// checkpoint was stored: a round that linked items and was cut off before storing its
    /// own checkpoint). A change feed need not report the removal of an item it never
    /// reported, or reported only in a round whose checkpoint was lost, so these are read by
    /// id.
    async fn unsettled_links(
        &self,
        mailbox: &str,
        kind: Kind,
        since: Option<Timestamp>,
    ) -> Result<Vec<Link>>;

    /// Insert or replace a link (keyed by kind, mailbox, Graph id), under `fences`: the
    /// intent marker ([`crate::LinkState::Interrupted`]) stored before a CRM write goes
    /// through here, fenced by the mailbox and global-key leases.
    async fn upsert_link(&self, link: &Link, fences: &[LeaseFence]) -> Result<()>;

    /// Insert or replace many links in one transaction (bulk import, adoption scans).
    async fn upsert_links(&self, links: &[Link]) -> Result<()>;

    /// Delete a link. Returns whether it existed.
    async fn delete_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<bool>;
}
