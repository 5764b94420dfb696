//! The SQL of [`AlertStore`](crate::AlertStore) for both backends: the administrator's alerts and
//! their repeat gate.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_alerts {
    ($store:ident, $db:ty, $now:ident) => {
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
    };
}

pub(crate) use sql_alerts;
