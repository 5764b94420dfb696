//! Store leases held for the duration of a piece of work, renewed in the background.
//!
//! Used for the mailbox lease (one process works a mailbox at a time) and for the global-key
//! lease around find-or-create of an activity (one message filed by several reps, in parallel
//! mailbox runs or in several processes, gives one activity).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_store::StateStore;
use tokio::task::JoinHandle;

/// A held lease. Renewed every third of its TTL until [`LeaseGuard::release`] (or drop, which
/// releases in the background).
#[derive(Debug)]
pub struct LeaseGuard {
    store: Arc<dyn StateStore>,
    key: String,
    holder: String,
    renew: Option<JoinHandle<()>>,
}

impl LeaseGuard {
    /// Try once to take `key`.
    pub async fn try_acquire(
        store: &Arc<dyn StateStore>,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseGuard>, gc_store::StoreError> {
        if !store.try_acquire_lease(key, holder, ttl).await? {
            return Ok(None);
        }
        let renew = {
            let store = store.clone();
            let key = key.to_owned();
            let holder = holder.to_owned();
            tokio::spawn(async move {
                let every = (ttl / 3).max(Duration::from_millis(100));
                loop {
                    tokio::time::sleep(every).await;
                    match store.renew_lease(&key, &holder, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(key, "lease lost");
                            return;
                        }
                        Err(e) => tracing::warn!(key, error = %e, "lease renewal failed"),
                    }
                }
            })
        };
        Ok(Some(LeaseGuard {
            store: store.clone(),
            key: key.to_owned(),
            holder: holder.to_owned(),
            renew: Some(renew),
        }))
    }

    /// Take `key`, retrying with short pauses for at most `wait`. `Ok(None)` if it stayed
    /// held by someone else.
    pub async fn acquire_within(
        store: &Arc<dyn StateStore>,
        key: &str,
        holder: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<LeaseGuard>, gc_store::StoreError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if let Some(g) = Self::try_acquire(store, key, holder, ttl).await? {
                return Ok(Some(g));
            }
            if start.elapsed() >= wait {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Give the lease up now.
    pub async fn release(mut self) {
        if let Some(r) = self.renew.take() {
            r.abort();
        }
        if let Err(e) = self.store.release_lease(&self.key, &self.holder).await {
            tracing::warn!(key = self.key, error = %e, "lease release failed");
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(r) = self.renew.take() {
            r.abort();
            let store = self.store.clone();
            let key = std::mem::take(&mut self.key);
            let holder = std::mem::take(&mut self.holder);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = store.release_lease(&key, &holder).await;
                });
            }
        }
    }
}
