//! Opening a store from the `[state] url` setting.

use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::store::StateStore;
use crate::url::{Backend, StoreUrl};

/// Pool settings; the defaults suit one connector process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Maximum pooled connections (default: 4 for SQLite files, 8 for PostgreSQL;
    /// in-memory SQLite always uses exactly one).
    pub max_connections: Option<u32>,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the database lock.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Open the store at `url` with default options and apply pending migrations.
///
/// `sqlite://path/to/state.db`, `sqlite:state.db`, `sqlite::memory:` select SQLite;
/// `postgres://…` / `postgresql://…` select PostgreSQL. Errors never contain the URL.
pub async fn open(url: &str) -> Result<Arc<dyn StateStore>, StoreError> {
    open_with(url, &OpenOptions::default()).await
}

/// [`open`] with explicit pool options.
pub async fn open_with(
    url: &str,
    options: &OpenOptions,
) -> Result<Arc<dyn StateStore>, StoreError> {
    let parsed = StoreUrl::parse(url)?;
    let store: Arc<dyn StateStore> = match parsed.backend() {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url, options).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url, options).await?),
    };
    Ok(store)
}
