//! The SQL shared by both backends, expanded once per backend.
//!
//! SQLite (≥ 3.35) and PostgreSQL accept the same dialect for everything the store does:
//! `$n` placeholders, `INSERT … ON CONFLICT … DO UPDATE … WHERE`, `RETURNING`. The only
//! differences in these queries are the expression for "now" (the database clock in
//! microseconds) and the one drawing the next lease generation, which are spliced in with
//! `concat!` so every query stays a `&'static str`. The backend modules add what really
//! differs (connecting, bulk lease claims, the fence check `check_fences_on`, and whether a
//! write can carry its fences' condition itself). The row writes several methods share, and
//! how they are held to fences, are in [`sql_writes`](crate::sql_writes).
//!
//! A macro rather than generic code over `sqlx::Database`: the trait bounds for generic
//! sqlx code over two drivers are longer than the queries themselves.

macro_rules! sql_backend {
    ($store:ident, $db:ty, $backend:expr, $now:ident, $next_generation:ident, $fences_in_statement:expr) => {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use async_trait::async_trait;
        use futures::TryStreamExt as _;
        use jiff::Timestamp;
        use sqlx::{QueryBuilder, Row as _};
        use tokio::io::{AsyncWrite, AsyncWriteExt as _};
        use uuid::Uuid;

        use $crate::error::StoreError;
        use $crate::sql_rows::{
            count, count_in, crm_id, opt_ts, ts, uuid, RetryCols, RETRY_BESIDE_LINK, RETRY_COLS,
        };
        use $crate::schedule::{KindSchedule, ScheduleEntry};
        use $crate::store::{
            AlertStore, CursorStore, ItemStore, LeaseStore, LedgerStore, LinkStore, MailboxStore,
            ResolvedNameStore, Result, RunStore, StateStore, SubscriptionStore,
        };
        use $crate::types::{
            duration_micros, Alert, AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit,
            ItemRetry, Kind, KindRun, KindState, LedgerAction, LedgerEntry, LedgerFilter, Link,
            LinkState, MailboxExclusion, MailboxFailure, MailboxRecord, MailboxUpsert, NewAlert, NewLedgerEntry,
            Run, RunCounts, RunOutcome, SubscriptionRecord,
        };
        use $crate::lease::{Lease, LeaseFence};
        use $crate::probe_reads::ProbeReads;
        use $crate::url::Backend;

        type Conn = <$db as sqlx::Database>::Connection;

        $crate::sql_rows::sql_rows!($db);

        /// The condition of an unsettled link (`unsettled_links`, `probe_reads`): an intent
        /// without a CRM id, or an active link whose Graph item no change feed reported yet.
        const UNSETTLED: &str = "(state = 'interrupted' AND crm_id IS NULL) \
             OR (state = 'active' AND crm_id IS NOT NULL \
             AND graph_hash IS NULL AND graph_version IS NOT NULL)";

        /// Append ` IN ($1, $2, …)` binding `mailboxes` (not empty).
        fn push_in_list(qb: &mut QueryBuilder<$db>, mailboxes: &[String]) {
            qb.push(" IN (");
            let mut ids = qb.separated(", ");
            for m in mailboxes {
                ids.push_bind(m.clone());
            }
            qb.push(")");
        }

        /// Append the WHERE clause of a ledger filter (everything but limit/order).
        fn push_ledger_filter(qb: &mut QueryBuilder<$db>, f: &LedgerFilter) {
            qb.push(" WHERE 1 = 1");
            if let Some(v) = &f.mailbox {
                qb.push(" AND mailbox = ").push_bind(v.clone());
            }
            if let Some(v) = f.kind {
                qb.push(" AND kind = ").push_bind(v.as_str());
            }
            if let Some(v) = &f.item_key {
                qb.push(" AND item_key = ").push_bind(v.clone());
            }
            if let Some(v) = f.crm_id {
                qb.push(" AND crm_id = ").push_bind(v.to_string());
            }
            if let Some(v) = f.action {
                qb.push(" AND action = ").push_bind(v.as_str());
            }
            if let Some(v) = f.run_id {
                qb.push(" AND run_id = ").push_bind(v.to_string());
            }
            if let Some(v) = f.since {
                qb.push(" AND at >= ").push_bind(v.as_microsecond());
            }
            if let Some(v) = f.until {
                qb.push(" AND at < ").push_bind(v.as_microsecond());
            }
            if let Some(v) = f.before_id {
                qb.push(" AND id < ").push_bind(v);
            }
        }

        $crate::sql_writes::sql_writes!($db, $now, $fences_in_statement);

        impl $store {
            /// Fill `next_due` of the given mailboxes from `mailbox_schedule`.
            async fn attach_schedules(&self, mailboxes: &mut [MailboxRecord]) -> Result<()> {
                if mailboxes.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(SCHEDULE_COLS)
                    .push(" FROM mailbox_schedule WHERE mailbox IN (");
                {
                    let mut sep = qb.separated(", ");
                    for m in mailboxes.iter() {
                        sep.push_bind(m.rep_id.clone());
                    }
                }
                qb.push(")");
                let rows = qb.build().fetch_all(&self.pool).await?;
                attach_rows(&rows, mailboxes)
            }

            async fn fetch_mailbox(&self, rep_id: &str) -> Result<Option<MailboxRecord>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(MAILBOX_COLS)
                    .push(" FROM mailboxes m WHERE m.rep_id = ")
                    .push_bind(rep_id.to_owned());
                let row = qb.build().fetch_optional(&self.pool).await?;
                let Some(row) = row else { return Ok(None) };
                let mut m = [mailbox_from_row(&row)?];
                self.attach_schedules(&mut m).await?;
                let [m] = m;
                Ok(Some(m))
            }

            async fn require_mailbox(&self, rep_id: &str) -> Result<MailboxRecord> {
                self.fetch_mailbox(rep_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("mailbox {rep_id}")))
            }

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

        #[async_trait]
        impl MailboxStore for $store {
            async fn upsert_mailbox(&self, m: &MailboxUpsert) -> Result<MailboxRecord> {
                sqlx::query(concat!(
                    "INSERT INTO mailboxes (rep_id, address, graph_user_id, enabled, \
                     consecutive_failures, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, ",
                    $now!(),
                    ", ",
                    $now!(),
                    ") ON CONFLICT (rep_id) DO UPDATE SET address = excluded.address, \
                     graph_user_id = CASE \
                       WHEN excluded.graph_user_id IS NOT NULL THEN excluded.graph_user_id \
                       WHEN lower(excluded.address) <> lower(mailboxes.address) THEN NULL \
                       ELSE mailboxes.graph_user_id END, \
                     enabled = excluded.enabled, updated_at = excluded.updated_at"
                ))
                .bind(&m.rep_id)
                .bind(&m.address)
                .bind(&m.graph_user_id)
                .bind(m.enabled)
                .execute(&self.pool)
                .await?;
                self.require_mailbox(&m.rep_id).await
            }

            async fn get_mailbox(&self, rep_id: &str) -> Result<Option<MailboxRecord>> {
                self.fetch_mailbox(rep_id).await
            }

            async fn exclusion(&self, rep_id: &str) -> Result<Option<MailboxExclusion>> {
                let row = sqlx::query(concat!(
                    "SELECT excluded_until, last_error_text FROM mailboxes \
                     WHERE rep_id = $1 AND excluded_until > ",
                    $now!()
                ))
                .bind(rep_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok(MailboxExclusion {
                        until: ts(row.try_get("excluded_until")?)?,
                        last_error_text: row.try_get("last_error_text")?,
                    })
                })
                .transpose()
            }

            async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(MAILBOX_COLS).push(" FROM mailboxes m ORDER BY m.rep_id");
                let rows = qb.build().fetch_all(&self.pool).await?;
                let mut out = rows.iter().map(mailbox_from_row).collect::<Result<Vec<_>>>()?;
                // One schedule query for everything rather than an IN list of thousands.
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(SCHEDULE_COLS).push(" FROM mailbox_schedule");
                let rows = qb.build().fetch_all(&self.pool).await?;
                attach_rows(&rows, &mut out)?;
                Ok(out)
            }

            async fn schedule(&self) -> Result<Vec<ScheduleEntry>> {
                // One joined query, streamed: consecutive rows of one mailbox (one per kind
                // with a schedule row, or one with NULL kind columns) become one entry.
                let mut rows = sqlx::query(
                    "SELECT m.rep_id, m.enabled, m.consecutive_failures, m.excluded_until, \
                     m.paused_at, m.created_at, s.kind, s.next_due, \
                     s.paused_at AS kind_paused_at, s.backlog \
                     FROM mailboxes m LEFT JOIN mailbox_schedule s ON s.mailbox = m.rep_id \
                     ORDER BY m.rep_id, s.kind",
                )
                .fetch(&self.pool);
                let mut out: Vec<ScheduleEntry> = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    let rep_id: &str = row.try_get("rep_id")?;
                    if out.last().is_none_or(|e| e.rep_id != rep_id) {
                        let failures: i64 = row.try_get("consecutive_failures")?;
                        let paused: Option<i64> = row.try_get("paused_at")?;
                        out.push(ScheduleEntry {
                            rep_id: rep_id.to_owned(),
                            enabled: row.try_get("enabled")?,
                            paused: paused.is_some(),
                            consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
                            excluded_until: opt_ts(row.try_get("excluded_until")?)?,
                            created_at: ts(row.try_get("created_at")?)?,
                            kinds: Vec::new(),
                        });
                    }
                    let kind: Option<&str> = row.try_get("kind")?;
                    if let (Some(kind), Some(entry)) = (kind, out.last_mut()) {
                        let paused: Option<i64> = row.try_get("kind_paused_at")?;
                        let backlog: Option<i64> = row.try_get("backlog")?;
                        entry.kinds.push(KindSchedule {
                            kind: kind.parse()?,
                            next_due: ts(row.try_get("next_due")?)?,
                            paused: paused.is_some(),
                            backlog: backlog.map(count),
                        });
                    }
                }
                out.shrink_to_fit();
                Ok(out)
            }

            async fn set_enabled(&self, rep_id: &str, enabled: bool) -> Result<()> {
                let r = sqlx::query(concat!(
                    "UPDATE mailboxes SET enabled = $2, updated_at = ",
                    $now!(),
                    " WHERE rep_id = $1"
                ))
                .bind(rep_id)
                .bind(enabled)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn set_graph_user_id(
                &self,
                rep_id: &str,
                graph_user_id: Option<&str>,
            ) -> Result<()> {
                let r = sqlx::query(concat!(
                    "UPDATE mailboxes SET graph_user_id = $2, updated_at = ",
                    $now!(),
                    " WHERE rep_id = $1"
                ))
                .bind(rep_id)
                .bind(graph_user_id)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn record_success(&self, rep_id: &str) -> Result<()> {
                let r = sqlx::query(concat!(
                    "UPDATE mailboxes SET consecutive_failures = 0, excluded_until = NULL, \
                     last_success_at = ",
                    $now!(),
                    ", updated_at = ",
                    $now!(),
                    " WHERE rep_id = $1"
                ))
                .bind(rep_id)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn record_failure(
                &self,
                rep_id: &str,
                failure: &MailboxFailure,
                exclusion: Option<ExclusionPolicy>,
            ) -> Result<MailboxRecord> {
                let (after, exclude_for) = match exclusion {
                    Some(p) => (i64::from(p.after_failures.max(1)), duration_micros(p.exclude_for)),
                    None => (0, 0),
                };
                let r = sqlx::query(concat!(
                    "UPDATE mailboxes SET consecutive_failures = consecutive_failures + 1, \
                     last_error_kind = $2, last_error_text = $3, last_error_at = ",
                    $now!(),
                    ", excluded_until = CASE WHEN $4 > 0 AND consecutive_failures + 1 >= $4 \
                       THEN ",
                    $now!(),
                    " + $5 ELSE excluded_until END, updated_at = ",
                    $now!(),
                    " WHERE rep_id = $1"
                ))
                .bind(rep_id)
                .bind(&failure.kind)
                .bind(&failure.text)
                .bind(after)
                .bind(exclude_for)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))?;
                self.require_mailbox(rep_id).await
            }

            async fn clear_exclusion(&self, rep_id: &str) -> Result<()> {
                let r = sqlx::query(concat!(
                    "UPDATE mailboxes SET excluded_until = NULL, updated_at = ",
                    $now!(),
                    " WHERE rep_id = $1"
                ))
                .bind(rep_id)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn set_next_due(&self, rep_id: &str, kind: Kind, at: Timestamp) -> Result<()> {
                let r = sqlx::query(
                    "INSERT INTO mailbox_schedule (mailbox, kind, next_due) \
                     SELECT rep_id, $2, $3 FROM mailboxes WHERE rep_id = $1 \
                     ON CONFLICT (mailbox, kind) DO UPDATE SET next_due = excluded.next_due",
                )
                .bind(rep_id)
                .bind(kind.as_str())
                .bind(at.as_microsecond())
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn due_mailboxes(&self, kind: Kind, limit: u32) -> Result<Vec<MailboxRecord>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(MAILBOX_COLS)
                    .push(
                        " FROM mailboxes m LEFT JOIN mailbox_schedule s \
                         ON s.mailbox = m.rep_id AND s.kind = ",
                    )
                    .push_bind(kind.as_str())
                    .push(concat!(
                        " WHERE m.enabled AND m.paused_at IS NULL AND s.paused_at IS NULL \
                         AND (m.excluded_until IS NULL OR m.excluded_until <= ",
                        $now!(),
                        ") AND (s.next_due IS NULL OR s.next_due <= ",
                        $now!(),
                        ") ORDER BY COALESCE(s.next_due, 0), m.rep_id LIMIT "
                    ))
                    .push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                let mut out = rows.iter().map(mailbox_from_row).collect::<Result<Vec<_>>>()?;
                self.attach_schedules(&mut out).await?;
                Ok(out)
            }

            async fn set_paused(&self, rep_id: &str, kind: Option<Kind>, paused: bool) -> Result<()> {
                let r = match kind {
                    None => sqlx::query(concat!(
                        "UPDATE mailboxes SET paused_at = CASE WHEN $2 THEN COALESCE(paused_at, ",
                        $now!(),
                        ") ELSE NULL END, updated_at = ",
                        $now!(),
                        " WHERE rep_id = $1"
                    ))
                    .bind(rep_id)
                    .bind(paused)
                    .execute(&self.pool)
                    .await?,
                    // A kind that was never scheduled gets its row (due now) to hold the pause.
                    Some(kind) => sqlx::query(concat!(
                        "INSERT INTO mailbox_schedule (mailbox, kind, next_due, paused_at) \
                         SELECT rep_id, $2, ",
                        $now!(),
                        ", CASE WHEN $3 THEN ",
                        $now!(),
                        " ELSE NULL END FROM mailboxes WHERE rep_id = $1 \
                         ON CONFLICT (mailbox, kind) DO UPDATE SET paused_at = CASE WHEN $3 \
                         THEN COALESCE(mailbox_schedule.paused_at, excluded.paused_at) \
                         ELSE NULL END"
                    ))
                    .bind(rep_id)
                    .bind(kind.as_str())
                    .bind(paused)
                    .execute(&self.pool)
                    .await?,
                };
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn record_kind_run(&self, rep_id: &str, kind: Kind, run: &KindRun) -> Result<()> {
                let success = run.outcome == RunOutcome::Success;
                let r = sqlx::query(concat!(
                    "INSERT INTO mailbox_schedule (mailbox, kind, next_due, last_run_at, \
                     last_success_at, last_outcome, last_error, backlog) \
                     SELECT rep_id, $2, $3, ",
                    $now!(),
                    ", CASE WHEN $4 THEN ",
                    $now!(),
                    " ELSE NULL END, $5, $6, $7 FROM mailboxes WHERE rep_id = $1 \
                     ON CONFLICT (mailbox, kind) DO UPDATE SET next_due = excluded.next_due, \
                     last_run_at = excluded.last_run_at, \
                     last_success_at = COALESCE(excluded.last_success_at, \
                       mailbox_schedule.last_success_at), \
                     last_outcome = excluded.last_outcome, last_error = excluded.last_error, \
                     backlog = excluded.backlog"
                ))
                .bind(rep_id)
                .bind(kind.as_str())
                .bind(run.next_due.as_microsecond())
                .bind(success)
                .bind(run.outcome.as_str())
                .bind(&run.error)
                .bind(run.backlog.map(count_in))
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("mailbox {rep_id}"))
            }

            async fn record_idle_runs(
                &self,
                kind: Kind,
                idle: &[(String, Timestamp)],
            ) -> Result<()> {
                // The last entry of a mailbox wins; one row each, as an upsert may not touch
                // a row twice (PostgreSQL refuses).
                let mut last: BTreeMap<&str, Timestamp> = BTreeMap::new();
                for (rep_id, next_due) in idle {
                    last.insert(rep_id.as_str(), *next_due);
                }
                if last.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<$db>::new("WITH idle (rep_id, next_due) AS (VALUES ");
                let mut rows = qb.separated(", ");
                for (rep_id, next_due) in &last {
                    rows.push("(");
                    rows.push_bind_unseparated(*rep_id);
                    rows.push_unseparated(", ");
                    rows.push_bind_unseparated(next_due.as_microsecond());
                    rows.push_unseparated(")");
                }
                qb.push(
                    ") INSERT INTO mailbox_schedule (mailbox, kind, next_due, last_run_at, \
                     last_success_at, last_outcome, last_error, backlog) \
                     SELECT m.rep_id, ",
                );
                qb.push_bind(kind.as_str());
                qb.push(concat!(", idle.next_due, ", $now!(), ", ", $now!(), ", "));
                qb.push_bind(RunOutcome::Success.as_str());
                // `WHERE true`: SQLite needs it to tell the upsert's ON from the join's.
                qb.push(
                    ", NULL, 0 FROM idle JOIN mailboxes m ON m.rep_id = idle.rep_id WHERE true \
                     ON CONFLICT (mailbox, kind) DO UPDATE SET next_due = excluded.next_due, \
                     last_run_at = excluded.last_run_at, \
                     last_success_at = excluded.last_success_at, \
                     last_outcome = excluded.last_outcome, last_error = NULL, backlog = 0",
                );
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn needing_runs(
                &self,
                kind: Kind,
                mailboxes: &[String],
                at: Timestamp,
            ) -> Result<Vec<String>> {
                if mailboxes.is_empty() {
                    return Ok(Vec::new());
                }
                let in_list = |qb: &mut QueryBuilder<$db>| push_in_list(qb, mailboxes);
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT rep_id FROM mailboxes WHERE excluded_until > ",
                );
                qb.push_bind(at.as_microsecond()).push(" AND rep_id");
                in_list(&mut qb);
                qb.push(" UNION SELECT r.mailbox FROM item_retries r JOIN mailboxes m ON m.rep_id = r.mailbox WHERE r.kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND r.mailbox");
                in_list(&mut qb);
                qb.push(" UNION SELECT p.mailbox FROM resolved_names p JOIN mailboxes m ON m.rep_id = p.mailbox WHERE p.kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND substr(p.name, 1, ")
                    .push_bind(crate::PENDING.len() as i32)
                    .push(") = ")
                    .push_bind(crate::PENDING)
                    .push(" AND p.mailbox");
                in_list(&mut qb);
                qb.push(" ORDER BY 1");
                Ok(qb.build_query_scalar().fetch_all(&self.pool).await?)
            }

            async fn probe_reads(&self, kind: Kind, mailboxes: &[String]) -> Result<ProbeReads> {
                let mut reads = ProbeReads::new(self.now().await?);
                if mailboxes.is_empty() {
                    return Ok(reads);
                }
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT mailbox, kind, scope, delta_link, next_link, window_start, \
                     window_end, updated_at FROM cursors WHERE kind = ",
                );
                qb.push_bind(kind.as_str()).push(" AND mailbox");
                push_in_list(&mut qb, mailboxes);
                for row in qb.build().fetch_all(&self.pool).await? {
                    let c = cursor_from_row(&row)?;
                    let mailbox = c.mailbox.clone();
                    reads.entry(&mailbox).cursors.push(c);
                }
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT mailbox, name, value FROM resolved_names WHERE kind = ",
                );
                qb.push_bind(kind.as_str()).push(" AND mailbox");
                push_in_list(&mut qb, mailboxes);
                let rows: Vec<(String, String, String)> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                for (m, name, value) in rows {
                    reads.entry(&m).resolved.push((name, value));
                }
                let mut qb =
                    QueryBuilder::<$db>::new("SELECT mailbox, graph_id FROM links WHERE kind = ");
                qb.push_bind(kind.as_str())
                    .push(" AND (")
                    .push(UNSETTLED)
                    .push(") AND mailbox");
                push_in_list(&mut qb, mailboxes);
                let rows: Vec<(String, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                for (m, graph_id) in rows {
                    reads.entry(&m).unsettled.push(graph_id);
                }
                // One index seek per mailbox (`links_written`), not a scan of its links.
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT m.rep_id, (SELECT MAX(l.updated_at) FROM links l WHERE l.kind = ",
                );
                qb.push_bind(kind.as_str())
                    .push(" AND l.mailbox = m.rep_id) FROM mailboxes m WHERE m.rep_id");
                push_in_list(&mut qb, mailboxes);
                let rows: Vec<(String, Option<i64>)> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                for (m, written) in rows {
                    if let Some(us) = written {
                        reads.entry(&m).last_link_write = Some(ts(us)?);
                    }
                }
                Ok(reads)
            }
        }

        #[async_trait]
        impl CursorStore for $store {
            async fn get_cursor(
                &self,
                mailbox: &str,
                kind: Kind,
                scope: &str,
            ) -> Result<Option<Cursor>> {
                let row = sqlx::query(
                    "SELECT mailbox, kind, scope, delta_link, next_link, window_start, \
                     window_end, updated_at FROM cursors \
                     WHERE mailbox = $1 AND kind = $2 AND scope = $3",
                )
                .bind(mailbox)
                .bind(kind.as_str())
                .bind(scope)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(cursor_from_row).transpose()
            }

            async fn list_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<Vec<Cursor>> {
                let rows = sqlx::query(
                    "SELECT mailbox, kind, scope, delta_link, next_link, window_start, \
                     window_end, updated_at FROM cursors \
                     WHERE mailbox = $1 AND ($2 IS NULL OR kind = $2) ORDER BY kind, scope",
                )
                .bind(mailbox)
                .bind(kind.map(Kind::as_str))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(cursor_from_row).collect()
            }

            async fn put_cursor(&self, cursor: &Cursor, fences: &[LeaseFence]) -> Result<()> {
                if fences.is_empty() || FENCES_IN_STATEMENT.is_some() {
                    // One statement, fences and all: no transaction around it.
                    let mut conn = self.pool.acquire().await?;
                    return put_cursor_on(&mut conn, cursor, fences).await;
                }
                let mut tx = self.pool.begin().await?;
                put_cursor_on(&mut tx, cursor, fences).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn clear_cursor(
                &self,
                mailbox: &str,
                kind: Kind,
                scope: &str,
                fences: &[LeaseFence],
            ) -> Result<bool> {
                let mut tx = self.pool.begin().await?;
                check_fences_on(&mut tx, fences).await?;
                let r = sqlx::query(
                    "DELETE FROM cursors WHERE mailbox = $1 AND kind = $2 AND scope = $3",
                )
                .bind(mailbox)
                .bind(kind.as_str())
                .bind(scope)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(r.rows_affected() > 0)
            }

            async fn clear_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<u64> {
                let r = sqlx::query(
                    "DELETE FROM cursors WHERE mailbox = $1 AND ($2 IS NULL OR kind = $2)",
                )
                .bind(mailbox)
                .bind(kind.map(Kind::as_str))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }
        }

        #[async_trait]
        impl ResolvedNameStore for $store {
            async fn get_resolved(
                &self,
                mailbox: &str,
                kind: Kind,
                name: &str,
            ) -> Result<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT value FROM resolved_names \
                     WHERE mailbox = $1 AND kind = $2 AND name = $3",
                )
                .bind(mailbox)
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn resolved_of(
                &self,
                mailbox: &str,
                kind: Kind,
            ) -> Result<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT name, value FROM resolved_names \
                     WHERE mailbox = $1 AND kind = $2 ORDER BY name",
                )
                .bind(mailbox)
                .bind(kind.as_str())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn list_resolved(&self, name: &str) -> Result<Vec<(String, Kind, String)>> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT mailbox, kind, value FROM resolved_names \
                     WHERE name = $1 ORDER BY mailbox, kind",
                )
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(m, k, v)| Ok((m, k.parse::<Kind>()?, v)))
                    .collect()
            }

            async fn put_resolved(
                &self,
                mailbox: &str,
                kind: Kind,
                name: &str,
                value: Option<&str>,
            ) -> Result<()> {
                match value {
                    Some(v) => {
                        sqlx::query(concat!(
                            "INSERT INTO resolved_names (mailbox, kind, name, value, updated_at) \
                             VALUES ($1, $2, $3, $4, ",
                            $now!(),
                            ") ON CONFLICT (mailbox, kind, name) DO UPDATE SET \
                             value = excluded.value, updated_at = excluded.updated_at"
                        ))
                        .bind(mailbox)
                        .bind(kind.as_str())
                        .bind(name)
                        .bind(v)
                        .execute(&self.pool)
                        .await?;
                    }
                    None => {
                        sqlx::query(
                            "DELETE FROM resolved_names \
                             WHERE mailbox = $1 AND kind = $2 AND name = $3",
                        )
                        .bind(mailbox)
                        .bind(kind.as_str())
                        .bind(name)
                        .execute(&self.pool)
                        .await?;
                    }
                }
                Ok(())
            }

            async fn clear_resolved_prefix(
                &self,
                mailbox: &str,
                kind: Kind,
                prefix: &str,
            ) -> Result<u64> {
                let r = sqlx::query(
                    "DELETE FROM resolved_names \
                     WHERE mailbox = $1 AND kind = $2 AND substr(name, 1, $3) = $4",
                )
                .bind(mailbox)
                .bind(kind.as_str())
                .bind(i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX))
                .bind(prefix)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }
        }

        #[async_trait]
        impl SubscriptionStore for $store {
            async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
                let rows = sqlx::query(
                    "SELECT mailbox, kind, subscription_id, resource, client_state, expires_at \
                     FROM subscriptions ORDER BY mailbox, kind",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        Ok(SubscriptionRecord {
                            mailbox: row.try_get("mailbox")?,
                            kind: kind.parse()?,
                            subscription_id: row.try_get("subscription_id")?,
                            resource: row.try_get("resource")?,
                            client_state: row.try_get("client_state")?,
                            expires_at: ts(row.try_get("expires_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn put_subscription(&self, s: &SubscriptionRecord) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                // Another (mailbox, kind) can hold the id only after a mix-up; the id wins.
                sqlx::query(
                    "DELETE FROM subscriptions WHERE subscription_id = $1 \
                     AND NOT (mailbox = $2 AND kind = $3)",
                )
                .bind(&s.subscription_id)
                .bind(&s.mailbox)
                .bind(s.kind.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query(concat!(
                    "INSERT INTO subscriptions (mailbox, kind, subscription_id, resource, \
                     client_state, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, ",
                    $now!(),
                    ") ON CONFLICT (mailbox, kind) DO UPDATE SET \
                     subscription_id = excluded.subscription_id, resource = excluded.resource, \
                     client_state = excluded.client_state, expires_at = excluded.expires_at, \
                     updated_at = excluded.updated_at"
                ))
                .bind(&s.mailbox)
                .bind(s.kind.as_str())
                .bind(&s.subscription_id)
                .bind(&s.resource)
                .bind(&s.client_state)
                .bind(s.expires_at.as_microsecond())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_subscription(&self, subscription_id: &str) -> Result<bool> {
                let r = sqlx::query("DELETE FROM subscriptions WHERE subscription_id = $1")
                    .bind(subscription_id)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl LinkStore for $store {
            async fn get_link(
                &self,
                kind: Kind,
                mailbox: &str,
                graph_id: &str,
            ) -> Result<Option<Link>> {
                let row = sqlx::query(
                    "SELECT kind, mailbox, graph_id, global_key, crm_id, graph_version, \
                     crm_version, graph_hash, crm_hash, state, state_reason, updated_at \
                     FROM links WHERE kind = $1 AND mailbox = $2 AND graph_id = $3",
                )
                .bind(kind.as_str())
                .bind(mailbox)
                .bind(graph_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(link_from_row).transpose()
            }

            async fn links_by_global_key(&self, kind: Kind, global_key: &str) -> Result<Vec<Link>> {
                let rows = sqlx::query(
                    "SELECT kind, mailbox, graph_id, global_key, crm_id, graph_version, \
                     crm_version, graph_hash, crm_hash, state, state_reason, updated_at \
                     FROM links WHERE kind = $1 AND global_key = $2",
                )
                .bind(kind.as_str())
                .bind(global_key)
                .fetch_all(&self.pool)
                .await?;
                sorted_links(&rows)
            }

            async fn links_by_crm_id(&self, kind: Kind, crm_id: CrmId) -> Result<Vec<Link>> {
                let rows = sqlx::query(
                    "SELECT kind, mailbox, graph_id, global_key, crm_id, graph_version, \
                     crm_version, graph_hash, crm_hash, state, state_reason, updated_at \
                     FROM links WHERE kind = $1 AND crm_id = $2",
                )
                .bind(kind.as_str())
                .bind(crm_id.to_string())
                .fetch_all(&self.pool)
                .await?;
                sorted_links(&rows)
            }

            async fn list_links(
                &self,
                mailbox: &str,
                kind: Kind,
                after_graph_id: Option<&str>,
                limit: u32,
            ) -> Result<Vec<Link>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(LINK_COLS)
                    .push(" FROM links WHERE kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND mailbox = ")
                    .push_bind(mailbox.to_owned());
                if let Some(after) = after_graph_id {
                    qb.push(" AND graph_id > ").push_bind(after.to_owned());
                }
                qb.push(" ORDER BY graph_id LIMIT ").push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(link_from_row).collect()
            }

            async fn unsettled_links(
                &self,
                mailbox: &str,
                kind: Kind,
                since: Option<Timestamp>,
            ) -> Result<Vec<Link>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(LINK_COLS)
                    .push(" FROM links WHERE kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND mailbox = ")
                    .push_bind(mailbox.to_owned())
                    .push(" AND (")
                    .push(UNSETTLED);
                if let Some(t) = since {
                    qb.push(" OR (state = 'active' AND crm_id IS NOT NULL AND updated_at > ")
                        .push_bind(t.as_microsecond())
                        .push(")");
                }
                qb.push(") ORDER BY graph_id");
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(link_from_row).collect()
            }

            async fn upsert_link(&self, link: &Link, fences: &[LeaseFence]) -> Result<()> {
                if fences.is_empty() || FENCES_IN_STATEMENT.is_some() {
                    // One statement, fences and all: no transaction around it.
                    let mut conn = self.pool.acquire().await?;
                    return upsert_link_on(&mut conn, link, fences).await;
                }
                let mut tx = self.pool.begin().await?;
                upsert_link_on(&mut tx, link, fences).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn upsert_links(&self, links: &[Link]) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                for link in links {
                    upsert_link_on(&mut tx, link, &[]).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<bool> {
                let r = sqlx::query(
                    "DELETE FROM links WHERE kind = $1 AND mailbox = $2 AND graph_id = $3",
                )
                .bind(kind.as_str())
                .bind(mailbox)
                .bind(graph_id)
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl ItemStore for $store {
            async fn commit_item(&self, commit: &ItemCommit) -> Result<Vec<i64>> {
                let mut tx = self.pool.begin().await?;
                // The fences first, so that on SQLite the transaction takes the write lock
                // before it reads anything (see `check_fences_on`): in the link's write where
                // there is a link (one statement fewer, see `write_held`), else on their own.
                match &commit.link {
                    Some(link) => {
                        upsert_link_on(&mut tx, link, &commit.fences).await?;
                        if !commit.no_retry_row {
                            clear_retry_on(&mut tx, link.kind, &link.mailbox, &link.graph_id)
                                .await?;
                        }
                    }
                    None => check_fences_on(&mut tx, &commit.fences).await?,
                }
                if let Some(cursor) = &commit.cursor {
                    put_cursor_on(&mut tx, cursor, &[]).await?;
                }
                let mut ids = Vec::with_capacity(commit.ledger.len());
                for entry in &commit.ledger {
                    ids.push(insert_ledger_on(&mut tx, entry).await?);
                }
                for fence in &commit.release {
                    release_lease_on(&mut tx, fence).await?;
                }
                // Dropping `tx` on any `?` above rolls everything back.
                tx.commit().await?;
                Ok(ids)
            }

            async fn link_and_retry(
                &self,
                kind: Kind,
                mailbox: &str,
                item_key: &str,
            ) -> Result<(Option<Link>, Option<ItemRetry>)> {
                // One row whatever exists: each side is NULL when it has no row.
                let row = sqlx::query(
                    "SELECT l.kind, l.mailbox, l.graph_id, l.global_key, l.crm_id, \
                     l.graph_version, l.crm_version, l.graph_hash, l.crm_hash, l.state, \
                     l.state_reason, l.updated_at, r.kind AS r_kind, \
                     r.mailbox AS r_mailbox, r.item_key AS r_item_key, \
                     r.attempts AS r_attempts, r.retry_at AS r_retry_at, \
                     r.last_error AS r_last_error, r.updated_at AS r_updated_at \
                     FROM (SELECT 1 AS one) AS item \
                     LEFT JOIN links l \
                       ON l.kind = $1 AND l.mailbox = $2 AND l.graph_id = $3 \
                     LEFT JOIN item_retries r \
                       ON r.kind = $1 AND r.mailbox = $2 AND r.item_key = $3",
                )
                .bind(kind.as_str())
                .bind(mailbox)
                .bind(item_key)
                .fetch_one(&self.pool)
                .await?;
                let graph_id: Option<String> = row.try_get("graph_id")?;
                let link = match graph_id {
                    Some(_) => Some(link_from_row(&row)?),
                    None => None,
                };
                let item_key: Option<String> = row.try_get(RETRY_BESIDE_LINK.item_key)?;
                let retry = match item_key {
                    Some(_) => Some(retry_from_row(&row, &RETRY_BESIDE_LINK)?),
                    None => None,
                };
                Ok((link, retry))
            }

            async fn get_retry(
                &self,
                kind: Kind,
                mailbox: &str,
                item_key: &str,
            ) -> Result<Option<ItemRetry>> {
                let row = sqlx::query(
                    "SELECT kind, mailbox, item_key, attempts, retry_at, last_error, updated_at \
                     FROM item_retries WHERE kind = $1 AND mailbox = $2 AND item_key = $3",
                )
                .bind(kind.as_str())
                .bind(mailbox)
                .bind(item_key)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(|r| retry_from_row(r, &RETRY_COLS)).transpose()
            }

            async fn record_retry(
                &self,
                kind: Kind,
                mailbox: &str,
                item_key: &str,
                error: &str,
                delay: Duration,
            ) -> Result<ItemRetry> {
                let row = sqlx::query(concat!(
                    "INSERT INTO item_retries (kind, mailbox, item_key, attempts, retry_at, \
                     last_error, updated_at) VALUES ($1, $2, $3, 1, ",
                    $now!(),
                    " + $4, $5, ",
                    $now!(),
                    ") ON CONFLICT (kind, mailbox, item_key) DO UPDATE SET \
                     attempts = item_retries.attempts + 1, retry_at = excluded.retry_at, \
                     last_error = excluded.last_error, updated_at = excluded.updated_at \
                     RETURNING kind, mailbox, item_key, attempts, retry_at, last_error, updated_at"
                ))
                .bind(kind.as_str())
                .bind(mailbox)
                .bind(item_key)
                .bind(duration_micros(delay))
                .bind(error)
                .fetch_one(&self.pool)
                .await?;
                retry_from_row(&row, &RETRY_COLS)
            }

            async fn clear_retry(&self, kind: Kind, mailbox: &str, item_key: &str) -> Result<bool> {
                let mut conn = self.pool.acquire().await?;
                clear_retry_on(&mut conn, kind, mailbox, item_key).await
            }

            async fn list_retries(
                &self,
                mailbox: Option<&str>,
                limit: u32,
            ) -> Result<Vec<ItemRetry>> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT kind, mailbox, item_key, attempts, retry_at, last_error, updated_at \
                     FROM item_retries",
                );
                if let Some(m) = mailbox {
                    qb.push(" WHERE mailbox = ").push_bind(m.to_owned());
                }
                qb.push(" ORDER BY retry_at, kind, mailbox, item_key LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(|r| retry_from_row(r, &RETRY_COLS)).collect()
            }
        }

        #[async_trait]
        impl LedgerStore for $store {
            async fn record_ledger(&self, entry: &NewLedgerEntry) -> Result<i64> {
                let mut conn = self.pool.acquire().await?;
                insert_ledger_on(&mut conn, entry).await
            }

            async fn query_ledger(&self, filter: &LedgerFilter) -> Result<Vec<LedgerEntry>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(LEDGER_COLS).push(" FROM ledger");
                push_ledger_filter(&mut qb, filter);
                qb.push(" ORDER BY id DESC");
                if let Some(limit) = filter.limit {
                    qb.push(" LIMIT ").push_bind(i64::from(limit));
                }
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(ledger_from_row).collect()
            }

            async fn purge_ledger_older_than(&self, age: Duration) -> Result<u64> {
                let r = sqlx::query(concat!("DELETE FROM ledger WHERE at < ", $now!(), " - $1"))
                    .bind(duration_micros(age))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn export_ledger_jsonl(
                &self,
                filter: &LedgerFilter,
                out: &mut (dyn AsyncWrite + Unpin + Send),
            ) -> Result<u64> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(LEDGER_COLS).push(" FROM ledger");
                push_ledger_filter(&mut qb, filter);
                qb.push(" ORDER BY id ASC");
                let mut rows = qb.build().fetch(&self.pool);
                let mut n = 0u64;
                let mut line = Vec::with_capacity(512);
                while let Some(row) = rows.try_next().await? {
                    let entry = ledger_from_row(&row)?;
                    line.clear();
                    serde_json::to_writer(&mut line, &entry).map_err(|e| {
                        StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                    })?;
                    line.push(b'\n');
                    out.write_all(&line).await?;
                    n += 1;
                }
                out.flush().await?;
                Ok(n)
            }
        }

        #[async_trait]
        impl RunStore for $store {
            async fn start_run(&self, mailbox: &str, kind: Kind) -> Result<Run> {
                let id = Uuid::now_v7();
                let started: i64 = sqlx::query_scalar(concat!(
                    "INSERT INTO runs (id, mailbox, kind, started_at) VALUES ($1, $2, $3, ",
                    $now!(),
                    ") RETURNING started_at"
                ))
                .bind(id.to_string())
                .bind(mailbox)
                .bind(kind.as_str())
                .fetch_one(&self.pool)
                .await?;
                Ok(Run {
                    id,
                    mailbox: mailbox.to_owned(),
                    kind,
                    started_at: ts(started)?,
                    finished_at: None,
                    counts: RunCounts::default(),
                    outcome: None,
                    error: None,
                })
            }

            async fn finish_run(
                &self,
                id: Uuid,
                counts: &RunCounts,
                outcome: RunOutcome,
                error: Option<&str>,
            ) -> Result<Run> {
                let mut qb = QueryBuilder::<$db>::new(concat!("UPDATE runs SET finished_at = ", $now!()));
                qb.push(", created = ").push_bind(count_in(counts.created));
                qb.push(", adopted = ").push_bind(count_in(counts.adopted));
                qb.push(", updated = ").push_bind(count_in(counts.updated));
                qb.push(", skipped = ").push_bind(count_in(counts.skipped));
                qb.push(", deleted = ").push_bind(count_in(counts.deleted));
                qb.push(", failed = ").push_bind(count_in(counts.failed));
                qb.push(", warnings = ").push_bind(count_in(counts.warnings));
                qb.push(", outcome = ").push_bind(outcome.as_str());
                qb.push(", error = ").push_bind(error.map(str::to_owned));
                qb.push(" WHERE id = ").push_bind(id.to_string());
                // The finished run back from the same statement: one round trip, not two.
                qb.push(" RETURNING ").push(RUN_COLS);
                let row = qb.build().fetch_optional(&self.pool).await?;
                row.as_ref()
                    .map(run_from_row)
                    .transpose()?
                    .ok_or_else(|| StoreError::NotFound(format!("run {id}")))
            }

            async fn get_run(&self, id: Uuid) -> Result<Option<Run>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(RUN_COLS)
                    .push(" FROM runs WHERE id = ")
                    .push_bind(id.to_string());
                let row = qb.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(run_from_row).transpose()
            }

            async fn list_runs(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<Run>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(RUN_COLS).push(" FROM runs");
                if let Some(m) = mailbox {
                    qb.push(" WHERE mailbox = ").push_bind(m.to_owned());
                }
                qb.push(" ORDER BY started_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(run_from_row).collect()
            }

            async fn purge_runs_older_than(&self, age: Duration) -> Result<u64> {
                let r = sqlx::query(concat!("DELETE FROM runs WHERE started_at < ", $now!(), " - $1"))
                    .bind(duration_micros(age))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }

        #[async_trait]
        impl AlertStore for $store {
            async fn raise_alert(
                &self,
                alert: &NewAlert,
                repeat_after: Duration,
            ) -> Result<Option<Alert>> {
                let mut tx = self.pool.begin().await?;
                // One statement claims the gate: insert, or take it over when the last alert
                // with this key is old enough. On PostgreSQL the conflicting row is locked and
                // the WHERE re-checked, so two processes cannot both claim it.
                let claimed = sqlx::query(concat!(
                    "INSERT INTO alert_gates (key, last_sent_at) VALUES ($1, ",
                    $now!(),
                    ") ON CONFLICT (key) DO UPDATE SET last_sent_at = excluded.last_sent_at \
                     WHERE alert_gates.last_sent_at <= excluded.last_sent_at - $2 \
                     RETURNING key"
                ))
                .bind(&alert.key)
                .bind(duration_micros(repeat_after))
                .fetch_optional(&mut *tx)
                .await?;
                if claimed.is_none() {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let mut qb = QueryBuilder::<$db>::new(concat!(
                    "INSERT INTO alerts (at, key, kind, mailbox, subject, body, delivery) VALUES (",
                    $now!(),
                    ", "
                ));
                {
                    let mut sep = qb.separated(", ");
                    sep.push_bind(alert.key.clone());
                    sep.push_bind(alert.kind.clone());
                    sep.push_bind(alert.mailbox.clone());
                    sep.push_bind(alert.subject.clone());
                    sep.push_bind(alert.body.clone());
                    sep.push_bind(AlertDelivery::Pending.as_str());
                }
                qb.push(") RETURNING ").push(ALERT_COLS);
                let row = qb.build().fetch_one(&mut *tx).await?;
                let out = alert_from_row(&row)?;
                tx.commit().await?;
                Ok(Some(out))
            }

            async fn set_alert_delivery(
                &self,
                id: i64,
                delivery: AlertDelivery,
                error: Option<&str>,
            ) -> Result<()> {
                let r = sqlx::query(concat!(
                    "UPDATE alerts SET delivery = $2, delivery_error = $3, delivered_at = \
                     CASE WHEN $2 = 'sent' THEN ",
                    $now!(),
                    " ELSE delivered_at END WHERE id = $1"
                ))
                .bind(id)
                .bind(delivery.as_str())
                .bind(error)
                .execute(&self.pool)
                .await?;
                Self::found(r.rows_affected(), || format!("alert {id}"))
            }

            async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>> {
                let mut qb = QueryBuilder::<$db>::new("SELECT ");
                qb.push(ALERT_COLS)
                    .push(" FROM alerts ORDER BY id DESC LIMIT ")
                    .push_bind(i64::from(limit));
                let rows = qb.build().fetch_all(&self.pool).await?;
                rows.iter().map(alert_from_row).collect()
            }

            async fn purge_alerts_older_than(&self, age: Duration) -> Result<u64> {
                let r = sqlx::query(concat!("DELETE FROM alerts WHERE at < ", $now!(), " - $1"))
                    .bind(duration_micros(age))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }
        }

        #[async_trait]
        impl LeaseStore for $store {
            async fn try_acquire_lease(
                &self,
                key: &str,
                holder: &str,
                ttl: Duration,
            ) -> Result<Option<LeaseFence>> {
                // One statement, so it is atomic on both backends: insert, or take over an
                // expired lease, or extend our own; a live lease of someone else is left
                // alone. A new holding draws a new generation; extending our own running
                // one keeps it. On a conflict the generation is drawn in the UPDATE, after
                // the row is locked, so it is larger than the one it replaces.
                let row = sqlx::query(concat!(
                    "INSERT INTO leases (key, holder, acquired_at, expires_at, generation) \
                     VALUES ($1, $2, ",
                    $now!(),
                    ", ",
                    $now!(),
                    " + $3, ",
                    $next_generation!(),
                    ") ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, \
                     acquired_at = CASE WHEN leases.holder = excluded.holder \
                       AND leases.expires_at > excluded.acquired_at \
                       THEN leases.acquired_at ELSE excluded.acquired_at END, \
                     generation = CASE WHEN leases.holder = excluded.holder \
                       AND leases.expires_at > excluded.acquired_at \
                       THEN leases.generation ELSE ",
                    $next_generation!(),
                    " END, \
                     expires_at = excluded.expires_at \
                     WHERE leases.expires_at <= excluded.acquired_at \
                       OR leases.holder = excluded.holder \
                     RETURNING key, holder, generation"
                ))
                .bind(key)
                .bind(holder)
                .bind(duration_micros(ttl))
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(fence_from_row).transpose()
            }

            async fn renew_lease(&self, fence: &LeaseFence, ttl: Duration) -> Result<bool> {
                let r = sqlx::query(concat!(
                    "UPDATE leases SET expires_at = ",
                    $now!(),
                    " + $4 WHERE key = $1 AND holder = $2 AND generation = $3 AND expires_at > ",
                    $now!()
                ))
                .bind(&fence.key)
                .bind(&fence.holder)
                .bind(fence.generation)
                .bind(duration_micros(ttl))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn release_lease(&self, fence: &LeaseFence) -> Result<bool> {
                let mut conn = self.pool.acquire().await?;
                release_lease_on(&mut conn, fence).await
            }

            async fn acquire_leases(
                &self,
                holder: &str,
                candidates: &[String],
                limit: usize,
                ttl: Duration,
            ) -> Result<Vec<LeaseFence>> {
                if candidates.is_empty() || limit == 0 {
                    return Ok(Vec::new());
                }
                let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
                let ttl = duration_micros(ttl);
                let mut rows = self.claim_existing(holder, candidates, limit_sql, ttl).await?;
                let remaining = limit.saturating_sub(rows.len());
                if remaining > 0 {
                    let remaining = i64::try_from(remaining).unwrap_or(i64::MAX);
                    rows.extend(self.claim_new(holder, candidates, remaining, ttl).await?);
                }
                sorted_fences(&rows)
            }

            async fn renew_leases(&self, holder: &str, ttl: Duration) -> Result<Vec<LeaseFence>> {
                let rows = sqlx::query(concat!(
                    "UPDATE leases SET expires_at = ",
                    $now!(),
                    " + $2 WHERE holder = $1 AND expires_at > ",
                    $now!(),
                    " RETURNING key, holder, generation"
                ))
                .bind(holder)
                .bind(duration_micros(ttl))
                .fetch_all(&self.pool)
                .await?;
                sorted_fences(&rows)
            }

            async fn release_leases(&self, holder: &str) -> Result<u64> {
                let r = sqlx::query("DELETE FROM leases WHERE holder = $1")
                    .bind(holder)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            }

            async fn list_leases(&self) -> Result<Vec<Lease>> {
                let rows = sqlx::query(
                    "SELECT key, holder, acquired_at, expires_at, generation FROM leases \
                     ORDER BY key",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(lease_from_row).collect()
            }
        }
    };
}

pub(crate) use sql_backend;
