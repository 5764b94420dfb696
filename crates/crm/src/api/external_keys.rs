//! External keys (XK): the key recorded with a new record (or later, for an adopted one),
//! the key read back with the record it points to, keys found by groupware id (the queries
//! and the reading of their answers, which [`crate::lookup`] shares).

use gc_ids::CrmId;

use super::{ADDRESSES_PER_QUERY, need_id, non_empty};
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, Op, Query, Record, RecordData, WriteKind};
use crate::error::CrmError;

/// An external key (XK) to record with a new record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExternalKey {
    /// "Ext. System (Rep)" value; `None` = our own (`GraphApi`).
    pub ext_system: Option<String>,
    /// "Content Type (groupware)" value, e.g. `text/x-vevent`.
    pub content_type: String,
    /// The groupware id (Graph event id, internetMessageId, …).
    pub ext_key: String,
    /// Mailbox the id belongs to.
    pub mailbox: Option<String>,
}

/// An external key (XK) read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalKey {
    pub id: CrmId,
    pub ext_system: String,
    pub content_type: String,
    pub ext_key: String,
    pub mailbox: Option<String>,
    /// The record the key points to: `(table, id)`.
    pub record: Option<(String, CrmId)>,
}

impl CrmSession<'_> {
    pub(super) fn external_key_record(
        &self,
        table: &str,
        record: CrmId,
        xk: &NewExternalKey,
    ) -> RecordData {
        let d = &self.dialect().external_key;
        let mut rec = RecordData::new(&d.table)
            .field(
                &d.ext_system,
                xk.ext_system
                    .clone()
                    .unwrap_or_else(|| d.own_system.clone()),
            )
            .field(&d.content_type, xk.content_type.clone())
            .field(&d.ext_key, xk.ext_key.clone())
            .link(table, record);
        if let Some(m) = &xk.mailbox {
            rec = rec.field(&d.mailbox, m.trim().to_ascii_lowercase());
        }
        rec
    }

    /// External keys by groupware id (e.g. internetMessageId, iCalUId), optionally of one
    /// external system, all in one request.
    pub async fn find_external_keys(
        &self,
        ext_system: Option<&str>,
        keys: &[String],
    ) -> Result<Vec<ExternalKey>, CrmError> {
        let qs = self.external_key_queries(ext_system, keys);
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.queries(qs).await?;
        self.read_external_keys(results)
    }

    /// The queries of [`CrmSession::find_external_keys`].
    pub(crate) fn external_key_queries(
        &self,
        ext_system: Option<&str>,
        keys: &[String],
    ) -> Vec<Query> {
        let d = &self.dialect().external_key;
        let mut uniq: Vec<String> = keys.iter().filter(|k| !k.is_empty()).cloned().collect();
        uniq.sort();
        uniq.dedup();
        uniq.chunks(ADDRESSES_PER_QUERY)
            .map(|chunk| {
                let ors = Condition::or(
                    chunk
                        .iter()
                        .map(|k| Condition::cond(&d.table, &d.ext_key, Op::Eq, k.clone()))
                        .collect(),
                );
                let condition = match ext_system {
                    Some(sys) => Condition::and(vec![
                        Condition::cond(&d.table, &d.ext_system, Op::Eq, sys),
                        ors,
                    ]),
                    None => ors,
                };
                Query::on(
                    &d.table,
                    Some(condition),
                    vec![
                        d.ext_system.clone(),
                        d.content_type.clone(),
                        d.ext_key.clone(),
                        d.mailbox.clone(),
                    ],
                )
            })
            .collect()
    }

    /// The answers to [`CrmSession::external_key_queries`].
    pub(crate) fn read_external_keys(
        &self,
        results: Vec<Vec<Record>>,
    ) -> Result<Vec<ExternalKey>, CrmError> {
        let d = &self.dialect().external_key;
        let mut out = Vec::new();
        for recs in results {
            for r in &recs {
                out.push(ExternalKey {
                    id: need_id(r)?,
                    ext_system: r.get(&d.ext_system).unwrap_or_default().to_owned(),
                    content_type: r.get(&d.content_type).unwrap_or_default().to_owned(),
                    ext_key: r.get(&d.ext_key).unwrap_or_default().to_owned(),
                    mailbox: non_empty(r.get(&d.mailbox)),
                    record: r.links.first().map(|l| (l.tablename.clone(), l.id)),
                });
            }
        }
        Ok(out)
    }

    /// Records an external key for an existing record (e.g. after adopting it).
    pub async fn insert_external_key(
        &self,
        table: &str,
        record: CrmId,
        xk: &NewExternalKey,
    ) -> Result<CrmId, CrmError> {
        self.write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            self.external_key_record(table, record, xk),
        )
        .await
    }
}
