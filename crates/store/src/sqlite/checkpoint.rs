//! The WAL checkpoints of a SQLite file store: run by a task of the store's own after
//! commits, instead of by the commit that finds the WAL past SQLite's `wal_autocheckpoint`.
//!
//! Why: SQLite's automatic checkpoint runs from the committing connection whenever the WAL
//! holds more than 1,000 pages, in PASSIVE mode, which copies only the frames no reader still
//! needs and never waits. The pool's connections read all the time and overlap, so no such
//! checkpoint ever copied the whole WAL, the WAL was never reset and stayed above the
//! threshold, and every commit tried again, each attempt sorting the whole WAL index: filing
//! 2,000 e-mails of 20 mailboxes ran 1,293 checkpoints for 8,286 commits, ~23 pages copied
//! each, 13.6 % of all the connector's instructions. So the pool's connections have the
//! automatic checkpoint off (`wal_autocheckpoint = 0`), and:
//!
//! - each connection's commit hook marks "written" and wakes the task when the mark was not
//!   set yet: one atomic swap per commit;
//! - the task, woken, clears the mark, waits [`OpenOptions::checkpoint_delay`] (a burst of
//!   commits shares one checkpoint), runs `PRAGMA wal_checkpoint(PASSIVE)`, and when the WAL
//!   still holds more than [`OpenOptions::checkpoint_restart_frames`] frames
//!   `wal_checkpoint(RESTART)`, which waits for the readers (through the busy timeout) so
//!   that the next commit starts the WAL from its beginning: the file stays bounded however
//!   busy the readers are;
//! - while nothing is written nothing runs: an idle service issues no statement;
//! - the RESTART takes the store's write turn, which the group commit's writer takes for each
//!   of its transactions ([`super::writer`]), so that it is not starved of the write lock.
//!
//! The mark is cleared before the wait, not after it: SQLite calls the commit hook just
//! before the transaction's frames go into the WAL, and this way every commit is followed by
//! a checkpoint that starts at least the delay after its hook (a commit during the wait or the
//! checkpoint finds the mark clear and wakes the task again).
//!
//! A failed checkpoint is logged and tried again after the next commit; it never fails a
//! store call. The task ends when the pool is closed (`StateStore::close`), and is aborted
//! when the store is dropped.
//!
//! [`OpenOptions::checkpoint_delay`]: crate::OpenOptions::checkpoint_delay
//! [`OpenOptions::checkpoint_restart_frames`]: crate::OpenOptions::checkpoint_restart_frames

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::open::OpenOptions;

use super::WriteTurn;

/// What the pool's commit hooks tell the checkpoint task; shared by every connection's hook
/// and the task.
#[derive(Debug, Default)]
pub(super) struct Commits {
    /// Set by a commit, cleared by the task when it starts a round.
    written: AtomicBool,
    /// Wakes the task: notified when a commit finds `written` clear.
    wake: Notify,
    /// Checkpoint rounds run, for the tests (a relaxed add per round).
    rounds: AtomicU64,
}

impl Commits {
    /// Install the commit hook on a new connection of the pool (its `after_connect`).
    pub(super) async fn hook(
        self: &Arc<Self>,
        conn: &mut SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        let commits = Arc::clone(self);
        conn.lock_handle().await?.set_commit_hook(move || {
            commits.committed();
            // Let the commit happen (`false` would turn it into a rollback).
            true
        });
        Ok(())
    }

    /// A transaction is committing. Runs on the connection's worker thread, inside SQLite:
    /// no statement, no lock, no allocation.
    fn committed(&self) {
        if !self.written.swap(true, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Checkpoint rounds run so far.
    #[cfg(test)]
    pub(super) fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }
}

/// The checkpoint task of a store. Dropping it (with the store) aborts the task.
#[derive(Debug)]
pub(super) struct Checkpointer {
    #[cfg(test)]
    commits: Arc<Commits>,
    task: JoinHandle<()>,
}

/// When a round runs and how far it goes.
#[derive(Debug, Clone, Copy)]
struct Settings {
    delay: Duration,
    restart_frames: i64,
}

impl Checkpointer {
    /// Start the task on `pool`, whose connections carry `commits`' hook.
    pub(super) fn start(
        pool: SqlitePool,
        commits: Arc<Commits>,
        turn: WriteTurn,
        options: &OpenOptions,
    ) -> Self {
        let settings = Settings {
            delay: options.checkpoint_delay,
            restart_frames: i64::from(options.checkpoint_restart_frames),
        };
        let task = tokio::spawn(run(pool, Arc::clone(&commits), turn, settings));
        Checkpointer {
            #[cfg(test)]
            commits,
            task,
        }
    }

    /// What the hooks and the task share.
    #[cfg(test)]
    pub(super) fn commits(&self) -> &Arc<Commits> {
        &self.commits
    }

    /// Whether the task has ended.
    #[cfg(test)]
    pub(super) fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Rounds until the pool is closed.
async fn run(pool: SqlitePool, commits: Arc<Commits>, turn: WriteTurn, settings: Settings) {
    // `Err(PoolClosed)` once the pool is closed: the end of the task, nothing to report.
    let _closed = pool
        .close_event()
        .do_until(rounds(&pool, &commits, &turn, settings))
        .await;
}

async fn rounds(pool: &SqlitePool, commits: &Commits, turn: &WriteTurn, settings: Settings) {
    loop {
        commits.wake.notified().await;
        commits.written.store(false, Ordering::SeqCst);
        tokio::time::sleep(settings.delay).await;
        if let Err(e) = checkpoint(pool, turn, settings.restart_frames).await {
            // The driver's text names SQLite's error, never the file or the URL.
            tracing::warn!(
                error = %e,
                "SQLite WAL checkpoint failed; it is tried again after the next commit"
            );
        }
        commits.rounds.fetch_add(1, Ordering::Relaxed);
    }
}

/// One round: PASSIVE, then RESTART when the WAL is still longer than `restart_frames`.
///
/// The RESTART runs in the store's write turn: the group commit's writer starts its next
/// transaction as soon as the last one committed, and SQLite's busy handler, which sleeps
/// between its tries, would hardly ever find the write lock free (the WAL grew to 7,500
/// frames against a bound of 300 in the checkpoint test on a loaded machine). In its turn the
/// checkpoint waits only for the transaction in progress; the writes queued meanwhile wait
/// for it, as SQLite makes writers wait for a RESTART anyway.
///
/// The turn is taken before a connection, never while one is held, in the order the writer
/// takes them: a round holding the pool's only connection (`[state] connections = 1`) while it
/// waited for the turn would wait for a writer that waits for that connection, until the
/// acquire timeout failed the writer's group. So the PASSIVE checkpoint's connection goes back
/// to the pool first, and the RESTART takes one in its turn.
async fn checkpoint(
    pool: &SqlitePool,
    turn: &WriteTurn,
    restart_frames: i64,
) -> Result<(), sqlx::Error> {
    // (busy, frames in the WAL, frames checkpointed); busy (another connection is
    // checkpointing) leaves the other two at -1.
    let (busy, log, done) = wal_checkpoint(pool, "PRAGMA wal_checkpoint(PASSIVE)").await?;
    tracing::trace!(busy, log, done, "SQLite WAL checkpoint (passive)");
    if busy == 0 && log > restart_frames {
        let _turn = turn.lock().await;
        let (busy, log, done) = wal_checkpoint(pool, "PRAGMA wal_checkpoint(RESTART)").await?;
        // Busy: a reader outlasted the busy timeout; the next round (after the next commit)
        // tries again.
        tracing::debug!(busy, log, done, "SQLite WAL checkpoint (restart)");
    }
    Ok(())
}

/// Run one `wal_checkpoint` pragma on a connection of the pool, given back when it returns.
async fn wal_checkpoint(
    pool: &SqlitePool,
    pragma: &'static str,
) -> Result<(i64, i64, i64), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query_as(pragma).fetch_one(&mut *conn).await
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
