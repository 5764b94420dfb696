//! The writer task on a file database: writes queued while SQLite's write lock is held commit
//! together and each caller gets its own answer; a write that fails in a group fails alone,
//! and the rest of its group is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::{Connection as _, SqliteConnection};

use crate::error::StoreError;
use crate::lease::LeaseFence;
use crate::open::OpenOptions;
use crate::prelude::*;
use crate::sqlite::SqliteStore;
use crate::types::{ItemCommit, Kind, LedgerAction, LedgerFilter, Link, NewLedgerEntry};

const WRITES: usize = 12;

fn url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("state.db").display())
}

async fn open(dir: &Path) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::connect(&url(dir), &OpenOptions::default())
            .await
            .unwrap(),
    )
}

/// Run `WRITES` writes of the store, `write(store, n)`, spawned while another process's write
/// transaction holds SQLite's write lock, so that the writer task takes the first (and waits
/// for the lock) and the others queue behind it; then let the lock go. Their answers, in order.
async fn queued_behind_the_lock<T, F, Fut>(dir: &Path, store: &Arc<SqliteStore>, write: F) -> Vec<T>
where
    F: Fn(Arc<SqliteStore>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut other = SqliteConnection::connect(&url(dir)).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    // Write 0 first, alone: the writer task takes it and waits for the lock. Spawned all at
    // once, the tasks of a multi-threaded runtime reach the writer in any order on a busy
    // machine, and the write a test singles out could be the one taken alone.
    let mut tasks = vec![tokio::spawn(write(store.clone(), 0))];
    tokio::time::sleep(Duration::from_millis(100)).await;
    tasks.extend((1..WRITES).map(|n| tokio::spawn(write(store.clone(), n))));
    // Time to queue, long beside a task's start even on a busy machine.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    let mut answers = Vec::with_capacity(WRITES);
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// An e-mail's commit as the engine makes it: link and ledger entry, under `fences`.
fn filing(n: usize, fences: Vec<LeaseFence>) -> ItemCommit {
    let mut link = Link::new(Kind::Email, "rep-1", format!("AAMkAD-{n:04}"));
    link.global_key = Some(format!("<msg-{n}@contoso.example>"));
    ItemCommit {
        ledger: vec![NewLedgerEntry::new(
            "rep-1",
            Kind::Email,
            link.graph_id.clone(),
            LedgerAction::Created,
            "new e-mail",
        )],
        link: Some(link),
        fences,
        ..ItemCommit::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_behind_the_write_lock_commit_together_and_each_gets_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let answers = queued_behind_the_lock(dir.path(), &store, |store, n| async move {
        store.commit_item(&filing(n, Vec::new())).await
    })
    .await;
    let mut ids = Vec::new();
    for got in answers {
        let got = got.unwrap();
        assert_eq!(got.len(), 1, "one ledger id per commit");
        ids.extend(got);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        WRITES,
        "every commit got its own ledger entry's id"
    );
    for n in 0..WRITES {
        let link = store
            .get_link(Kind::Email, "rep-1", &format!("AAMkAD-{n:04}"))
            .await
            .unwrap();
        assert!(link.is_some(), "link {n} written");
    }
    let counts = store.writer.counts();
    assert!(
        counts.together.load(Ordering::Relaxed) >= 1,
        "queued writes went in one transaction"
    );
    assert!(counts.writes.load(Ordering::Relaxed) >= 2);
    assert_eq!(counts.rolled_back.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_fence_is_lost_fails_alone_and_the_rest_of_its_group_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let ttl = Duration::from_secs(60);
    let held = store
        .try_acquire_lease("mailbox/rep-1", "process-a", ttl)
        .await
        .unwrap()
        .unwrap();
    // A fence of a generation that no longer holds the lease (taken over since).
    let lost = LeaseFence {
        generation: held.generation + 1,
        ..held.clone()
    };
    let answers = queued_behind_the_lock(dir.path(), &store, |store, n| {
        let fence = if n == WRITES / 2 {
            lost.clone()
        } else {
            held.clone()
        };
        async move { store.commit_item(&filing(n, vec![fence])).await }
    })
    .await;
    for (n, got) in answers.into_iter().enumerate() {
        let link = store
            .get_link(Kind::Email, "rep-1", &format!("AAMkAD-{n:04}"))
            .await
            .unwrap();
        if n == WRITES / 2 {
            assert!(
                matches!(got, Err(StoreError::LeaseLost { ref key }) if key == "mailbox/rep-1"),
                "{got:?}"
            );
            assert!(link.is_none(), "nothing of the fenced-out commit written");
        } else {
            got.unwrap();
            assert!(link.is_some(), "link {n} written");
        }
    }
    let entries = store
        .query_ledger(&LedgerFilter {
            mailbox: Some("rep-1".into()),
            limit: Some(100),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        entries.len(),
        WRITES - 1,
        "one ledger entry per written commit"
    );
    let counts = store.writer.counts();
    assert!(
        counts.rolled_back.load(Ordering::Relaxed) >= 1,
        "the group with the lost fence was rolled back and run write by write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_takers_of_one_key_in_one_group_get_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let answers = queued_behind_the_lock(dir.path(), &store, |store, n| async move {
        store
            .try_acquire_lease(
                "email:<msg@contoso.example>",
                &format!("holder-{n}"),
                Duration::from_secs(60),
            )
            .await
    })
    .await;
    let mut taken = Vec::new();
    for got in answers {
        if let Some(f) = got.unwrap() {
            taken.push(f);
        }
    }
    assert_eq!(taken.len(), 1, "one holder: {taken:?}");
    let leases = store.list_leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].holder, taken[0].holder);
    assert!(store.writer.counts().together.load(Ordering::Relaxed) >= 1);
}
