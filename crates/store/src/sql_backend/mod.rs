//! The SQL shared by both backends, expanded once per backend.
//!
//! SQLite (≥ 3.35) and PostgreSQL accept the same dialect for everything the store does:
//! `$n` placeholders, `INSERT … ON CONFLICT … DO UPDATE … WHERE`, `RETURNING`. The only
//! differences in these queries are the expression for "now" (the database clock in
//! microseconds) and the one drawing the next lease generation, which are spliced in with
//! `concat!` so every query stays a `&'static str`. The backend modules add what really
//! differs (connecting, bulk lease claims, the fence check `check_fences_on`, and the fences'
//! condition a write carries itself, `push_fences_held`). The row writes several methods share, and
//! how they are held to fences, are in [`sql_writes`](crate::sql_writes).
//!
//! A macro rather than generic code over `sqlx::Database`: the trait bounds for generic
//! sqlx code over two drivers are longer than the queries themselves.
//!
//! This file holds the imports, the helpers several areas share and the methods of
//! [`StateStore`](crate::StateStore) itself; each area trait's impl is a macro of its own, in
//! the file of the same name as the trait's (`mailbox.rs` for
//! [`MailboxStore`](crate::MailboxStore), …), invoked at the end of [`sql_backend!`].

mod alert;
mod cursor;
mod item;
mod lease;
mod ledger;
mod link;
mod mailbox;
mod resolved;
mod run;
mod subscription;

pub(crate) use alert::sql_alerts;
pub(crate) use cursor::sql_cursors;
pub(crate) use item::sql_items;
pub(crate) use lease::sql_leases;
pub(crate) use ledger::sql_ledger;
pub(crate) use link::sql_links;
pub(crate) use mailbox::sql_mailboxes;
pub(crate) use resolved::sql_resolved_names;
pub(crate) use run::sql_runs;
pub(crate) use subscription::sql_subscriptions;

macro_rules! sql_backend {
    (
        $store:ident,
        $db:ty,
        $backend:expr,
        $now:ident,
        $next_generation:ident,
        $insert_id:ident,
        $push_fences_held:path
    ) => {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use async_trait::async_trait;
        use futures::TryStreamExt as _;
        use jiff::Timestamp;
        use sqlx::{QueryBuilder, Row as _};
        use tokio::io::{AsyncWrite, AsyncWriteExt as _};
        use uuid::Uuid;

        use $crate::error::StoreError;
        use $crate::lease::{Lease, LeaseFence};
        use $crate::probe_reads::ProbeReads;
        use $crate::schedule::{KindSchedule, ScheduleEntry};
        use $crate::sql_rows::{
            RETRY_BESIDE_LINK, RETRY_COLS, RetryCols, count, count_in, crm_id, opt_ts, ts, uuid,
        };
        use $crate::store::{
            AlertStore, CursorStore, ItemStore, LeaseStore, LedgerStore, LinkStore, MailboxStore,
            ResolvedNameStore, Result, RunStore, StateStore, SubscriptionStore,
        };
        use $crate::types::{
            Alert, AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit, ItemRetry, Kind,
            KindRun, KindState, LedgerAction, LedgerEntry, LedgerFilter, Link, LinkState,
            MailboxExclusion, MailboxFailure, MailboxRecord, MailboxUpsert, NewAlert,
            NewLedgerEntry, Run, RunCounts, RunEnd, RunOutcome, SubscriptionRecord,
            duration_micros,
        };
        use $crate::url::Backend;
        use $crate::write::{Write, Written};

        type Conn = <$db as sqlx::Database>::Connection;

        $crate::sql_rows::sql_rows!($db);

        /// The condition of an unsettled link (`unsettled_links`, `probe_reads`): an intent
        /// without a CRM id, or an active link whose Graph item no change feed reported yet.
        const UNSETTLED: &str = "(state = 'interrupted' AND crm_id IS NULL) \
             OR (state = 'active' AND crm_id IS NOT NULL \
             AND graph_hash IS NULL AND graph_version IS NOT NULL)";

        $crate::sql_writes::sql_writes!($db, $now, $insert_id, $push_fences_held);

        /// One write on `conn`, in whatever transaction `conn` is (SQLite's group commit runs
        /// several in one).
        async fn write_on(conn: &mut Conn, w: &Write) -> Result<Written> {
            Ok(match w {
                Write::Lease { key, holder, ttl } => {
                    Written::Lease(acquire_lease_on(conn, key, holder, *ttl).await?)
                }
                Write::Link { link, fences } => {
                    upsert_link_on(conn, link, fences).await?;
                    Written::Link
                }
                Write::Ledger(entry) => Written::Ledger(insert_ledger_on(conn, entry).await?),
                Write::Commit(commit) => Written::Commit(commit_item_on(conn, commit).await?),
                Write::EndRun(end) => Written::Run(Box::new(end_run_on(conn, end).await?)),
            })
        }

        /// One write on its own: a single statement where it is one, else in a transaction of
        /// its own.
        async fn write_alone(pool: &sqlx::Pool<$db>, w: &Write) -> Result<Written> {
            let one_statement = match w {
                Write::Lease { .. } | Write::Ledger(_) => true,
                // Fences and all in one statement.
                Write::Link { .. } => true,
                Write::Commit(_) => false,
                Write::EndRun(end) => !end.success && end.release.is_none(),
            };
            if one_statement {
                let mut conn = pool.acquire().await?;
                return write_on(&mut conn, w).await;
            }
            let mut tx = pool.begin().await?;
            let written = write_on(&mut tx, w).await?;
            // Dropping `tx` on any `?` above rolls everything back.
            tx.commit().await?;
            Ok(written)
        }

        impl $store {
            fn found(rows: u64, what: impl FnOnce() -> String) -> Result<()> {
                if rows == 0 {
                    Err(StoreError::NotFound(what()))
                } else {
                    Ok(())
                }
            }
        }

        #[async_trait]
        impl StateStore for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn now(&self) -> Result<Timestamp> {
                if $backend == Backend::Sqlite {
                    // SQLite runs in this process: its clock (`unixepoch('subsec')`, whole
                    // milliseconds) is this machine's system clock, and every process that
                    // opens the file runs on this machine. Reading it here spares a round
                    // trip through the connection's worker thread, which the engine paid
                    // several times per run (docs/PERFORMANCE.md, "10,000 mailboxes").
                    let millis = Timestamp::now().as_millisecond();
                    return ts(millis * 1000);
                }
                let micros: i64 = sqlx::query_scalar(concat!("SELECT ", $now!()))
                    .fetch_one(&self.pool)
                    .await?;
                ts(micros)
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }

        $crate::sql_backend::sql_mailboxes!($store, $db, $now);
        $crate::sql_backend::sql_cursors!($store);
        $crate::sql_backend::sql_resolved_names!($store, $now);
        $crate::sql_backend::sql_subscriptions!($store, $now);
        $crate::sql_backend::sql_links!($store, $db);
        $crate::sql_backend::sql_items!($store, $db, $now);
        $crate::sql_backend::sql_ledger!($store, $db, $now);
        $crate::sql_backend::sql_runs!($store, $db, $now);
        $crate::sql_backend::sql_alerts!($store, $db, $now);
        $crate::sql_backend::sql_leases!($store, $now, $next_generation);
    };
}

pub(crate) use sql_backend;
