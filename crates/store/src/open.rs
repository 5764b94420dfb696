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
    /// Maximum pooled connections (default: 1 for SQLite files, 8 for PostgreSQL;
    /// in-memory SQLite always uses exactly one).
    ///
    /// One SQLite connection, because SQLite writes one transaction at a time whatever the
    /// pool, and a connection empties its page cache whenever another connection committed
    /// since its last read: with four connections about a tenth of the service's instructions
    /// went into reading pages again (docs/STORE.md, "Connections"). More connections let
    /// reads run beside a write transaction, for a process whose store calls wait on each
    /// other more than they cost.
    pub max_connections: Option<u32>,
    /// How long to wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the database lock.
    pub busy_timeout: Duration,
    /// SQLite files only: how long the store's WAL checkpoint waits after the first commit
    /// that wrote something before it runs. SQLite's own checkpoint (after the commit that
    /// takes the WAL past 1,000 pages) is off: with the pool's readers always overlapping it
    /// never emptied the WAL, so every commit tried again and sorted the whole WAL index
    /// (13.6 % of the connector's instructions filing 2,000 e-mails). Waiting a little lets a
    /// burst of commits share one checkpoint; nothing runs while nothing is written.
    pub checkpoint_delay: Duration,
    /// SQLite files only: the WAL size, in frames (one page each, 4 KiB by default), above
    /// which the store's checkpoint follows its PASSIVE one with a RESTART one. A passive
    /// checkpoint never waits, so readers that always overlap can keep the WAL from being
    /// reset for as long as they come; RESTART waits for them (through `busy_timeout`, new
    /// writers wait meanwhile) so that the next commit starts the WAL from its beginning, and
    /// the file stays bounded however busy the readers are. The bound is not exact: the WAL
    /// grows by what is committed within a round's delay, and while the restart waits for the
    /// write lock among the writers (SQLite's lock is not fair).
    pub checkpoint_restart_frames: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
            checkpoint_delay: Duration::from_millis(250),
            // About 16 MiB of WAL: four times SQLite's own threshold, so a passive checkpoint
            // that readers did not hold back has reset the WAL long before.
            checkpoint_restart_frames: 4_000,
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
