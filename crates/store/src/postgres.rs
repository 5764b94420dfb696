//! PostgreSQL backend: for several connector processes sharing one tenant.
//!
//! Lease claims use `FOR UPDATE SKIP LOCKED`, so processes claiming at the same time split
//! the free mailboxes between them instead of queueing on each other's row locks.

use std::fmt;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

use crate::lease::{distinct_fences, first_lost};
use crate::open::OpenOptions;
use crate::url::StoreUrl;

/// The database clock in microseconds: `statement_timestamp()` is fixed for one statement
/// (all rows it writes agree) but fresh for every statement, unlike `now()`.
macro_rules! pg_now {
    () => {
        "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000)::BIGINT"
    };
}

/// The next lease generation, from the store-wide sequence of migration 0002 (never
/// repeats, never rolls back).
macro_rules! pg_next_generation {
    () => {
        "nextval('lease_generation')"
    };
}

/// Run an `INSERT` of one row (its SQL as literal pieces, its values bound by the closure-like
/// `|q| …`) on `$conn` and give the row's id, from a `RETURNING id` clause.
macro_rules! pg_insert_id {
    ($conn:expr, [$($sql:expr),* $(,)?], |$q:ident| $bind:expr) => {{
        let $q = sqlx::query_scalar::<sqlx::Postgres, i64>(concat!($($sql,)* " RETURNING id"));
        $bind.fetch_one(&mut *$conn).await?
    }};
}

/// Check, inside `conn`'s transaction, that every fence is still held; `LeaseLost` with the
/// first key that is not.
///
/// `SELECT … FOR SHARE` locks each lease row until the transaction ends. Every statement
/// that changes a lease row (takeover, renewal, release) needs a lock that conflicts with
/// it, so none can commit between this check and our commit: they wait, or skip the row
/// (`SKIP LOCKED` claims). If such a change is in flight when we check, we wait for it and,
/// under READ COMMITTED, test the row's new version: a takeover committed meanwhile makes
/// the check fail. `FOR KEY SHARE` would not do: it does not conflict with an UPDATE that
/// leaves the key alone, which a takeover is.
///
/// All fences go in one statement (an item's commit holds two: its mailbox's and its global
/// key's), one round trip instead of one per fence (see [`push_locked_fences`]).
async fn check_fences_on(
    conn: &mut sqlx::PgConnection,
    fences: &[LeaseFence],
) -> Result<(), StoreError> {
    let distinct = distinct_fences(fences);
    if distinct.is_empty() {
        return Ok(());
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT key, holder, generation");
    push_locked_fences(&mut qb, &distinct);
    let held: Vec<(String, String, i64)> = qb.build_query_as().fetch_all(&mut *conn).await?;
    first_lost(&distinct, &held)
}

/// Append to an `INSERT … SELECT …` the condition that every fence is held, so that one
/// statement checks and writes: a lost fence writes no row.
///
/// The condition counts the lease rows it locks (`FOR SHARE`, in a subquery that runs once,
/// before the row is written), and the locks last until the statement's transaction ends,
/// as [`check_fences_on`]'s do: as good a fence as the check followed by the write, and a
/// fenced write with nothing else to do needs no transaction of its own (one round trip
/// instead of four: begin, check, write, commit). Each `(key, holder, generation)` matches
/// at most one lease row (the key is the table's primary key), so "held" is "as many rows as
/// distinct fences".
fn push_fences_held(qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, fences: &[LeaseFence]) {
    let distinct = distinct_fences(fences);
    qb.push(" WHERE (SELECT COUNT(*) FROM (SELECT 1");
    push_locked_fences(qb, &distinct);
    qb.push(") AS held) = ").push_bind(distinct.len() as i64);
}

/// Append ` FROM leases WHERE (key, holder, generation) IN (…) AND expires_at > now ORDER BY
/// key FOR SHARE` to a `SELECT` of the columns wanted: the rows of the fences still held,
/// locked. PostgreSQL sorts the rows before it locks them (its locking step comes after
/// `ORDER BY`), so fences are locked in key order and two writes holding the same keys cannot
/// deadlock on each other.
fn push_locked_fences(qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, distinct: &[&LeaseFence]) {
    qb.push(" FROM leases WHERE (key, holder, generation) IN");
    // `push_tuples` writes the list's parentheses.
    qb.push_tuples(distinct, |mut t, f| {
        t.push_bind(f.key.clone())
            .push_bind(f.holder.clone())
            .push_bind(f.generation);
    });
    qb.push(concat!(
        "AND expires_at > ",
        pg_now!(),
        " ORDER BY key FOR SHARE"
    ));
}

/// PostgreSQL implementation of [`crate::StateStore`].
pub struct PgStore {
    pool: PgPool,
    url: StoreUrl,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    /// Connect and migrate. `url`: `postgres://` or `postgresql://`, with the usual libpq
    /// parameters (`sslmode`, `options=-csearch_path%3Dschema`, ...).
    pub async fn connect(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let url = StoreUrl::parse(url)?;
        if url.backend() != Backend::Postgres {
            return Err(StoreError::InvalidUrl("not a postgres: URL".into()));
        }
        // The parse error text is kept out: it could quote part of the URL.
        let connect = PgConnectOptions::from_str(url.expose())
            .map_err(|_| StoreError::InvalidUrl("not a usable PostgreSQL URL".into()))?
            .application_name("graph-connector");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(8))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        tracing::debug!(url = %url, "postgres state store ready");
        Ok(PgStore { pool, url })
    }

    /// An item's write (or a run's end), on its own: the commits of several connections
    /// overlap on PostgreSQL already (the server flushes its log for them together), so no
    /// group commit as on SQLite.
    async fn write(&self, w: Write) -> Result<Written> {
        write_alone(&self.pool, &w).await
    }

    /// The underlying pool (benchmarks, diagnostics).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claim existing lease rows that are expired or ours; ours first. Rows another
    /// transaction is claiming right now are skipped, not waited for.
    async fn claim_existing(
        &self,
        holder: &str,
        candidates: &[String],
        limit: i64,
        ttl: i64,
    ) -> Result<Vec<PgRow>> {
        Ok(sqlx::query(concat!(
            "UPDATE leases SET holder = $1, acquired_at = CASE WHEN holder = $1 AND expires_at > ",
            pg_now!(),
            " THEN acquired_at ELSE ",
            pg_now!(),
            " END, generation = CASE WHEN holder = $1 AND expires_at > ",
            pg_now!(),
            " THEN generation ELSE ",
            pg_next_generation!(),
            " END, expires_at = ",
            pg_now!(),
            " + $3 WHERE key IN (SELECT key FROM leases WHERE key = ANY($2) AND (expires_at <= ",
            pg_now!(),
            " OR holder = $1) ORDER BY (holder = $1) DESC, key LIMIT $4 FOR UPDATE SKIP LOCKED) \
             AND (expires_at <= ",
            pg_now!(),
            " OR holder = $1) RETURNING key, holder, generation"
        ))
        .bind(holder)
        .bind(candidates)
        .bind(ttl)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Insert lease rows for candidates that have none yet. Concurrent inserts of the same
    /// key resolve through the primary key (`ON CONFLICT DO NOTHING`); keys are inserted in
    /// sorted order so two claimers cannot deadlock. Generations are drawn only for the rows
    /// picked (outside the `LIMIT`ed subquery).
    async fn claim_new(
        &self,
        holder: &str,
        candidates: &[String],
        limit: i64,
        ttl: i64,
    ) -> Result<Vec<PgRow>> {
        Ok(sqlx::query(concat!(
            "INSERT INTO leases (key, holder, acquired_at, expires_at, generation) \
             SELECT k, $1, ",
            pg_now!(),
            ", ",
            pg_now!(),
            " + $3, ",
            pg_next_generation!(),
            " FROM (SELECT k FROM (SELECT DISTINCT k FROM unnest($2::TEXT[]) AS u(k)) AS c \
             WHERE NOT EXISTS (SELECT 1 FROM leases l WHERE l.key = c.k) \
             ORDER BY k LIMIT $4) AS n ON CONFLICT (key) DO NOTHING \
             RETURNING key, holder, generation"
        ))
        .bind(holder)
        .bind(candidates)
        .bind(ttl)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

crate::sql_backend::sql_backend!(
    PgStore,
    sqlx::Postgres,
    Backend::Postgres,
    pg_now,
    pg_next_generation,
    pg_insert_id,
    push_fences_held
);
