//! The SQL of [`RunStore`](crate::RunStore) for both backends: the runs.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_runs {
    ($store:ident, $db:ty, $now:ident) => {
        /// The run's row finished on `conn`; `None` if there is no such run.
        async fn finish_run_on(
            conn: &mut Conn,
            id: Uuid,
            counts: &RunCounts,
            outcome: RunOutcome,
            error: Option<&str>,
        ) -> Result<Option<Run>> {
            let mut qb =
                QueryBuilder::<$db>::new(concat!("UPDATE runs SET finished_at = ", $now!()));
            qb.push(", created = ").push_bind(count_in(counts.created));
            qb.push(", adopted = ").push_bind(count_in(counts.adopted));
            qb.push(", updated = ").push_bind(count_in(counts.updated));
            qb.push(", skipped = ").push_bind(count_in(counts.skipped));
            qb.push(", deleted = ").push_bind(count_in(counts.deleted));
            qb.push(", failed = ").push_bind(count_in(counts.failed));
            qb.push(", warnings = ")
                .push_bind(count_in(counts.warnings));
            qb.push(", outcome = ").push_bind(outcome.as_str());
            qb.push(", error = ").push_bind(error.map(str::to_owned));
            qb.push(" WHERE id = ").push_bind(id.to_string());
            // The finished run back from the same statement: one round trip, not two.
            qb.push(" RETURNING ").push(RUN_COLS);
            let row = qb.build().fetch_optional(&mut *conn).await?;
            row.as_ref().map(run_from_row).transpose()
        }

        /// A run's end on `conn`, whose transaction the caller began and commits (alone, or
        /// with other writes on SQLite): its row, the mailbox's success, the lease's release.
        /// An unknown run is an error (and rolls the rest back); a mailbox removed meanwhile,
        /// or a lease already taken over, is not.
        async fn end_run_on(conn: &mut Conn, end: &RunEnd) -> Result<Run> {
            let run = finish_run_on(conn, end.id, &end.counts, end.outcome, end.error.as_deref())
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("run {}", end.id)))?;
            if end.success {
                record_success_on(conn, &end.mailbox).await?;
            }
            if let Some(fence) = &end.release {
                release_lease_on(conn, fence).await?;
            }
            Ok(run)
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

            async fn end_run(&self, end: &RunEnd) -> Result<Run> {
                self.write(Write::EndRun(Box::new(end.clone())))
                    .await?
                    .run()
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
                let r = sqlx::query(concat!(
                    "DELETE FROM runs WHERE started_at < ",
                    $now!(),
                    " - $1"
                ))
                .bind(duration_micros(age))
                .execute(&self.pool)
                .await?;
                Ok(r.rows_affected())
            }
        }
    };
}

pub(crate) use sql_runs;
