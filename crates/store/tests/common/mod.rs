//! Test databases for both backends.
//!
//! SQLite: a fresh file in a temp directory. PostgreSQL: a fresh schema in the database at
//! `DATABASE_URL`, selected through `options=-csearch_path=<schema>` on the connection URL,
//! so tests run in parallel and repeatedly without seeing each other's rows. If
//! `DATABASE_URL` is unset, PostgreSQL tests fail, unless `GC_SKIP_PG=1` is set.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use gc_store::{OpenOptions, StateStore};
use rand::Rng;

pub struct TestDb {
    pub store: Arc<dyn StateStore>,
    /// URL of the store (for opening more pools against the same database/schema).
    pub url: String,
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Open another, independent store (own pool) on the same database: "another process".
    pub async fn open_another(&self) -> Arc<dyn StateStore> {
        gc_store::open_with(&self.url, &OpenOptions::default())
            .await
            .unwrap()
    }

    /// Close the pool and drop the PostgreSQL schema.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin_url, schema)) = self.schema {
            drop_schema(&admin_url, &schema).await;
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = gc_store::open(&url).await.unwrap();
    TestDb {
        store,
        url,
        schema: None,
        _dir: Some(dir),
    }
}

/// The PostgreSQL admin URL, or `None` when PG tests are explicitly skipped.
pub fn pg_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("GC_SKIP_PG").as_deref() == Ok("1") => {
            eprintln!("GC_SKIP_PG=1: skipping PostgreSQL test");
            None
        }
        _ => panic!(
            "DATABASE_URL is not set: the PostgreSQL half of the store tests needs it \
             (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test); \
             set GC_SKIP_PG=1 to skip these tests deliberately"
        ),
    }
}

/// A fresh, empty PostgreSQL schema (nothing migrated yet).
pub struct PgSchema {
    /// URL selecting the schema.
    pub url: String,
    admin_url: String,
    schema: String,
}

impl PgSchema {
    /// Drop the schema.
    pub async fn cleanup(self) {
        drop_schema(&self.admin_url, &self.schema).await;
    }
}

async fn drop_schema(admin_url: &str, schema: &str) {
    let pool = sqlx::PgPool::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

pub async fn postgres_empty() -> Option<PgSchema> {
    let admin_url = pg_url()?;
    let schema = format!("gc_test_{:016x}", rand::rng().random::<u64>());
    let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}");
    Some(PgSchema {
        url,
        admin_url,
        schema,
    })
}

pub async fn postgres() -> Option<TestDb> {
    let empty = postgres_empty().await?;
    let store = gc_store::open(&empty.url).await.unwrap();
    Some(TestDb {
        store,
        url: empty.url,
        schema: Some((empty.admin_url, empty.schema)),
        _dir: None,
    })
}
