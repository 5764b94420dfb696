//! Store errors carry a class callers can act on (`StoreError::class`), derived from real
//! failures of real databases: lock timeouts and busy databases are conflicts (retry), bad
//! data is rejected, damaged rows are corrupt, and a store that cannot be reached or has
//! lost its tables is unavailable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use gc_store::{Kind, Link, OpenOptions, StoreError, StoreErrorClass};

#[tokio::test]
async fn sqlite_busy_database_is_a_conflict() {
    let db = common::sqlite().await;
    // "Another process" holds the write lock; our writer gives up after 50 ms.
    let opts = OpenOptions {
        busy_timeout: Duration::from_millis(50),
        ..Default::default()
    };
    let store = gc_store::open_with(&db.url, &opts).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let mut other = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *other)
        .await
        .unwrap();
    let err = store
        .upsert_link(&Link::new(Kind::Email, "r1", "g1"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Conflict, "{err:?}");
    sqlx::query("ROLLBACK").execute(&mut *other).await.unwrap();
    drop(other);
    // Once the lock is free the same write goes through.
    store
        .upsert_link(&Link::new(Kind::Email, "r1", "g1"), &[])
        .await
        .unwrap();
    pool.close().await;
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn sqlite_unopenable_file_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("no-such-dir").join("state.db").display()
    );
    let err = gc_store::open(&url).await.unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Unavailable, "{err:?}");
}

#[tokio::test]
async fn sqlite_damaged_row_is_corrupt_and_bad_data_rejected() {
    let db = common::sqlite().await;
    let s = &*db.store;
    let mut l = Link::new(Kind::Email, "r1", "g1");
    l.crm_id = Some(gc_store::CrmId(7));
    s.upsert_link(&l, &[]).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE links SET crm_id = 'not a number'")
        .execute(&pool)
        .await
        .unwrap();
    let err = s.get_link(Kind::Email, "r1", "g1").await.unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Corrupt, "{err:?}");
    pool.close().await;

    let err = s
        .record_ledger(&gc_store::NewLedgerEntry::new(
            "r1",
            Kind::Email,
            "",
            gc_store::LedgerAction::Skipped,
            "no key",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Rejected, "{err:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_lock_timeout_is_a_conflict() {
    let Some(db) = common::postgres().await else {
        return;
    };
    db.store
        .try_acquire_lease("r1/email", "p1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN").execute(&mut *holder).await.unwrap();
    sqlx::query("SELECT 1 FROM leases WHERE key = 'r1/email' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let mut waiter = pool.acquire().await.unwrap();
    sqlx::query("SET lock_timeout = '50ms'")
        .execute(&mut *waiter)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE leases SET expires_at = expires_at WHERE key = 'r1/email'")
        .execute(&mut *waiter)
        .await
        .unwrap_err();
    let err = StoreError::from(err);
    assert_eq!(err.class(), StoreErrorClass::Conflict, "{err:?}");
    // A value PostgreSQL cannot take is rejected data.
    let err = sqlx::query("SELECT 'x'::BIGINT")
        .execute(&mut *waiter)
        .await
        .unwrap_err();
    assert_eq!(StoreError::from(err).class(), StoreErrorClass::Rejected);
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop((holder, waiter));
    pool.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_missing_database_or_tables_are_unavailable() {
    let Some(admin) = common::pg_url() else {
        return;
    };
    let Some(pos) = admin.rfind('/') else {
        panic!("DATABASE_URL without a database name")
    };
    let missing = format!("{}/gc_no_such_database", &admin[..pos]);
    let opts = OpenOptions {
        acquire_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let err = gc_store::open_with(&missing, &opts).await.unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Unavailable, "{err:?}");

    // The schema disappears under a running store (restored backup, wrong search_path).
    let db = common::postgres().await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("DROP TABLE links")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = db
        .store
        .get_link(Kind::Email, "r1", "g1")
        .await
        .unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Unavailable, "{err:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // Nothing listens on port 1.
    let opts = OpenOptions {
        acquire_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let err = gc_store::open_with("postgres://gc@127.0.0.1:1/state", &opts)
        .await
        .unwrap_err();
    assert_eq!(err.class(), StoreErrorClass::Unavailable, "{err:?}");
}
