//! Store leases held for the duration of a piece of work, renewed in the background.
//!
//! Used for the mailbox lease (one process works a mailbox at a time) and for the global-key
//! lease around find-or-create of an activity (one message filed by several reps, in parallel
//! mailbox runs or in several processes, gives one activity).
//!
//! A guard carries the lease's [`LeaseFence`]: the store's fenced writes (`commit_item`,
//! cursor writes, the intent link) take it and refuse to write once the lease was lost. The
//! guard also notices a lost lease itself ([`LeaseGuard::lost`]), so work under it can be
//! cancelled before its next CRM write instead of finding out at the commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_store::{LeaseFence, StateStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A held lease. Renewed every third of its TTL until [`LeaseGuard::release`] (or drop, which
/// releases in the background).
#[derive(Debug)]
pub struct LeaseGuard {
    store: Arc<dyn StateStore>,
    fence: LeaseFence,
    lost: CancellationToken,
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
        let asked = Instant::now();
        let Some(fence) = store.try_acquire_lease(key, holder, ttl).await? else {
            return Ok(None);
        };
        let lost = CancellationToken::new();
        let renew = tokio::spawn(renew_until_lost(
            store.clone(),
            fence.clone(),
            ttl,
            asked,
            lost.clone(),
        ));
        Ok(Some(LeaseGuard {
            store: store.clone(),
            fence,
            lost,
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

    /// The fence to pass to the store's fenced writes.
    pub fn fence(&self) -> &LeaseFence {
        &self.fence
    }

    /// Cancelled once the lease is known to be lost: a renewal found it taken over or
    /// expired, or renewals kept failing for a whole TTL (so it may have expired). Work under
    /// the lease should select on `lost().cancelled()` and stop before its next external
    /// write; the store would refuse its commit anyway.
    pub fn lost(&self) -> &CancellationToken {
        &self.lost
    }

    /// Whether the lease is known to be lost.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// The lease went with a store write (`ItemCommit::release`, `RunEnd::release`): stop
    /// renewing it and release nothing more.
    pub fn released_with_commit(mut self) {
        if let Some(r) = self.renew.take() {
            r.abort();
        }
    }

    /// Give the lease up now.
    pub async fn release(mut self) {
        if let Some(r) = self.renew.take() {
            r.abort();
        }
        if let Err(e) = self.store.release_lease(&self.fence).await {
            tracing::warn!(key = self.fence.key, error = %e, "lease release failed");
        }
    }
}

/// The renewal loop of one lease: renew every third of the TTL; trip `lost` and stop when a
/// renewal says the lease is gone, or when no renewal has succeeded for a whole TTL since
/// the last successful one was sent (the lease may have expired meanwhile).
async fn renew_until_lost(
    store: Arc<dyn StateStore>,
    fence: LeaseFence,
    ttl: Duration,
    acquired_asked: Instant,
    lost: CancellationToken,
) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    // The lease runs at least until `ttl` after the last successful request was sent.
    let mut valid_from = acquired_asked;
    loop {
        tokio::time::sleep(every).await;
        let asked = Instant::now();
        match store.renew_lease(&fence, ttl).await {
            Ok(true) => valid_from = asked,
            Ok(false) => {
                tracing::warn!(key = fence.key, "lease lost");
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::warn!(key = fence.key, error = %e, "lease renewal failed");
                if valid_from.elapsed() >= ttl {
                    tracing::warn!(
                        key = fence.key,
                        "lease not renewed for a whole TTL: treating it as lost"
                    );
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(r) = self.renew.take() {
            r.abort();
            let store = self.store.clone();
            let fence = self.fence.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = store.release_lease(&fence).await;
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
///
/// The lock also tells which store leases of its keys nobody holds any more: see
/// [`KeyGuard::store_lease`].
#[derive(Debug)]
pub struct KeyLocks {
    map: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Drawn at random for this set of locks: the last part of every store-lease holder
    /// taken under them starts with it.
    id: String,
}

impl Default for KeyLocks {
    fn default() -> Self {
        KeyLocks {
            map: Default::default(),
            id: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
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

impl KeyGuard {
    /// Take the store lease of this guard's key for `holder` followed by an attempt id,
    /// retrying with short pauses for at most `wait` (see [`LeaseGuard::acquire_within`]).
    ///
    /// A holding left by an earlier task of this process under the same locks is given up
    /// first instead of waited for: holding this guard proves that task is gone (it held the
    /// guard for as long as it held the lease). Such a holding is left when a task is
    /// cancelled while its acquisition is under way (the store may take the lease after the
    /// caller stopped waiting, and nobody is there to release it) or when the release a
    /// dropped [`LeaseGuard`] sends fails; it would otherwise block the key for the whole
    /// TTL, longer than `wait`. Whatever that task left queued is refused by the lease's
    /// new generation. Another process's holding is waited for as before.
    pub async fn store_lease(
        &self,
        store: &Arc<dyn StateStore>,
        holder: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<LeaseGuard>, gc_store::StoreError> {
        let holder = format!(
            "{holder}/{}.{}",
            self.locks.id,
            uuid::Uuid::new_v4().simple()
        );
        if let Some(g) = LeaseGuard::try_acquire(store, &self.key, &holder, ttl).await? {
            return Ok(Some(g));
        }
        if let Some(left) = store.lease(&self.key).await?
            && self.left_by_this_process(&left.holder)
            && store.release_lease(&left.fence()).await?
        {
            tracing::debug!(
                key = self.key,
                holder = left.holder,
                "gave up a key lease an earlier task of this process left"
            );
        }
        LeaseGuard::acquire_within(store, &self.key, &holder, ttl, wait).await
    }

    /// Whether `holder` was taken by a task under these locks (its last part starts with
    /// their id).
    fn left_by_this_process(&self, holder: &str) -> bool {
        holder
            .rsplit('/')
            .next()
            .and_then(|last| last.strip_prefix(self.locks.id.as_str()))
            .is_some_and(|rest| rest.starts_with('.'))
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

    async fn store() -> (tempfile::TempDir, Arc<dyn StateStore>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = gc_store::open(&url).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_held_lease_is_renewed_and_not_lost() {
        let (_dir, store) = store().await;
        let ttl = Duration::from_millis(300);
        let guard = LeaseGuard::try_acquire(&store, "m/email", "p1", ttl)
            .await
            .unwrap()
            .expect("free lease");
        tokio::time::sleep(ttl * 3).await;
        assert!(!guard.is_lost());
        // Renewed: nobody else can take it although three TTLs have passed.
        assert!(matches!(
            LeaseGuard::try_acquire(&store, "m/email", "p2", ttl).await,
            Ok(None)
        ));
        let fence = guard.fence().clone();
        guard.release().await;
        assert!(!store.renew_lease(&fence, ttl).await.unwrap());
    }

    #[tokio::test]
    async fn a_lease_taken_over_trips_the_token() {
        let (_dir, store) = store().await;
        let ttl = Duration::from_millis(600);
        let guard = LeaseGuard::try_acquire(&store, "m/email", "p1", ttl)
            .await
            .unwrap()
            .expect("free lease");
        // Someone releases the lease behind the guard's back and another holder takes it
        // (as after a pause past the TTL).
        assert!(store.release_lease(guard.fence()).await.unwrap());
        let other = store
            .try_acquire_lease("m/email", "p2", ttl * 10)
            .await
            .unwrap()
            .expect("released lease");
        assert!(other.generation > guard.fence().generation);
        tokio::time::timeout(ttl, guard.lost().cancelled())
            .await
            .expect("the renewal did not notice the lost lease");
        assert!(guard.is_lost());
        // The guard's fence no longer lets a write through.
        let err = store
            .put_cursor(
                &gc_store::Cursor::new("m", gc_store::Kind::Email, "inbox"),
                std::slice::from_ref(guard.fence()),
            )
            .await;
        assert!(matches!(err, Err(gc_store::StoreError::LeaseLost { .. })));
        // Releasing a lost guard leaves the new holder alone.
        guard.release().await;
        assert!(store.renew_lease(&other, ttl).await.unwrap());
    }

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

    /// What a task cancelled while its acquisition was under way leaves behind: the store
    /// took the lease for a holder under these locks, and no guard exists to release it.
    #[tokio::test]
    async fn a_key_lease_an_earlier_task_of_this_process_left_is_taken_over() {
        let (_dir, store) = store().await;
        let ttl = Duration::from_secs(60);
        let locks = Arc::new(KeyLocks::default());
        let left_holder = format!("p/m/item/{}.gone", locks.id);
        let left = store
            .try_acquire_lease("email:k", &left_holder, ttl)
            .await
            .unwrap()
            .expect("free lease");
        let local = locks.lock("email:k").await;
        let guard = local
            .store_lease(&store, "p/m/item", ttl, Duration::ZERO)
            .await
            .unwrap()
            .expect("the left holding was given up, not waited for");
        assert!(guard.fence().generation > left.generation);
        assert!(
            guard
                .fence()
                .holder
                .starts_with(&format!("p/m/item/{}.", locks.id))
        );
        // Whatever the gone task still had queued is refused.
        assert!(!store.renew_lease(&left, ttl).await.unwrap());
        guard.release().await;
    }

    #[tokio::test]
    async fn a_key_lease_of_another_process_or_engine_is_waited_for() {
        let (_dir, store) = store().await;
        let ttl = Duration::from_secs(60);
        let locks = Arc::new(KeyLocks::default());
        let elsewhere = KeyLocks::default();
        for (key, holder) in [
            ("email:a", "other-process/m/item/abc.def".to_owned()),
            ("email:b", format!("p/m/item/{}.live", elsewhere.id)),
            // Our id, but not in the last part: not a holder these locks made.
            ("email:c", format!("p/{}.x/item/abc.def", locks.id)),
        ] {
            let held = store
                .try_acquire_lease(key, &holder, ttl)
                .await
                .unwrap()
                .expect("free lease");
            let local = locks.lock(key).await;
            let none = local
                .store_lease(&store, "p/m/item", ttl, Duration::from_millis(60))
                .await
                .unwrap();
            assert!(none.is_none(), "{holder}");
            assert!(store.renew_lease(&held, ttl).await.unwrap(), "{holder}");
        }
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
