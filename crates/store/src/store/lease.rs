//! [`LeaseStore`]: the leases several processes share a tenant with.

use std::time::Duration;

use async_trait::async_trait;

use super::Result;
use crate::lease::{Lease, LeaseFence};

/// The leases that let several processes share one tenant: a key (a mailbox and kind, a
/// global key, an item, a running process) held by one holder until it expires, with a
/// generation that fences the writes made under it.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take `key` for `holder` for `ttl` if it is free, expired, or already held by
    /// `holder` (then it is extended and keeps its generation). Atomic across processes.
    /// `None` when someone else holds it.
    async fn try_acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseFence>>;

    /// Extend a lease still held with this fence (same holder and generation, not expired).
    /// `false` means it was lost: stop working on it.
    async fn renew_lease(&self, fence: &LeaseFence, ttl: Duration) -> Result<bool>;

    /// Give a lease up. Returns whether it was still held with this fence (expired or not);
    /// a lease taken over by someone else is left alone.
    async fn release_lease(&self, fence: &LeaseFence) -> Result<bool>;

    /// Claim up to `limit` of `candidates` that are free, expired or already ours (ours are
    /// renewed first). Returns the fences of the keys now held by `holder` from this call,
    /// sorted by key.
    async fn acquire_leases(
        &self,
        holder: &str,
        candidates: &[String],
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<LeaseFence>>;

    /// Renew every unexpired lease of `holder`. Returns the fences still held, sorted by
    /// key.
    async fn renew_leases(&self, holder: &str, ttl: Duration) -> Result<Vec<LeaseFence>>;

    /// Release every lease of `holder` (shutdown). Returns how many.
    async fn release_leases(&self, holder: &str) -> Result<u64>;

    /// The lease row of `key` (expired or not), if there is one.
    async fn lease(&self, key: &str) -> Result<Option<Lease>>;

    /// All lease rows (including expired ones), ordered by key.
    async fn list_leases(&self) -> Result<Vec<Lease>>;
}
