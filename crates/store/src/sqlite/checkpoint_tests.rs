//! The checkpoint task on a file database: it keeps the WAL bounded under commits from
//! several tasks while others read, runs nothing while nothing is written, and ends with the
//! store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::open::OpenOptions;
use crate::prelude::*;
use crate::sqlite::SqliteStore;
use crate::types::{ItemCommit, Kind, LedgerAction, Link, NewLedgerEntry};

use super::Commits;

/// A short delay keeps the tests quick, yet is long beside a commit (a few milliseconds in a
/// debug build), so that a burst of commits shares rounds even on a busy machine.
const DELAY: Duration = Duration::from_millis(50);

async fn open(dir: &Path, options: OpenOptions) -> SqliteStore {
    let url = format!("sqlite://{}", dir.join("state.db").display());
    SqliteStore::connect(&url, &options).await.unwrap()
}

fn options(restart_frames: u32, delay: Duration) -> OpenOptions {
    OpenOptions {
        max_connections: Some(8),
        checkpoint_delay: delay,
        checkpoint_restart_frames: restart_frames,
        ..OpenOptions::default()
    }
}

fn commits(store: &SqliteStore) -> Arc<Commits> {
    Arc::clone(store.checkpointer.as_ref().unwrap().commits())
}

/// The rounds once the task has been idle for ten delays (the migrations' round done).
async fn settled_rounds(commits: &Commits) -> u64 {
    let mut last = commits.rounds();
    loop {
        tokio::time::sleep(DELAY * 10).await;
        let now = commits.rounds();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Wait until `done` holds, at most 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn wal_path(dir: &Path) -> PathBuf {
    dir.join("state.db-wal")
}

/// An e-mail filed as the engine files it: its link and ledger entry in one commit.
async fn file(store: &SqliteStore, mailbox: &str, n: u64) {
    let mut link = Link::new(Kind::Email, mailbox, format!("AAMkAD-{n:08}"));
    link.global_key = Some(format!("<msg-{n}@contoso.example>"));
    let entry = NewLedgerEntry::new(
        mailbox,
        Kind::Email,
        link.graph_id.clone(),
        LedgerAction::Created,
        "new e-mail",
    );
    store
        .commit_item(&ItemCommit {
            link: Some(link),
            ledger: vec![entry],
            cursor: None,
            fences: vec![],
            no_retry_row: false,
            release: vec![],
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_and_overlapping_reads_keep_the_wal_bounded_and_every_row() {
    commits_and_reads_keep_the_wal_bounded_and_every_row(8, 300).await;
}

/// With the pool's only connection, a round that held it while waiting for the write turn
/// would wait for the group commit's writer, which holds the turn and waits for the
/// connection: every group's write failed after the acquire timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_connection_is_shared_by_the_writer_and_the_restarts() {
    // With no other connection to hold a snapshot, each PASSIVE round copies the whole WAL
    // and the next commit starts it over: only a low bound makes rounds restart.
    commits_and_reads_keep_the_wal_bounded_and_every_row(1, 10).await;
}

/// Four tasks commit e-mails while four others read, through a pool of `connections`, with a
/// restart due past `restart_frames`; each store call must succeed within an acquire timeout
/// short beside the test.
async fn commits_and_reads_keep_the_wal_bounded_and_every_row(
    connections: u32,
    restart_frames: u32,
) {
    const WRITERS: u64 = 4;
    const COMMITS: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    // Rounds often beside the writers' pace, which is several frames per millisecond.
    let store = Arc::new(
        open(
            dir.path(),
            OpenOptions {
                max_connections: Some(connections),
                acquire_timeout: Duration::from_secs(5),
                ..options(restart_frames, Duration::from_millis(20))
            },
        )
        .await,
    );
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(autocheckpoint, 0, "SQLite's own checkpoint is off");

    let stop = Arc::new(AtomicBool::new(false));
    // The WAL file's size, sampled while the others work: the file keeps the largest size
    // the WAL reached until a checkpoint resets it past `journal_size_limit`.
    let largest = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (stop, largest, wal) = (stop.clone(), largest.clone(), wal_path(dir.path()));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&wal) {
                    largest.fetch_max(meta.len(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Readers that always overlap: the pool's connections hold read snapshots all the time,
    // which is what kept SQLite's passive checkpoints from ever resetting the WAL.
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mailbox = format!("rep-{}", reads % WRITERS);
                    store
                        .list_links(&mailbox, Kind::Email, None, 200)
                        .await
                        .unwrap();
                    store
                        .get_link(Kind::Email, &mailbox, &format!("AAMkAD-{r:08}"))
                        .await
                        .unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..COMMITS {
                    file(&store, &format!("rep-{w}"), w * COMMITS + n).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    watcher.await.unwrap();
    assert!(reads > 0);

    let frames = (largest.load(Ordering::Relaxed) as i64 - 32) / (page + 24);
    eprintln!("the WAL's largest size: {frames} frames ({reads} reads beside the commits)");
    // This load writes about 20,000 frames: with passive checkpoints only, the WAL reached
    // all of them (the readers never let it be reset). The restarts keep it near the bound,
    // past it by what is committed while a restart waits for the readers: 880 to 1,290 frames
    // measured in a debug build on a loaded machine, so 4,000 is far from both. Without the
    // write turn (the group commit's writer starving the restart of the write lock) the same
    // runs reached 1,040 to 5,450 frames, and 7,470 once in CI.
    assert!(
        frames <= 4_000,
        "the WAL reached {frames} frames, {reads} reads"
    );
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM links")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let ledger: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        (links, ledger),
        ((WRITERS * COMMITS) as i64, (WRITERS * COMMITS) as i64)
    );
    store.close().await;
}

#[tokio::test]
async fn nothing_runs_while_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(4_000, DELAY)).await;
    let commits = commits(&store);
    let idle = settled_rounds(&commits).await;
    // Reads commit nothing: no round.
    let start = Instant::now();
    while start.elapsed() < DELAY * 10 {
        store
            .list_links("rep-0", Kind::Email, None, 100)
            .await
            .unwrap();
        store.get_link(Kind::Email, "rep-0", "g").await.unwrap();
    }
    tokio::time::sleep(DELAY * 5).await;
    assert_eq!(commits.rounds(), idle, "no checkpoint without a write");
    // One write: one round, and then nothing again.
    file(&store, "rep-0", 1).await;
    eventually("a round after the write", || commits.rounds() > idle).await;
    assert_eq!(settled_rounds(&commits).await, idle + 1);
    // A burst shares its rounds: far fewer than its commits.
    for n in 0..50 {
        file(&store, "rep-0", 100 + n).await;
    }
    let burst = settled_rounds(&commits).await - idle - 1;
    assert!((1..25).contains(&burst), "{burst} rounds for 50 commits");
    store.close().await;
}

#[tokio::test]
async fn closing_the_store_ends_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(4_000, DELAY)).await;
    file(&store, "rep-0", 1).await;
    store.close().await;
    let checkpointer = store.checkpointer.as_ref().unwrap();
    eventually("the task ends with the pool", || checkpointer.is_finished()).await;
}

#[tokio::test]
async fn dropping_the_store_ends_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), options(4_000, DELAY)).await;
    let commits = commits(&store);
    // The pool outlives the store here; its connections still carry the hook.
    let pool = store.pool().clone();
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    let before = settled_rounds(&commits).await;
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&pool)
        .await
        .unwrap();
    eventually("a round for a write through the pool", || {
        commits.rounds() > before
    })
    .await;
    let running = settled_rounds(&commits).await;
    drop(store);
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        settled_rounds(&commits).await,
        running,
        "no round after the drop"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_file_has_one_connection_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), OpenOptions::default()).await;
    assert_eq!(store.pool().options().get_max_connections(), 1);
    store.close().await;
    let store = open(
        dir.path(),
        OpenOptions {
            max_connections: Some(3),
            ..OpenOptions::default()
        },
    )
    .await;
    assert_eq!(store.pool().options().get_max_connections(), 3);
    store.close().await;
}

#[tokio::test]
async fn in_memory_has_no_checkpointer() {
    let store = SqliteStore::connect("sqlite::memory:", &OpenOptions::default())
        .await
        .unwrap();
    assert!(store.checkpointer.is_none());
}

#[tokio::test]
async fn file_connections_cap_the_wal_file_left_after_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), OpenOptions::default()).await;
    let limit: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(limit, 64 << 20);
    store.close().await;
}
