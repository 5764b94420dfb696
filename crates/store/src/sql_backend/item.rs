//! The SQL of [`ItemStore`](crate::ItemStore) for both backends: an item's commit (link, retry row,
//! cursor, ledger and lease release in one transaction) and its retry state.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_items {
    ($store:ident, $db:ty, $now:ident) => {
        /// An item's commit on `conn`, whose transaction the caller began and commits (alone,
        /// or with other items' writes on SQLite, see `sqlite/writer.rs`): link, retry row,
        /// cursor, ledger entries and lease releases; an error leaves the transaction to be
        /// rolled back.
        async fn commit_item_on(conn: &mut Conn, commit: &ItemCommit) -> Result<Vec<i64>> {
            // The fences first, so that on SQLite the transaction takes the write lock
            // before it reads anything (see `check_fences_on`): in the link's write where
            // there is a link (one statement fewer, see `write_held`), else on their own.
            match &commit.link {
                Some(link) => {
                    upsert_link_on(conn, link, &commit.fences).await?;
                    if !commit.no_retry_row {
                        clear_retry_on(conn, link.kind, &link.mailbox, &link.graph_id).await?;
                    }
                }
                None => check_fences_on(conn, &commit.fences).await?,
            }
            if let Some(cursor) = &commit.cursor {
                put_cursor_on(conn, cursor, &[]).await?;
            }
            let mut ids = Vec::with_capacity(commit.ledger.len());
            for entry in &commit.ledger {
                ids.push(insert_ledger_on(conn, entry).await?);
            }
            for fence in &commit.release {
                release_lease_on(conn, fence).await?;
            }
            Ok(ids)
        }

        #[async_trait]
        impl ItemStore for $store {
            async fn commit_item(&self, commit: &ItemCommit) -> Result<Vec<i64>> {
                self.write(Write::Commit(Box::new(commit.clone()))).await?.commit()
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
    };
}

pub(crate) use sql_items;
