//! The engine's run policy: how mailboxes and items are worked, the same for every kind
//! (`[errors]`, `[state]`, `[mailboxes]`). The binary maps its configuration into it; tests
//! build it by hand.

use std::time::Duration;

/// How the engine works mailboxes and items.
#[derive(Debug, Clone)]
pub struct RunPolicy {
    /// Items of one mailbox worked at once (Graph allows 4 concurrent requests per mailbox;
    /// items mostly wait on CRM, so a few in flight keep both busy).
    pub item_concurrency: usize,
    /// Lease time-to-live (mailbox and global-key leases are renewed at a third of it).
    pub lease_ttl: Duration,
    /// How long to wait for another mailbox or process working the same global key.
    pub key_wait: Duration,
    /// How long a run waits for a mailbox another process holds (0: skip it as busy). A
    /// one-shot run after a crash sets it a little above the lease TTL, so the dead
    /// process's lease expires and the mailbox is worked.
    pub mailbox_wait: Duration,
    /// Exclude a mailbox after this many consecutive access errors, for this long
    /// (`[errors] exclude_after_access_errors`, `exclusion_minutes`).
    pub exclusion: Option<gc_store::ExclusionPolicy>,
    /// Stop a mailbox run after this many failed items (`[errors] stop_after_errors`).
    pub stop_after_errors: Option<u64>,
    /// An item that keeps failing transiently is failed for good after this many attempts
    /// (`[errors] item_retry_limit`), so it never holds its mailbox's checkpoint for ever.
    pub item_retry_limit: u32,
    /// Backoff after the second failed attempt of an item, doubled after each further one
    /// (the first failure is retried by the next run at once: most transient failures are).
    pub retry_backoff: Duration,
    /// Longest backoff between two attempts of an item.
    pub max_retry_backoff: Duration,
    /// Bytes of item content (small documents written with their activity) the whole process
    /// holds at once (`[mailboxes] memory_budget_mb`; see [`MemoryBudget`](super::MemoryBudget)).
    pub memory_budget: u64,
    /// `[mailboxes] sync_from`: on the first sync of a mailbox and kind (no round of a
    /// source completed yet), items the kind dates before this instant are left alone
    /// ([`SyncKind::dated`](super::SyncKind::dated)).
    pub sync_from: Option<jiff::Timestamp>,
    /// The mass-delete guard's limits (`[errors] max_delete_fraction`, `delete_guard_min`;
    /// see [`super::guard`]); `None`: off (the engine's default: the binary's configuration
    /// turns it on).
    pub delete_guard: Option<super::guard::GuardLimits>,
    /// `[mailboxes] confirm_first_sync_above`: a mailbox and kind whose first sync would
    /// create more records than this, or delete any, waits for the administrator's
    /// confirmation (see [`super::holds`]); `None`: no review.
    pub confirm_first_sync_above: Option<u64>,
}

impl RunPolicy {
    /// How long to wait after the `attempts`-th failed attempt: nothing after the first, then
    /// `retry_backoff` doubled per attempt, at most `max_retry_backoff`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        if attempts <= 1 {
            return Duration::ZERO;
        }
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(2))
            .unwrap_or(u32::MAX);
        self.retry_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_retry_backoff)
            .min(self.max_retry_backoff)
    }
}

impl Default for RunPolicy {
    fn default() -> Self {
        RunPolicy {
            item_concurrency: 4,
            lease_ttl: Duration::from_secs(120),
            key_wait: Duration::from_secs(30),
            mailbox_wait: Duration::ZERO,
            exclusion: None,
            stop_after_errors: None,
            item_retry_limit: 10,
            retry_backoff: Duration::from_secs(60),
            max_retry_backoff: Duration::from_secs(6 * 3600),
            memory_budget: 16 * 1024 * 1024,
            sync_from: None,
            delete_guard: None,
            confirm_first_sync_above: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RunPolicy {
            retry_backoff: Duration::from_secs(10),
            max_retry_backoff: Duration::from_secs(100),
            ..RunPolicy::default()
        };
        let secs: Vec<u64> = (1..=7).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![0, 10, 20, 40, 80, 100, 100]);
        assert_eq!(p.backoff(0).as_secs(), 0);
        assert_eq!(p.backoff(200).as_secs(), 100);
    }
}
