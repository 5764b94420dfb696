//! The SQL of [`SubscriptionStore`](crate::SubscriptionStore) for both backends: the
//! change-notification subscriptions.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_subscriptions {
    ($store:ident, $now:ident) => {
        #[async_trait]
        impl SubscriptionStore for $store {
            async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
                // Row by row: a tenant of 10,000 mailboxes has a row per mailbox and kind, and
                // all its rows held at once beside their records added to the service's peak
                // memory (docs/PERFORMANCE.md, "10,000 mailboxes").
                let mut rows = sqlx::query(
                    "SELECT mailbox, kind, subscription_id, resource, client_state, expires_at \
                     FROM subscriptions ORDER BY mailbox, kind",
                )
                .fetch(&self.pool);
                let mut out = Vec::new();
                while let Some(row) = rows.try_next().await? {
                    out.push(subscription_from_row(&row)?);
                }
                Ok(out)
            }

            async fn get_subscription(
                &self,
                subscription_id: &str,
            ) -> Result<Option<SubscriptionRecord>> {
                sqlx::query(
                    "SELECT mailbox, kind, subscription_id, resource, client_state, expires_at \
                     FROM subscriptions WHERE subscription_id = $1",
                )
                .bind(subscription_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| subscription_from_row(&row))
                .transpose()
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
    };
}

pub(crate) use sql_subscriptions;
