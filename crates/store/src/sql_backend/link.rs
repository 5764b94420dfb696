//! The SQL of [`LinkStore`](crate::LinkStore) for both backends: the links between Graph items and
//! CRM records.
//!
//! A macro for the reasons [`sql_backend!`](super::sql_backend) gives, expanded by it once per
//! backend, in the backend's module (so the names it imports and the row decoders and writes
//! it expands are in scope). One file per area trait: `#[async_trait]` rewrites only the
//! methods written inside the impl it annotates, so an area's methods cannot come from an
//! inner macro within one `StateStore` impl, but its whole impl can.

macro_rules! sql_links {
    ($store:ident, $db:ty) => {
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
                qb.push(" ORDER BY graph_id LIMIT ")
                    .push_bind(i64::from(limit));
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
                self.write(Write::Link {
                    link: Box::new(link.clone()),
                    fences: fences.to_vec(),
                })
                .await?
                .link()
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
    };
}

pub(crate) use sql_links;
