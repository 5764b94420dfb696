//! Opening stores: URL dispatch, in-memory SQLite, secrets kept out of errors and Debug.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use gc_store::{Backend, Kind, Link, StoreError, StoreErrorClass};

#[tokio::test]
async fn memory_sqlite_keeps_its_data_across_calls() {
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store
        .upsert_link(&Link::new(Kind::Task, "r1", "t1"), &[])
        .await
        .unwrap();
    // Several sequential and concurrent calls all see the same single in-memory database.
    let (a, b) = tokio::join!(
        store.get_link(Kind::Task, "r1", "t1"),
        store.get_link(Kind::Task, "r1", "t1")
    );
    assert!(a.unwrap().is_some() && b.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_file_is_created_and_reopened_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub-dir-free.db");
    let url = format!("sqlite://{}", path.display());
    {
        let s = gc_store::open(&url).await.unwrap();
        s.upsert_link(&Link::new(Kind::Email, "r1", "g1"), &[])
            .await
            .unwrap();
        s.close().await;
    }
    assert!(path.exists());
    let s = gc_store::SqliteStore::connect(&url, &Default::default())
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(busy >= 1000, "busy_timeout {busy}");
    // Reopening runs the migrations again as a no-op and keeps the data.
    use gc_store::LinkStore as _;
    assert!(s.get_link(Kind::Email, "r1", "g1").await.unwrap().is_some());
}

#[tokio::test]
async fn bad_urls_are_rejected_without_echoing_secrets() {
    for url in [
        "mysql://root:hunter2@db/state",
        "hunter2",
        "postgres://gc:hunter2@db:notaport/state",
    ] {
        let err = gc_store::open(url).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{url}: {err:?}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}

#[tokio::test]
async fn unreachable_postgres_error_has_no_password() {
    // Nothing listens on port 1.
    let opts = gc_store::OpenOptions {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = gc_store::open_with("postgres://gc:hunter2@127.0.0.1:1/state", &opts)
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(err.class(), StoreErrorClass::Unavailable, "{err:?}");
}

#[tokio::test]
async fn postgres_debug_redacts_the_password() {
    let Some(admin) = common::pg_url() else {
        return;
    };
    // Trust authentication ignores the password, so a fake one still connects.
    let with_password = admin.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    assert!(
        with_password.contains("hunter2"),
        "DATABASE_URL shape unexpected: test needs user@host"
    );
    let db = common::postgres().await.unwrap();
    let url = db
        .url
        .replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    let store = gc_store::open(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    let shown = format!("{store:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("***"), "{shown}");
    store.close().await;
    db.cleanup().await;
}
