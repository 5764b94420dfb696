//! The SQL of [`CursorStore`](crate::CursorStore) for both backends: the delta cursors.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_cursors {
    ($store:ident) => {
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
                // One statement, fences and all: no transaction around it.
                let mut conn = self.pool.acquire().await?;
                put_cursor_on(&mut conn, cursor, fences).await
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
    };
}

pub(crate) use sql_cursors;
