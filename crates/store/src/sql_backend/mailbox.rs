//! The SQL of [`MailboxStore`](crate::MailboxStore) for both backends: the mailboxes, their health,
//! pauses and per-kind schedule, and the batch reads of the scheduler and the idle pre-pass.
//!
//! Also the mailbox helpers only these use: the `IN` list of a batch, a mailbox read with its
//! schedule rows.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_mailboxes {
    ($store:ident, $db:ty, $now:ident) => {
        /// Append ` IN ($1, $2, …)` binding `mailboxes` (not empty).
        fn push_in_list(qb: &mut QueryBuilder<$db>, mailboxes: &[String]) {
            qb.push(" IN (");
            let mut ids = qb.separated(", ");
            for m in mailboxes {
                ids.push_bind(m.clone());
            }
            qb.push(")");
        }

        /// The scheduler's view of the mailboxes ([`ScheduleEntry`]): a mailbox's row joined
        /// with one row per kind it has a schedule for (or none).
        const SCHEDULE_JOIN: &str = "SELECT m.rep_id, m.enabled, m.consecutive_failures, \
             m.excluded_until, m.paused_at, m.created_at, s.kind, s.next_due, \
             s.paused_at AS kind_paused_at, s.backlog \
             FROM mailboxes m LEFT JOIN mailbox_schedule s ON s.mailbox = m.rep_id";

        /// Add one row of [`SCHEDULE_JOIN`] (ordered by rep id) to `out`: a new entry when
        /// its mailbox differs from the last one's, and its kind, if any, to that entry.
        fn push_schedule_row(row: &DbRow, out: &mut Vec<ScheduleEntry>) -> Result<()> {
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
            Ok(())
        }

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
                let mut qb = QueryBuilder::<$db>::new(SCHEDULE_JOIN);
                qb.push(" ORDER BY m.rep_id, s.kind");
                let mut rows = qb.build().fetch(&self.pool);
                let mut out: Vec<ScheduleEntry> = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    push_schedule_row(&row, &mut out)?;
                }
                out.shrink_to_fit();
                Ok(out)
            }

            async fn schedule_of(&self, rep_ids: &[String]) -> Result<Vec<ScheduleEntry>> {
                if rep_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = QueryBuilder::<$db>::new(SCHEDULE_JOIN);
                qb.push(" WHERE m.rep_id");
                push_in_list(&mut qb, rep_ids);
                qb.push(" ORDER BY m.rep_id, s.kind");
                let rows = qb.build().fetch_all(&self.pool).await?;
                let mut out: Vec<ScheduleEntry> = Vec::new();
                for row in &rows {
                    push_schedule_row(row, &mut out)?;
                }
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
                let mut conn = self.pool.acquire().await?;
                let rows = record_success_on(&mut conn, rep_id).await?;
                Self::found(rows, || format!("mailbox {rep_id}"))
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

            async fn set_due_in(&self, rep_id: &str, kind: Kind, after: Duration) -> Result<()> {
                let r = sqlx::query(concat!(
                    "INSERT INTO mailbox_schedule (mailbox, kind, next_due) \
                     SELECT rep_id, $2, ",
                    $now!(),
                    " + $3 FROM mailboxes WHERE rep_id = $1 \
                     ON CONFLICT (mailbox, kind) DO UPDATE SET next_due = excluded.next_due"
                ))
                .bind(rep_id)
                .bind(kind.as_str())
                .bind(duration_micros(after))
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
                     SELECT rep_id, $2, ",
                    $now!(),
                    " + $3, ",
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
                .bind(duration_micros(run.due_in))
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
    };
}

pub(crate) use sql_mailboxes;
