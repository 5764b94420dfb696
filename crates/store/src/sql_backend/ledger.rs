//! The SQL of [`LedgerStore`](crate::LedgerStore) for both backends: the decision ledger.
//!
//! Also the WHERE clause of a [`LedgerFilter`](crate::LedgerFilter), which only these use.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_ledger {
    ($store:ident, $db:ty, $now:ident) => {
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

        #[async_trait]
        impl LedgerStore for $store {
            async fn record_ledger(&self, entry: &NewLedgerEntry) -> Result<i64> {
                self.write(Write::Ledger(Box::new(entry.clone())))
                    .await?
                    .ledger()
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
    };
}

pub(crate) use sql_ledger;
