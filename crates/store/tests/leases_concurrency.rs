//! Lease concurrency: several "processes" (each its own connection pool) compete for 1,000
//! mailboxes, on PostgreSQL and on a shared SQLite file.
//!
//! How exclusivity is checked: every holder keeps a *belief* of how long it owns a key:
//! from the moment its claim (or renewal) returned until `time the request was sent + ttl`
//! (less the database clock's resolution). That belief is never longer than the lease in the
//! database (which started no earlier than the send time). A shared record of
//! `key → (holder, belief)` is checked on every successful claim: if another holder's belief
//! is still running, two processes would be working the same mailbox at once, and the test
//! fails. A holder clears its beliefs *before* it gives leases up (a release of some keys, or
//! the final `release_leases`): after the release another holder may take the key at once,
//! and a belief left behind would count that legal takeover as an overlap. (Until that was
//! done for the final release, the PostgreSQL run reported "double grants" under CPU load:
//! every one was a key taken from a holder that had already released everything.)
//!
//! Fences: the record also keeps the last grant of every key with its generation. A new
//! holding (another holder, or a new generation) must have a different generation than the
//! previous one, and a larger one whenever the previous grant's call had returned before the
//! new call was sent. A renewal must keep the generation. Holders also write under their
//! fences while they work (a cursor per key, as the engine stores its checkpoints): a write
//! that succeeds must not come after a grant of a larger generation to someone else had
//! returned, and every write under a fence that lapsed during a stall must fail with
//! `LeaseLost`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gc_store::{Cursor, Kind, LeaseFence, OpenOptions, StateStore, StoreError, lease_key};
use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

const MAILBOXES: usize = 1000;

/// The database clocks' resolution: SQLite's `unixepoch('subsec')` has milliseconds, so a
/// lease may start up to a millisecond before the local clock read at the call's send.
const CLOCK_RESOLUTION: Duration = Duration::from_millis(1);

/// One successful claim or renewal.
#[derive(Clone, Copy)]
struct Grant {
    holder: usize,
    generation: i64,
    /// When the call was sent / returned (local clock).
    sent: Timestamp,
    returned: Timestamp,
}

#[derive(Default)]
struct Record {
    /// key → the grant its holder believes in (cleared when the holder lets go).
    owners: HashMap<String, Grant>,
    /// key → the last grant recorded (never cleared).
    last: HashMap<String, Grant>,
    /// key → every grant of a new generation (generation, when its call returned).
    generations: HashMap<String, Vec<(i64, Timestamp)>>,
    violations: Vec<String>,
    claims: u64,
    takeovers_after_expiry: u64,
    new_generations: u64,
    fenced_writes: u64,
    fenced_writes_refused: u64,
    stale_writes_refused: u64,
}

impl Record {
    /// A claim (or renewal) of `fence` by `holder`, made by a call sent at `sent` that
    /// returned at `returned`. The store granted it at some instant in between, for `ttl`.
    ///
    /// Two grants certainly overlap only when neither can have started after the other's
    /// lease ended, whichever instants inside their calls the database chose: a call that
    /// waited on a loaded machine must not be mistaken for a double owner.
    fn claimed(
        &mut self,
        fence: &LeaseFence,
        holder: usize,
        sent: Timestamp,
        returned: Timestamp,
        ttl: Duration,
    ) {
        let key = fence.key.as_str();
        let grant = Grant {
            holder,
            generation: fence.generation,
            sent,
            returned,
        };
        self.claims += 1;
        let belief = ttl - CLOCK_RESOLUTION;
        if let Some(other) = self.owners.get(key)
            && other.holder != holder
        {
            let other_until = other.sent + belief;
            if other_until > returned && other.returned < sent + belief {
                self.violations.push(format!(
                    "{key}: holder {holder} claimed between {sent} and {returned} while \
                     holder {} (claimed between {} and {}) owns it until at least {other_until}",
                    other.holder, other.sent, other.returned
                ));
            } else {
                self.takeovers_after_expiry += 1;
            }
        }
        if let Some(prev) = self.last.get(key).copied()
            && (prev.holder != holder || prev.generation != fence.generation)
        {
            self.new_generations += 1;
            if prev.holder != holder && prev.generation == fence.generation {
                self.violations.push(format!(
                    "{key}: holders {} and {holder} got the same generation {}",
                    prev.holder, fence.generation
                ));
            }
            if prev.returned < sent && fence.generation <= prev.generation {
                self.violations.push(format!(
                    "{key}: holder {holder} got generation {} at {sent}..{returned}, not above \
                     generation {} of holder {} granted at {}..{}",
                    fence.generation, prev.generation, prev.holder, prev.sent, prev.returned
                ));
            }
        }
        let gens = self.generations.entry(key.to_owned()).or_default();
        if !gens.iter().any(|(g, _)| *g == fence.generation) {
            gens.push((fence.generation, returned));
        }
        self.last.insert(key.to_owned(), grant);
        self.owners.insert(key.to_owned(), grant);
    }

    /// A write under `fence`, sent at `sent`, succeeded: no larger generation of the key may
    /// have been granted (its call returned) before.
    fn fenced_write(&mut self, fence: &LeaseFence, holder: usize, sent: Timestamp) {
        self.fenced_writes += 1;
        if let Some(&(g, at)) = self.generations.get(&fence.key).and_then(|gens| {
            gens.iter()
                .find(|(g, at)| *g > fence.generation && *at < sent)
        }) {
            self.violations.push(format!(
                "{}: holder {holder} wrote at {sent} under generation {}, but generation {g} \
                 had been granted at {at}",
                fence.key, fence.generation
            ));
        }
    }

    /// A renewal of `fence` by `holder` returned it with `renewed` (same key).
    fn renewed(&mut self, held: &LeaseFence, renewed: &LeaseFence, holder: usize) {
        if held.generation != renewed.generation {
            self.violations.push(format!(
                "{}: holder {holder} renewed generation {} and got {}",
                held.key, held.generation, renewed.generation
            ));
        }
    }

    /// `holder` stops believing it owns `key` (lost, or about to be released).
    fn lost_or_released(&mut self, key: &str, holder: usize) {
        if self.owners.get(key).is_some_and(|g| g.holder == holder) {
            self.owners.remove(key);
        }
    }

    /// `holder` is about to release everything.
    fn releasing_all(&mut self, holder: usize) {
        self.owners.retain(|_, g| g.holder != holder);
    }
}

/// The checkpoint a holder stores while it works `fence`'s mailbox.
fn checkpoint(fence: &LeaseFence) -> Cursor {
    let mut c = Cursor::new(fence.key.clone(), Kind::Email, "inbox");
    c.next_link = Some(format!("page-of-generation-{}", fence.generation));
    c
}

fn keys() -> Vec<String> {
    (0..MAILBOXES)
        .map(|i| lease_key(&format!("rep-{i:04}"), Kind::Email))
        .collect()
}

async fn contend(stores: Vec<Arc<dyn StateStore>>, run_for: Duration) -> Record {
    let record = Arc::new(Mutex::new(Record::default()));
    let all = Arc::new(keys());
    let ttl = Duration::from_millis(1000);
    let deadline = tokio::time::Instant::now() + run_for;
    let mut tasks = Vec::new();
    for (holder, store) in stores.into_iter().enumerate() {
        let record = record.clone();
        let all = all.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("proc-{holder}");
            let mut rng = StdRng::seed_from_u64(holder as u64);
            let mut held: Vec<LeaseFence> = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let got: Vec<LeaseFence> = if holder % 2 == 0 {
                    let limit = rng.random_range(50..400);
                    let sent = Timestamp::now();
                    let got = store.acquire_leases(&name, &all, limit, ttl).await.unwrap();
                    let returned = Timestamp::now();
                    let mut r = record.lock().await;
                    for f in &got {
                        r.claimed(f, holder, sent, returned, ttl);
                    }
                    got
                } else {
                    // Single-key claims on random mailboxes, each timed by itself.
                    let mut got = Vec::new();
                    for _ in 0..30 {
                        let key = &all[rng.random_range(0..all.len())];
                        let sent = Timestamp::now();
                        if let Some(f) = store.try_acquire_lease(key, &name, ttl).await.unwrap() {
                            let returned = Timestamp::now();
                            record.lock().await.claimed(&f, holder, sent, returned, ttl);
                            got.push(f);
                        }
                    }
                    got
                };
                for f in got {
                    held.retain(|h| h.key != f.key);
                    held.push(f);
                }
                // "Work" on the mailboxes for a while, storing checkpoints under the fences.
                tokio::time::sleep(Duration::from_millis(rng.random_range(20..150))).await;
                for _ in 0..held.len().min(3) {
                    let f = held[rng.random_range(0..held.len())].clone();
                    let sent = Timestamp::now();
                    match store
                        .put_cursor(&checkpoint(&f), std::slice::from_ref(&f))
                        .await
                    {
                        Ok(()) => record.lock().await.fenced_write(&f, holder, sent),
                        // Lapsed on a loaded machine: allowed, the holder just stops.
                        Err(StoreError::LeaseLost { .. }) => {
                            record.lock().await.fenced_writes_refused += 1
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }

                match rng.random_range(0..10) {
                    // Stall past the TTL without renewing: our leases lapse and others take
                    // them; our beliefs end by themselves.
                    0 => {
                        let stale = std::mem::take(&mut held);
                        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
                        // Every fence held before the stall has lapsed (expired, or taken
                        // over since): no write may pass under it.
                        for f in stale.iter().take(3) {
                            match store
                                .put_cursor(&checkpoint(f), std::slice::from_ref(f))
                                .await
                            {
                                Err(StoreError::LeaseLost { .. }) => {
                                    record.lock().await.stale_writes_refused += 1
                                }
                                Ok(()) => record.lock().await.violations.push(format!(
                                    "{}: holder {holder} wrote under generation {} after \
                                     stalling past the TTL",
                                    f.key, f.generation
                                )),
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    }
                    // Release a random half.
                    1..=3 => {
                        let mut keep = Vec::new();
                        for f in held.drain(..) {
                            if rng.random_bool(0.5) {
                                record.lock().await.lost_or_released(&f.key, holder);
                                store.release_lease(&f).await.unwrap();
                            } else {
                                keep.push(f);
                            }
                        }
                        held = keep;
                    }
                    // Renew everything we still have.
                    _ => {
                        let sent = Timestamp::now();
                        let renewed = store.renew_leases(&name, ttl).await.unwrap();
                        let returned = Timestamp::now();
                        let mut r = record.lock().await;
                        for f in &held {
                            match renewed.iter().find(|n| n.key == f.key) {
                                Some(n) => {
                                    r.renewed(f, n, holder);
                                    r.claimed(n, holder, sent, returned, ttl);
                                }
                                None => r.lost_or_released(&f.key, holder),
                            }
                        }
                        held = renewed;
                    }
                }
            }
            // Let go of the beliefs first: from the release on, others may take the keys.
            record.lock().await.releasing_all(holder);
            store.release_leases(&name).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(record).ok().unwrap().into_inner()
}

async fn stalled_holder_loses_everything(stores: Vec<Arc<dyn StateStore>>) {
    let all = keys();
    let ttl = Duration::from_millis(1500);
    let stalled = stores[0].clone();
    let sent = Timestamp::now();
    let got = stalled
        .acquire_leases("stalled", &all, MAILBOXES, ttl)
        .await
        .unwrap();
    let returned = Timestamp::now();
    assert_eq!(
        got.len(),
        MAILBOXES,
        "the first holder gets all free mailboxes"
    );
    // The leases expire between these two instants (same clock as the database's).
    let expiry = sent + ttl;
    let surely_expired = returned + ttl;

    // The others keep polling; the stalled holder never renews. Measured in polling rounds,
    // not in time: the first round that starts once the leases have surely expired must take
    // every mailbox over (the live holders together may claim them all in one round).
    let mut taken: HashMap<String, Timestamp> = HashMap::new();
    loop {
        let round_start = Timestamp::now();
        for (i, store) in stores.iter().enumerate().skip(1) {
            let got = store
                .acquire_leases(&format!("live-{i}"), &all, MAILBOXES / 2 + 1, ttl)
                .await
                .unwrap();
            let at = Timestamp::now();
            for f in got {
                taken.entry(f.key).or_insert(at);
            }
        }
        if round_start >= surely_expired {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        taken.len(),
        MAILBOXES,
        "every mailbox was taken over in the first round after expiry"
    );
    let first = *taken.values().min().unwrap();
    assert!(
        first >= expiry,
        "taken over at {first}, before the lease expired at {expiry}"
    );
    eprintln!(
        "takeover of {MAILBOXES} mailboxes completed {:?} after the stalled holder's lease expired",
        taken.values().max().unwrap().duration_since(expiry)
    );
    assert!(
        stalled
            .renew_leases("stalled", ttl)
            .await
            .unwrap()
            .is_empty(),
        "stalled holder lost all"
    );
    let holders: std::collections::BTreeSet<String> = stalled
        .list_leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.holder)
        .collect();
    assert!(!holders.contains("stalled"), "{holders:?}");
    assert!(
        holders.len() >= 2,
        "live holders split the work: {holders:?}"
    );
}

async fn pg_processes(n: usize) -> Option<(common::TestDb, Vec<Arc<dyn StateStore>>)> {
    let db = common::postgres().await?;
    let mut stores = Vec::new();
    for _ in 0..n {
        let opts = OpenOptions {
            max_connections: Some(3),
            ..Default::default()
        };
        stores.push(gc_store::open_with(&db.url, &opts).await.unwrap());
    }
    Some((db, stores))
}

/// The common assertions on a contention run.
fn check(backend: &str, r: &Record) {
    assert!(
        r.violations.is_empty(),
        "{backend}: {} violations, e.g. {:?}",
        r.violations.len(),
        &r.violations[..r.violations.len().min(5)]
    );
    assert!(
        r.claims > MAILBOXES as u64,
        "enough contention: {} claims",
        r.claims
    );
    assert!(
        r.takeovers_after_expiry > 0,
        "some leases lapsed and were taken over"
    );
    assert!(r.new_generations > 0, "holders changed");
    assert!(r.fenced_writes > 0, "writes under held fences");
    assert!(
        r.stale_writes_refused > 0,
        "writes under lapsed fences were tried"
    );
    eprintln!(
        "{backend}: {} claims, {} takeovers after expiry, {} new generations, 0 overlaps; \
         {} fenced writes ({} refused as lapsed), {} writes after a stall all refused",
        r.claims,
        r.takeovers_after_expiry,
        r.new_generations,
        r.fenced_writes,
        r.fenced_writes_refused,
        r.stale_writes_refused
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_processes_never_share_a_mailbox() {
    let Some((db, stores)) = pg_processes(6).await else {
        return;
    };
    let r = contend(stores.clone(), Duration::from_secs(6)).await;
    check("postgres", &r);
    for s in stores {
        s.close().await;
    }
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stalled_holder_loses_its_mailboxes_within_the_ttl() {
    let Some((db, stores)) = pg_processes(3).await else {
        return;
    };
    stalled_holder_loses_everything(stores.clone()).await;
    for s in stores {
        s.close().await;
    }
    db.cleanup().await;
}

async fn sqlite_processes(n: usize) -> (common::TestDb, Vec<Arc<dyn StateStore>>) {
    let db = common::sqlite().await;
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(db.open_another().await);
    }
    (db, stores)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_processes_never_share_a_mailbox() {
    let (db, stores) = sqlite_processes(4).await;
    let r = contend(stores, Duration::from_secs(4)).await;
    check("sqlite", &r);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_stalled_holder_loses_its_mailboxes_within_the_ttl() {
    let (db, stores) = sqlite_processes(3).await;
    stalled_holder_loses_everything(stores).await;
    db.cleanup().await;
}
