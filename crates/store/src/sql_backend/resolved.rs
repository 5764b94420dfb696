//! The SQL of [`ResolvedNameStore`](crate::ResolvedNameStore) for both backends: the names a kind
//! keeps per mailbox (table `resolved_names`).
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_resolved_names {
    ($store:ident, $now:ident) => {
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
    };
}

pub(crate) use sql_resolved_names;
