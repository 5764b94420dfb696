//! SQLite backend: the embedded default.
//!
//! WAL journal (readers never block the writer), a busy timeout (concurrent writers wait
//! instead of failing), the file is created if missing, foreign keys on. A file's WAL is
//! checkpointed by a task of the store's own ([`checkpoint`]), not by SQLite after commits.
//! `sqlite::memory:` gets a single connection that is never recycled, because every SQLite
//! connection to `:memory:` is its own empty database; it has no WAL to checkpoint.

mod checkpoint;
mod writer;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::lease::{distinct_fences, first_lost};
use crate::open::OpenOptions;
use crate::url::StoreUrl;
use checkpoint::{Checkpointer, Commits};
use writer::Writer;

/// The store's write turn: the group commit's writer holds it for each transaction, the WAL
/// checkpoint for its RESTART, which would otherwise hardly ever find SQLite's write lock free
/// between two groups (see [`checkpoint`] and [`writer`]). Fair: each waits its turn.
type WriteTurn = Arc<tokio::sync::Mutex<()>>;

/// `journal_size_limit` of a file's connections, in bytes: what is left of the WAL file when
/// a checkpoint resets it. SQLite otherwise keeps the file at the largest size it ever
/// reached (a long reader can let it grow past the store's checkpoint bound) and writes over
/// it; 64 MiB is four times the default bound (`checkpoint_restart_frames`, ~16 MiB), so the
/// file is cut back only after such a spike, never in steady work.
const JOURNAL_SIZE_LIMIT: &str = "67108864";

/// The database clock in microseconds. `unixepoch('subsec')` has millisecond resolution;
/// rounding to whole milliseconds first keeps the float → integer conversion exact.
macro_rules! sqlite_now {
    () => {
        "(CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER) * 1000)"
    };
}

/// The next lease generation: one more than the store-wide counter, which the triggers of
/// migration 0002 raise to every generation written. SQLite runs each statement under its
/// single write lock, so no other writer can draw the same number.
macro_rules! sqlite_next_generation {
    () => {
        "(SELECT value + 1 FROM lease_generation WHERE id = 1)"
    };
}

/// Run an `INSERT` of one row (its SQL as literal pieces, its values bound by the closure-like
/// `|q| …`) on `$conn` and give the row's id: `last_insert_rowid`, not `RETURNING id`. SQLite
/// collects the rows a `RETURNING` clause gives in a temporary b-tree, opened and freed for
/// every statement, which made a ledger entry's insert cost about twice as much
/// (docs/PERFORMANCE.md, round of 2026-12-07 04:00 UTC). The id is the connection's, and the
/// statement runs on that connection, in its transaction: no other insert comes between.
macro_rules! sqlite_insert_id {
    ($conn:expr, [$($sql:expr),* $(,)?], |$q:ident| $bind:expr) => {{
        let $q = sqlx::query::<sqlx::Sqlite>(concat!($($sql),*));
        $bind.execute(&mut *$conn).await?.last_insert_rowid()
    }};
}

/// Check, inside `conn`'s transaction, that every fence is still held; `LeaseLost` with the
/// first key (in key order) that is not.
///
/// The check is an UPDATE that changes nothing, not a SELECT: its first statement makes the
/// transaction a write transaction, which takes SQLite's database write lock (waiting
/// through the busy timeout) and holds it until commit. No takeover, renewal or release can
/// run between the check and the commit, and the transaction cannot fail later with
/// `SQLITE_BUSY_SNAPSHOT` as a read transaction upgraded to a write one would. All fences
/// (an item's write carries the mailbox's and the item key's) are checked in one statement:
/// each statement is a round trip to the connection's thread, and an item commits several
/// times.
async fn check_fences_on(
    conn: &mut sqlx::SqliteConnection,
    fences: &[LeaseFence],
) -> Result<(), StoreError> {
    if fences.is_empty() {
        return Ok(());
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(concat!(
        "UPDATE leases SET expires_at = expires_at WHERE expires_at > ",
        sqlite_now!(),
        " AND ("
    ));
    let distinct = distinct_fences(fences);
    push_fence_terms(&mut qb, distinct.iter().copied());
    qb.push(") RETURNING key, holder, generation");
    let held: Vec<(String, String, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    first_lost(&distinct, &held)
}

/// Append to an `INSERT … SELECT …` the condition that every fence is held (by the database
/// clock), so that one statement checks and writes: a lost fence writes no row.
///
/// As good a fence as [`check_fences_on`] followed by the write in a transaction, in one round
/// trip to the connection's thread instead of four (begin, check, write, commit): SQLite
/// begins a write statement's transaction by taking the database write lock, before the
/// statement reads anything, so no takeover, renewal or release can commit between the
/// condition and the row. Each `(key, holder, generation)` matches at most one lease row (the
/// key is the table's primary key), so "held" is "as many rows as distinct fences".
fn push_fences_held(qb: &mut sqlx::QueryBuilder<sqlx::Sqlite>, fences: &[LeaseFence]) {
    let distinct = distinct_fences(fences);
    qb.push(concat!(
        " WHERE (SELECT COUNT(*) FROM leases WHERE expires_at > ",
        sqlite_now!(),
        " AND ("
    ));
    push_fence_terms(qb, distinct.iter().copied());
    qb.push(")) = ").push_bind(distinct.len() as i64);
}

/// Append `(key = ? AND holder = ? AND generation = ?) OR …`, one term per fence: the lease
/// rows that still carry them.
fn push_fence_terms<'a>(
    qb: &mut sqlx::QueryBuilder<sqlx::Sqlite>,
    fences: impl Iterator<Item = &'a LeaseFence>,
) {
    for (i, f) in fences.enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push("(key = ")
            .push_bind(f.key.clone())
            .push(" AND holder = ")
            .push_bind(f.holder.clone())
            .push(" AND generation = ")
            .push_bind(f.generation)
            .push(")");
    }
}

/// SQLite implementation of [`crate::StateStore`].
pub struct SqliteStore {
    pool: SqlitePool,
    url: StoreUrl,
    /// The WAL checkpoint task of a file database (none in memory); stops with the pool's
    /// close, aborted when the store is dropped.
    #[allow(dead_code, reason = "held for its drop, which aborts the task")]
    checkpointer: Option<Checkpointer>,
    /// The queue of the task that runs the items' writes, grouped (see [`writer`]).
    writer: Writer,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Log, before the migrations run, that an existing store is about to be upgraded: they run
/// inside `open`, and some rebuild a table (0008 copies every link: about 6 s per million
/// links on the 2-core test machine), which would otherwise look like a start that hangs. A
/// new store (no migrations table yet) or a current one says nothing.
async fn announce_upgrade(pool: &SqlitePool) {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .ok()
            .flatten();
    let latest = MIGRATOR.iter().map(|m| m.version).max();
    if let (Some(from), Some(to)) = (applied, latest)
        && from < to
    {
        tracing::info!(
            from,
            to,
            "upgrading the state store's schema; on a large store this can take a minute"
        );
    }
}

impl SqliteStore {
    /// Open (creating if missing) and migrate. `url`: `sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`.
    pub async fn connect(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let url = StoreUrl::parse(url)?;
        if url.backend() != Backend::Sqlite {
            return Err(StoreError::InvalidUrl("not a sqlite: URL".into()));
        }
        // The parse error text is kept out: it could quote part of the URL.
        let connect = SqliteConnectOptions::from_str(url.expose())
            .map_err(|_| StoreError::InvalidUrl("not a usable SQLite URL".into()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true)
            // Keep planner statistics fresh without a maintenance job (SQLite's advice).
            .optimize_on_close(true, 400);
        let in_memory = url.expose().contains(":memory:") || url.expose().contains("mode=memory");
        // A file's connections commit without checkpointing; the store's task does it (see
        // `checkpoint`), and every connection's commit hook tells it when.
        let commits = (!in_memory).then(|| Arc::new(Commits::default()));
        let (connect, pool_options) = match &commits {
            None => (
                connect,
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            ),
            Some(commits) => {
                let commits = Arc::clone(commits);
                (
                    connect
                        .pragma("wal_autocheckpoint", "0")
                        .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT),
                    SqlitePoolOptions::new()
                        .max_connections(options.max_connections.unwrap_or(1))
                        .after_connect(move |conn, _meta| {
                            let commits = Arc::clone(&commits);
                            Box::pin(async move { commits.hook(conn).await })
                        }),
                )
            }
        };
        // No ping before each statement (sqlx's default for every pool): the database is a file
        // in this process, a connection is not lost the way a network one is, and the ping is
        // one more round trip to the connection's thread (two thread wake-ups) per statement.
        let pool = pool_options
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        let turn = WriteTurn::default();
        // Started before the migrations, so that their commits are checkpointed too.
        let checkpointer = commits
            .map(|commits| Checkpointer::start(pool.clone(), commits, turn.clone(), options));
        announce_upgrade(&pool).await;
        MIGRATOR.run(&pool).await?;
        tracing::debug!(url = %url, "sqlite state store ready");
        let writer = Writer::start(pool.clone(), turn);
        Ok(SqliteStore {
            pool,
            url,
            checkpointer,
            writer,
        })
    }

    /// An item's write (or a run's end): queued for the writer task, which groups it with
    /// the others in flight (see [`writer`]).
    async fn write(&self, w: Write) -> Result<Written> {
        self.writer.write(w).await
    }

    /// The underlying pool (benchmarks, diagnostics).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Claim existing lease rows that are expired or ours; ours first.
    async fn claim_existing(
        &self,
        holder: &str,
        candidates: &[String],
        limit: i64,
        ttl: i64,
    ) -> Result<Vec<SqliteRow>> {
        let keys = serde_json::to_string(candidates).map_err(|e| StoreError::Corrupt {
            what: "lease key list",
            detail: e.to_string(),
        })?;
        // One statement: SQLite runs it under the database write lock, so the candidate
        // selection and the update are atomic with respect to other processes.
        Ok(sqlx::query(concat!(
            "UPDATE leases SET holder = $1, acquired_at = CASE WHEN holder = $1 AND expires_at > ",
            sqlite_now!(),
            " THEN acquired_at ELSE ",
            sqlite_now!(),
            " END, generation = CASE WHEN holder = $1 AND expires_at > ",
            sqlite_now!(),
            " THEN generation ELSE ",
            sqlite_next_generation!(),
            " END, expires_at = ",
            sqlite_now!(),
            " + $3 WHERE key IN (SELECT key FROM leases \
               WHERE key IN (SELECT value FROM json_each($2)) \
               AND (expires_at <= ",
            sqlite_now!(),
            " OR holder = $1) ORDER BY (holder = $1) DESC, key LIMIT $4) RETURNING key, holder, generation"
        ))
        .bind(holder)
        .bind(keys)
        .bind(ttl)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Insert lease rows for candidates that have none yet.
    async fn claim_new(
        &self,
        holder: &str,
        candidates: &[String],
        limit: i64,
        ttl: i64,
    ) -> Result<Vec<SqliteRow>> {
        let keys = serde_json::to_string(candidates).map_err(|e| StoreError::Corrupt {
            what: "lease key list",
            detail: e.to_string(),
        })?;
        Ok(sqlx::query(concat!(
            "INSERT INTO leases (key, holder, acquired_at, expires_at, generation) \
             SELECT DISTINCT value, $1, ",
            sqlite_now!(),
            ", ",
            sqlite_now!(),
            " + $3, ",
            sqlite_next_generation!(),
            " FROM json_each($2) WHERE value NOT IN (SELECT key FROM leases) \
             ORDER BY value LIMIT $4 ON CONFLICT (key) DO NOTHING \
             RETURNING key, holder, generation"
        ))
        .bind(holder)
        .bind(keys)
        .bind(ttl)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

crate::sql_backend::sql_backend!(
    SqliteStore,
    sqlx::Sqlite,
    Backend::Sqlite,
    sqlite_now,
    sqlite_next_generation,
    sqlite_insert_id,
    push_fences_held
);
