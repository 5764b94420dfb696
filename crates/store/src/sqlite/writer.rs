//! Group commit: the writes of the items in flight (their key leases, intents, commits and
//! ledger entries) and the ends of mailbox runs, run by one task of the store's own, which
//! puts those that arrive while it is busy into one SQLite transaction.
//!
//! Why: every one of those writes was a transaction of its own, and a SQLite commit costs
//! more than the rows it writes: the write lock, each changed page appended to the WAL (4 KiB
//! and its checksum, whether one row of it changed or fifty), the WAL index updated. Filing an
//! e-mail made four such commits (its key lease, its intent, its link and ledger entry, the
//! "moved" entry), and the items in flight touch the same pages (the ledger's last leaf, the
//! links' and leases' indexes). SQLite runs one write transaction at a time anyway, so while
//! one commits the others wait; now they wait in the task's queue and go together.
//!
//! How, and why it is as safe as one transaction each:
//!
//! - The task takes the first write that arrives and every other already queued (at most
//!   [`MAX_GROUP`]), runs them in one `BEGIN IMMEDIATE` transaction in arrival order, commits,
//!   and only then answers each caller: a caller's write is durable (as far as
//!   `synchronous = NORMAL` makes any commit) when its call returns, exactly as before.
//! - A write that fails (a lost fence, a refused row, any database error) rolls the whole
//!   group back, and the task then runs every write of the group again on its own, as it did
//!   before grouping: each caller gets the answer its write gets alone, and nothing of a failed
//!   group was ever committed. Failures are rare (a lease lost under starvation), so the second
//!   pass costs nothing in steady work.
//! - A write alone in the queue runs as before (one statement, or its own transaction), so a
//!   quiet store pays nothing for the grouping.
//! - The writes run on a pool connection taken per group; reads go on using the others.
//! - Each group runs in the store's write turn, which the WAL checkpoint's RESTART takes too
//!   ([`super::checkpoint`]): back-to-back groups would otherwise starve it of the write lock.
//!
//! A caller that stops waiting (its task cancelled) does not stop its write: the task runs it
//! and drops the answer, as if the caller had died right after its commit. The engine is made
//! for that (docs/STORE.md, "Crash safety: the write order"): a link or ledger entry is found
//! again by the next attempt, and a key lease taken for nobody is given up by the next task of
//! the same process that needs the key (the engine's `KeyGuard::store_lease`), or lapses after
//! its TTL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection as _;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::store::Result;
use crate::write::{Write, Written};

use super::WriteTurn;

/// Most writes in one transaction: enough for every item in flight of a busy process (8
/// items in flight in each of up to a few dozen mailboxes send one write at a time each), few
/// enough that a group never holds SQLite's write lock for long.
const MAX_GROUP: usize = 64;

/// A queued write and where its answer goes.
struct Job {
    write: Write,
    answer: oneshot::Sender<Result<Written>>,
}

/// The queue of the store's writer task. Dropping it (with the store) ends the task once the
/// queue is empty.
#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Job>,
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the tests"))]
    counts: Arc<Counts>,
}

/// What the task did, for the tests: relaxed adds, one per group.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Groups of several writes committed together.
    pub(super) together: AtomicU64,
    /// Writes in those groups.
    pub(super) writes: AtomicU64,
    /// Groups rolled back and run again write by write.
    pub(super) rolled_back: AtomicU64,
}

impl Writer {
    /// Start the writer task on `pool`.
    pub(super) fn start(pool: SqlitePool, turn: WriteTurn) -> Self {
        let (queue, jobs) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        tokio::spawn(work(pool, jobs, turn, Arc::clone(&counts)));
        Writer { queue, counts }
    }

    /// What the task did so far.
    #[cfg(test)]
    pub(super) fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Run `write` (grouped with whatever else is queued) and return its answer.
    pub(super) async fn write(&self, write: Write) -> Result<Written> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Job { write, answer })
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?;
        answered
            .await
            .map_err(|_| StoreError::Backend(sqlx::Error::PoolClosed))?
    }
}

/// The task: take what is queued, run it, answer; until the queue is closed.
async fn work(
    pool: SqlitePool,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    turn: WriteTurn,
    counts: Arc<Counts>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = jobs.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // The checkpoint's RESTART takes the turn between two groups (see `checkpoint`).
        let _turn = turn.lock().await;
        run(&pool, &mut group, &counts).await;
    }
}

/// Run and answer the queued writes `group` (emptied): together when there are several and
/// none fails, else each on its own.
async fn run(pool: &SqlitePool, group: &mut Vec<Job>, counts: &Counts) {
    if group.len() > 1 {
        match together(pool, group).await {
            Ok(answers) => {
                counts.together.fetch_add(1, Ordering::Relaxed);
                counts
                    .writes
                    .fetch_add(answers.len() as u64, Ordering::Relaxed);
                for (job, answer) in group.drain(..).zip(answers) {
                    // A caller that stopped waiting needs no answer.
                    let _ = job.answer.send(Ok(answer));
                }
                return;
            }
            Err(e) => {
                counts.rolled_back.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(writes = group.len(), error = %e, "group commit rolled back; each write on its own");
            }
        }
    }
    for job in group.drain(..) {
        let answer = super::write_alone(pool, &job.write).await;
        let _ = job.answer.send(answer);
    }
}

/// Run `group` in one transaction; the first error rolls all of it back.
async fn together(pool: &SqlitePool, group: &[Job]) -> Result<Vec<Written>> {
    let mut conn = pool.acquire().await?;
    // IMMEDIATE: the write lock first, so the group never starts as a reader that must be
    // upgraded (and could fail with SQLITE_BUSY_SNAPSHOT).
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut answers = Vec::with_capacity(group.len());
    for job in group {
        answers.push(super::write_on(&mut tx, &job.write).await?);
    }
    tx.commit().await?;
    Ok(answers)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
