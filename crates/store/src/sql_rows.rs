//! How what the store reads back becomes its types, the same for both backends: the stored
//! encodings (timestamps as microseconds, CRM ids as decimal text, UUIDs as text, counters
//! as signed integers) and, per table, the column list its queries select and the decoder of
//! its rows. The decoders are expanded by [`sql_backend!`](crate::sql_backend::sql_backend)
//! once per backend (a row is the driver's type); the queries stay there.

use jiff::Timestamp;

use crate::error::StoreError;
use crate::types::CrmId;

/// Decode a stored microsecond timestamp.
pub(crate) fn ts(micros: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(micros).map_err(|e| StoreError::Corrupt {
        what: "timestamp",
        detail: e.to_string(),
    })
}

/// Decode an optional stored microsecond timestamp.
pub(crate) fn opt_ts(micros: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    micros.map(ts).transpose()
}

/// Decode a stored CRM id (canonical decimal TEXT).
pub(crate) fn crm_id(text: Option<String>) -> Result<Option<CrmId>, StoreError> {
    text.map(|t| {
        t.parse::<CrmId>().map_err(|e| StoreError::Corrupt {
            what: "CRM id",
            detail: format!("{t:?}: {e}"),
        })
    })
    .transpose()
}

/// Decode a stored UUID (TEXT in both backends, hyphenated).
pub(crate) fn uuid(text: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt {
        what: "uuid",
        detail: e.to_string(),
    })
}

/// Counters are BIGINT/INTEGER ≥ 0; clamp anything odd to 0 rather than fail a listing.
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Counters going into SQL.
pub(crate) fn count_in(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The names a retry row's columns are read under: its own table's, or aliased where a
/// statement reads it beside a link (whose columns carry the same names).
pub(crate) struct RetryCols {
    pub kind: &'static str,
    pub mailbox: &'static str,
    pub item_key: &'static str,
    pub attempts: &'static str,
    pub retry_at: &'static str,
    pub last_error: &'static str,
    pub updated_at: &'static str,
}

/// `item_retries` read alone.
pub(crate) const RETRY_COLS: RetryCols = RetryCols {
    kind: "kind",
    mailbox: "mailbox",
    item_key: "item_key",
    attempts: "attempts",
    retry_at: "retry_at",
    last_error: "last_error",
    updated_at: "updated_at",
};

/// `item_retries` read beside `links` (`ItemStore::link_and_retry`).
pub(crate) const RETRY_BESIDE_LINK: RetryCols = RetryCols {
    kind: "r_kind",
    mailbox: "r_mailbox",
    item_key: "r_item_key",
    attempts: "r_attempts",
    retry_at: "r_retry_at",
    last_error: "r_last_error",
    updated_at: "r_updated_at",
};

/// The row decoders of one backend (`$db`), with the column lists they expect; expanded
/// inside `sql_backend!`, which brings the types into scope.
macro_rules! sql_rows {
    ($db:ty) => {
        type DbRow = <$db as sqlx::Database>::Row;

        const MAILBOX_COLS: &str = "m.rep_id, m.address, m.graph_user_id, m.enabled, \
            m.last_success_at, m.last_error_at, m.last_error_kind, m.last_error_text, \
            m.consecutive_failures, m.excluded_until, m.paused_at, m.created_at, m.updated_at";
        const SCHEDULE_COLS: &str = "mailbox, kind, next_due, paused_at, last_run_at, \
            last_success_at, last_outcome, last_error, backlog";
        const ALERT_COLS: &str = "id, at, key, kind, mailbox, subject, body, delivery, \
            delivery_error, delivered_at";
        const LINK_COLS: &str = "kind, mailbox, graph_id, global_key, crm_id, graph_version, \
            crm_version, graph_hash, crm_hash, state, state_reason, updated_at";
        const LEDGER_COLS: &str =
            "id, at, run_id, mailbox, kind, item_key, crm_id, action, reason, detail";
        const RUN_COLS: &str = "id, mailbox, kind, started_at, finished_at, created, adopted, \
            updated, skipped, deleted, failed, warnings, outcome, error";

        fn mailbox_from_row(row: &DbRow) -> Result<MailboxRecord> {
            let failures: i64 = row.try_get("consecutive_failures")?;
            Ok(MailboxRecord {
                rep_id: row.try_get("rep_id")?,
                address: row.try_get("address")?,
                graph_user_id: row.try_get("graph_user_id")?,
                enabled: row.try_get("enabled")?,
                last_success_at: opt_ts(row.try_get("last_success_at")?)?,
                last_error_at: opt_ts(row.try_get("last_error_at")?)?,
                last_error_kind: row.try_get("last_error_kind")?,
                last_error_text: row.try_get("last_error_text")?,
                consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
                excluded_until: opt_ts(row.try_get("excluded_until")?)?,
                next_due: BTreeMap::new(),
                paused_at: opt_ts(row.try_get("paused_at")?)?,
                kinds: BTreeMap::new(),
                created_at: ts(row.try_get("created_at")?)?,
                updated_at: ts(row.try_get("updated_at")?)?,
            })
        }

        /// One `mailbox_schedule` row: (mailbox, kind, next due, the rest).
        fn schedule_from_row(row: &DbRow) -> Result<(String, Kind, Timestamp, KindState)> {
            let kind: String = row.try_get("kind")?;
            let outcome: Option<String> = row.try_get("last_outcome")?;
            let backlog: Option<i64> = row.try_get("backlog")?;
            Ok((
                row.try_get("mailbox")?,
                kind.parse()?,
                ts(row.try_get("next_due")?)?,
                KindState {
                    paused_at: opt_ts(row.try_get("paused_at")?)?,
                    last_run_at: opt_ts(row.try_get("last_run_at")?)?,
                    last_success_at: opt_ts(row.try_get("last_success_at")?)?,
                    last_outcome: outcome.as_deref().map(str::parse::<RunOutcome>).transpose()?,
                    last_error: row.try_get("last_error")?,
                    backlog: backlog.map(count),
                },
            ))
        }

        /// Distribute schedule rows over their mailboxes.
        fn attach_rows(rows: &[DbRow], mailboxes: &mut [MailboxRecord]) -> Result<()> {
            let mut by_mailbox: BTreeMap<String, Vec<(Kind, Timestamp, KindState)>> =
                BTreeMap::new();
            for row in rows {
                let (mailbox, kind, at, state) = schedule_from_row(row)?;
                by_mailbox.entry(mailbox).or_default().push((kind, at, state));
            }
            for m in mailboxes.iter_mut() {
                for (kind, at, state) in by_mailbox.remove(&m.rep_id).unwrap_or_default() {
                    m.next_due.insert(kind, at);
                    m.kinds.insert(kind, state);
                }
            }
            Ok(())
        }

        fn alert_from_row(row: &DbRow) -> Result<Alert> {
            let delivery: String = row.try_get("delivery")?;
            Ok(Alert {
                id: row.try_get("id")?,
                at: ts(row.try_get("at")?)?,
                key: row.try_get("key")?,
                kind: row.try_get("kind")?,
                mailbox: row.try_get("mailbox")?,
                subject: row.try_get("subject")?,
                body: row.try_get("body")?,
                delivery: delivery.parse::<AlertDelivery>()?,
                delivery_error: row.try_get("delivery_error")?,
                delivered_at: opt_ts(row.try_get("delivered_at")?)?,
            })
        }

        fn cursor_from_row(row: &DbRow) -> Result<Cursor> {
            let kind: String = row.try_get("kind")?;
            Ok(Cursor {
                mailbox: row.try_get("mailbox")?,
                kind: kind.parse()?,
                scope: row.try_get("scope")?,
                delta_link: row.try_get("delta_link")?,
                next_link: row.try_get("next_link")?,
                window_start: opt_ts(row.try_get("window_start")?)?,
                window_end: opt_ts(row.try_get("window_end")?)?,
                updated_at: Some(ts(row.try_get("updated_at")?)?),
            })
        }

        /// A `subscriptions` row (every column but `updated_at`).
        fn subscription_from_row(row: &DbRow) -> Result<SubscriptionRecord> {
            let kind: String = row.try_get("kind")?;
            Ok(SubscriptionRecord {
                mailbox: row.try_get("mailbox")?,
                kind: kind.parse()?,
                subscription_id: row.try_get("subscription_id")?,
                resource: row.try_get("resource")?,
                client_state: row.try_get("client_state")?,
                expires_at: ts(row.try_get("expires_at")?)?,
            })
        }

        fn link_from_row(row: &DbRow) -> Result<Link> {
            let kind: String = row.try_get("kind")?;
            let state: String = row.try_get("state")?;
            Ok(Link {
                kind: kind.parse()?,
                mailbox: row.try_get("mailbox")?,
                graph_id: row.try_get("graph_id")?,
                global_key: row.try_get("global_key")?,
                crm_id: crm_id(row.try_get("crm_id")?)?,
                graph_version: row.try_get("graph_version")?,
                crm_version: row.try_get("crm_version")?,
                graph_hash: row.try_get("graph_hash")?,
                crm_hash: row.try_get("crm_hash")?,
                state: LinkState::from_parts(&state, row.try_get("state_reason")?)?,
                updated_at: Some(ts(row.try_get("updated_at")?)?),
            })
        }

        /// Decode and order by (mailbox, Graph id) in memory. Not in SQL: with an ORDER BY,
        /// SQLite prefers the primary key (which yields that order) over the selective
        /// global key / CRM id index and scans every link of the kind.
        fn sorted_links(rows: &[DbRow]) -> Result<Vec<Link>> {
            let mut links = rows.iter().map(link_from_row).collect::<Result<Vec<_>>>()?;
            links.sort_by(|a, b| (&a.mailbox, &a.graph_id).cmp(&(&b.mailbox, &b.graph_id)));
            Ok(links)
        }

        fn ledger_from_row(row: &DbRow) -> Result<LedgerEntry> {
            let kind: String = row.try_get("kind")?;
            let action: String = row.try_get("action")?;
            let run_id: Option<String> = row.try_get("run_id")?;
            let detail: Option<sqlx::types::Json<serde_json::Value>> = row.try_get("detail")?;
            Ok(LedgerEntry {
                id: row.try_get("id")?,
                at: ts(row.try_get("at")?)?,
                run_id: run_id.as_deref().map(uuid).transpose()?,
                mailbox: row.try_get("mailbox")?,
                kind: kind.parse()?,
                item_key: row.try_get("item_key")?,
                crm_id: crm_id(row.try_get("crm_id")?)?,
                action: action.parse::<LedgerAction>()?,
                reason: row.try_get("reason")?,
                detail: detail.map(|j| j.0),
            })
        }

        fn run_from_row(row: &DbRow) -> Result<Run> {
            let id: String = row.try_get("id")?;
            let kind: String = row.try_get("kind")?;
            let outcome: Option<String> = row.try_get("outcome")?;
            Ok(Run {
                id: uuid(&id)?,
                mailbox: row.try_get("mailbox")?,
                kind: kind.parse()?,
                started_at: ts(row.try_get("started_at")?)?,
                finished_at: opt_ts(row.try_get("finished_at")?)?,
                counts: RunCounts {
                    created: count(row.try_get("created")?),
                    adopted: count(row.try_get("adopted")?),
                    updated: count(row.try_get("updated")?),
                    skipped: count(row.try_get("skipped")?),
                    deleted: count(row.try_get("deleted")?),
                    failed: count(row.try_get("failed")?),
                    warnings: count(row.try_get("warnings")?),
                },
                outcome: outcome.as_deref().map(str::parse::<RunOutcome>).transpose()?,
                error: row.try_get("error")?,
            })
        }

        fn lease_from_row(row: &DbRow) -> Result<Lease> {
            Ok(Lease {
                key: row.try_get("key")?,
                holder: row.try_get("holder")?,
                acquired_at: ts(row.try_get("acquired_at")?)?,
                expires_at: ts(row.try_get("expires_at")?)?,
                generation: row.try_get("generation")?,
            })
        }

        fn fence_from_row(row: &DbRow) -> Result<LeaseFence> {
            Ok(LeaseFence {
                key: row.try_get("key")?,
                holder: row.try_get("holder")?,
                generation: row.try_get("generation")?,
            })
        }

        /// Decode claimed rows, sorted and deduplicated by key.
        fn sorted_fences(rows: &[DbRow]) -> Result<Vec<LeaseFence>> {
            let mut fences = rows.iter().map(fence_from_row).collect::<Result<Vec<_>>>()?;
            fences.sort_by(|a, b| a.key.cmp(&b.key));
            fences.dedup_by(|a, b| a.key == b.key);
            Ok(fences)
        }

        fn retry_from_row(row: &DbRow, c: &RetryCols) -> Result<ItemRetry> {
            let kind: String = row.try_get(c.kind)?;
            let attempts: i64 = row.try_get(c.attempts)?;
            Ok(ItemRetry {
                kind: kind.parse()?,
                mailbox: row.try_get(c.mailbox)?,
                item_key: row.try_get(c.item_key)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                retry_at: ts(row.try_get(c.retry_at)?)?,
                last_error: row.try_get(c.last_error)?,
                updated_at: Some(ts(row.try_get(c.updated_at)?)?),
            })
        }
    };
}

pub(crate) use sql_rows;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_reject_garbage() {
        assert_eq!(
            crm_id(Some("4294967394".into())).unwrap(),
            Some(CrmId(4_294_967_394))
        );
        assert_eq!(crm_id(Some(" 98".into())).unwrap(), Some(CrmId(98)));
        assert_eq!(
            crm_id(Some(u64::MAX.to_string())).unwrap(),
            Some(CrmId(u64::MAX))
        );
        assert!(crm_id(Some("-1".into())).is_err());
        assert!(uuid("nope").is_err());
        assert_eq!(count(-5), 0);
        assert_eq!(count_in(u64::MAX), i64::MAX);
        assert_eq!(ts(0).unwrap(), Timestamp::UNIX_EPOCH);
        assert!(ts(i64::MAX).is_err());
    }
}
