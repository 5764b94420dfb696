//! The row writes that several store methods share (a link, a ledger entry, an item's retry
//! row, a cursor, a lease's release, a mailbox's success), and how a write is held to the
//! fences of the leases it runs under. Expanded by
//! [`sql_backend!`](crate::sql_backend::sql_backend) once per backend, like the row decoders
//! of [`sql_rows`](crate::sql_rows): each function takes the connection (or transaction) it
//! writes on, so a method composes them into one transaction.
//!
//! Fences: a link or cursor write carries its fences' condition itself (one statement; see
//! `push_fences_held` in `sqlite.rs` and `postgres.rs`); a write without a row of its own to
//! write checks them first in its transaction (`check_fences_on`). docs/STORE.md says why each
//! is safe against a takeover.

macro_rules! sql_writes {
    ($db:ty, $now:ident, $insert_id:ident, $push_fences_held:path) => {
        /// How this backend holds a write to its fences: it appends to an `INSERT … SELECT …`
        /// the condition that every fence is held, so that one statement checks and writes
        /// (SQLite, where that statement takes the write lock before it reads; PostgreSQL,
        /// whose condition locks the lease rows until the transaction ends): one round trip
        /// instead of four (begin, check, write, commit).
        const PUSH_FENCES_HELD: fn(&mut QueryBuilder<$db>, &[LeaseFence]) = $push_fences_held;

        /// Finish and run an upsert built up to its values (`INSERT … SELECT <values>`, with
        /// `conflict` its `ON CONFLICT` clause), held to `fences`: their condition goes into
        /// the statement, and no row written means a fence was lost (the error names the first
        /// one not held, in key order, as the check does). Without fences the statement is
        /// unconditional.
        async fn write_held(
            mut qb: QueryBuilder<$db>,
            conn: &mut Conn,
            fences: &[LeaseFence],
            conflict: &str,
        ) -> Result<()> {
            let conditional = !fences.is_empty();
            if conditional {
                PUSH_FENCES_HELD(&mut qb, fences);
            } else {
                // SQLite needs a `WHERE` before `ON CONFLICT` in `INSERT … SELECT`.
                qb.push(" WHERE true");
            }
            qb.push(conflict);
            let rows = qb.build().execute(&mut *conn).await?.rows_affected();
            if !conditional || rows > 0 {
                return Ok(());
            }
            check_fences_on(conn, fences).await?;
            // Held by now, so lapsed at the write (a lapsed lease is never renewed under its
            // generation, so this cannot happen; still a lost fence).
            let first = fences.iter().map(|f| f.key.as_str()).min().unwrap_or_default();
            Err(StoreError::LeaseLost {
                key: first.to_owned(),
            })
        }

        /// Insert or replace `link`, held to `fences` (see `write_held`).
        async fn upsert_link_on(conn: &mut Conn, link: &Link, fences: &[LeaseFence]) -> Result<()> {
            let mut qb = QueryBuilder::<$db>::new(
                "INSERT INTO links (kind, mailbox, graph_id, global_key, crm_id, graph_version, \
                 crm_version, graph_hash, crm_hash, state, state_reason, created_at, updated_at) \
                 SELECT ",
            );
            {
                let mut v = qb.separated(", ");
                v.push_bind(link.kind.as_str());
                v.push_bind(link.mailbox.clone());
                v.push_bind(link.graph_id.clone());
                v.push_bind(link.global_key.clone());
                v.push_bind(link.crm_id.map(|c| c.to_string()));
                v.push_bind(link.graph_version.clone());
                v.push_bind(link.crm_version.clone());
                v.push_bind(link.graph_hash.clone());
                v.push_bind(link.crm_hash.clone());
                v.push_bind(link.state.as_str());
                v.push_bind(link.state.reason().map(str::to_owned));
                v.push($now!());
                v.push($now!());
            }
            write_held(
                qb,
                conn,
                fences,
                " ON CONFLICT (kind, mailbox, graph_id) DO UPDATE SET \
                 global_key = excluded.global_key, crm_id = excluded.crm_id, \
                 graph_version = excluded.graph_version, crm_version = excluded.crm_version, \
                 graph_hash = excluded.graph_hash, crm_hash = excluded.crm_hash, \
                 state = excluded.state, state_reason = excluded.state_reason, \
                 updated_at = excluded.updated_at",
            )
            .await
        }

        /// Append `e` to the ledger; its id. `$insert_id` is the backend's way to learn the id
        /// (SQLite's `last_insert_rowid`, PostgreSQL's `RETURNING id`).
        async fn insert_ledger_on(conn: &mut Conn, e: &NewLedgerEntry) -> Result<i64> {
            Ok($insert_id!(
                conn,
                [
                    "INSERT INTO ledger (at, run_id, mailbox, kind, item_key, crm_id, action, \
                     reason, detail) VALUES (",
                    $now!(),
                    ", $1, $2, $3, $4, $5, $6, $7, $8)",
                ],
                |q| q
                    .bind(e.run_id.map(|r| r.to_string()))
                    .bind(&e.mailbox)
                    .bind(e.kind.as_str())
                    .bind(&e.item_key)
                    .bind(e.crm_id.map(|c| c.to_string()))
                    .bind(e.action.as_str())
                    .bind(&e.reason)
                    .bind(e.detail.as_ref().map(sqlx::types::Json))
            ))
        }

        async fn clear_retry_on(
            conn: &mut Conn,
            kind: Kind,
            mailbox: &str,
            item_key: &str,
        ) -> Result<bool> {
            let r = sqlx::query(
                "DELETE FROM item_retries WHERE kind = $1 AND mailbox = $2 AND item_key = $3",
            )
            .bind(kind.as_str())
            .bind(mailbox)
            .bind(item_key)
            .execute(&mut *conn)
            .await?;
            Ok(r.rows_affected() > 0)
        }

        /// Give up the lease `fence` holds; a lease another holder took over (or that
        /// expired and was taken) is not touched. Whether a row went.
        async fn release_lease_on(conn: &mut Conn, fence: &LeaseFence) -> Result<bool> {
            let r = sqlx::query(
                "DELETE FROM leases WHERE key = $1 AND holder = $2 AND generation = $3",
            )
            .bind(&fence.key)
            .bind(&fence.holder)
            .bind(fence.generation)
            .execute(&mut *conn)
            .await?;
            Ok(r.rows_affected() > 0)
        }

        /// A mailbox worked: no failures counted, no exclusion, its last success now. How
        /// many rows changed (none: no such mailbox).
        async fn record_success_on(conn: &mut Conn, rep_id: &str) -> Result<u64> {
            let r = sqlx::query(concat!(
                "UPDATE mailboxes SET consecutive_failures = 0, excluded_until = NULL, \
                 last_success_at = ",
                $now!(),
                ", updated_at = ",
                $now!(),
                " WHERE rep_id = $1"
            ))
            .bind(rep_id)
            .execute(&mut *conn)
            .await?;
            Ok(r.rows_affected())
        }

        /// Insert or replace cursor `c`, held to `fences` (see `write_held`).
        async fn put_cursor_on(conn: &mut Conn, c: &Cursor, fences: &[LeaseFence]) -> Result<()> {
            let mut qb = QueryBuilder::<$db>::new(
                "INSERT INTO cursors (mailbox, kind, scope, delta_link, next_link, window_start, \
                 window_end, updated_at) SELECT ",
            );
            {
                let mut v = qb.separated(", ");
                v.push_bind(c.mailbox.clone());
                v.push_bind(c.kind.as_str());
                v.push_bind(c.scope.clone());
                v.push_bind(c.delta_link.clone());
                v.push_bind(c.next_link.clone());
                v.push_bind(c.window_start.map(Timestamp::as_microsecond));
                v.push_bind(c.window_end.map(Timestamp::as_microsecond));
                v.push($now!());
            }
            write_held(
                qb,
                conn,
                fences,
                " ON CONFLICT (mailbox, kind, scope) DO UPDATE SET \
                 delta_link = excluded.delta_link, next_link = excluded.next_link, \
                 window_start = excluded.window_start, window_end = excluded.window_end, \
                 updated_at = excluded.updated_at",
            )
            .await
        }
    };
}

pub(crate) use sql_writes;
