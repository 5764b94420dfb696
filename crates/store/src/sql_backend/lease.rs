//! The SQL of [`LeaseStore`](crate::LeaseStore) for both backends: the leases; the bulk claims
//! (`claim_existing`, `claim_new`) are per backend, in `sqlite.rs` and `postgres.rs`.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_leases {
    ($store:ident, $now:ident, $next_generation:ident) => {
        /// Take `key` for `holder` on `conn` (see `LeaseStore::try_acquire_lease`).
        async fn acquire_lease_on(
            conn: &mut Conn,
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
            .fetch_optional(&mut *conn)
            .await?;
            row.as_ref().map(fence_from_row).transpose()
        }

        #[async_trait]
        impl LeaseStore for $store {
            async fn try_acquire_lease(
                &self,
                key: &str,
                holder: &str,
                ttl: Duration,
            ) -> Result<Option<LeaseFence>> {
                self.write(Write::Lease {
                    key: key.to_owned(),
                    holder: holder.to_owned(),
                    ttl,
                })
                .await?
                .lease()
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
                let mut rows = self
                    .claim_existing(holder, candidates, limit_sql, ttl)
                    .await?;
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

            async fn lease(&self, key: &str) -> Result<Option<Lease>> {
                let row = sqlx::query(
                    "SELECT key, holder, acquired_at, expires_at, generation FROM leases \
                     WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(lease_from_row).transpose()
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

pub(crate) use sql_leases;
