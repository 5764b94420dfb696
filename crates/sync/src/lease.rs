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

/// In-process locks by key, taken before the store lease of the same key.
///
/// The store lease serialises processes; it lapses when its holder cannot renew it in time
/// (a starved machine, a store that answers slowly). Another task of the *same* process could
/// then take the lease while the first is still writing to CRM and, finding no activity yet,
/// write a second one. Tasks of one process therefore also queue on this lock, which cannot
/// lapse. Entries live only while a key is held or awaited.
#[derive(Debug, Default)]
pub struct KeyLocks {
    map: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A held [`KeyLocks`] entry; dropping it lets the next task of this process in.
#[derive(Debug)]
pub struct KeyGuard {
    locks: Arc<KeyLocks>,
    key: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyLocks {
    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>
    {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until no other task of this process holds `key`, then holds it.
    pub async fn lock(self: &Arc<Self>, key: &str) -> KeyGuard {
        let mutex = self.map().entry(key.to_owned()).or_default().clone();
        let held = mutex.clone().lock_owned().await;
        KeyGuard {
            locks: self.clone(),
            key: key.to_owned(),
            mutex,
            held: Some(held),
        }
    }

    /// Keys currently held or awaited.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no key is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        self.held.take();
        let mut map = self.locks.map();
        // Clones are only made under the map lock: the map's and ours left means nobody waits.
        if Arc::strong_count(&self.mutex) <= 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn tasks_of_one_process_hold_a_key_one_at_a_time() {
        let locks = Arc::new(KeyLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let key = if i % 2 == 0 { "a" } else { "b" };
                let _g = locks.lock(key).await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // two keys: at most two tasks inside at once, never two with the same key
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert!(
            locks.is_empty(),
            "entries are removed when nobody holds or awaits them"
        );
    }

    #[tokio::test]
    async fn a_waiter_keeps_the_entry_until_it_is_done() {
        let locks = Arc::new(KeyLocks::default());
        let first = locks.lock("k").await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock("k").await;
            })
        };
        // queued: the map's, ours, our guard's, the waiter's and its pending lock's
        while Arc::strong_count(&first.mutex) < 5 {
            tokio::task::yield_now().await;
        }
        drop(first);
        assert_eq!(locks.len(), 1, "kept for the waiter");
        waiter.await.unwrap();
        assert!(locks.is_empty());
    }
}
