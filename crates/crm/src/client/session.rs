//! What a session sends, as the master user or as a rep: a ping, queries, writes chunked to
//! [`CrmConfig::write_batch`] per request with one result per record, a streamed write,
//! deletes. Apart from the client because this is the typed surface every other module uses.

#[cfg(doc)]
use super::CrmConfig;
use super::{CrmClient, Streamed};
use crate::codec::{CatalogMode, Command, Query, Record, RecordData, Write, WriteKind};
use crate::codes::ReturnCode;
use crate::dialect::Dialect;
use crate::error::CrmError;
use gc_ids::CrmId;

/// Who a request acts for: the master user itself, or a rep by e-mail (impersonation).
#[derive(Debug, Clone, Copy)]
pub struct CrmSession<'a> {
    pub(crate) client: &'a CrmClient,
    pub(crate) rep_email: Option<&'a str>,
}

impl<'a> CrmSession<'a> {
    /// The client.
    pub fn client(&self) -> &'a CrmClient {
        self.client
    }

    /// The impersonated rep, if any.
    pub fn rep_email(&self) -> Option<&'a str> {
        self.rep_email
    }

    pub(crate) fn dialect(&self) -> &'a Dialect {
        &self.client.cfg.dialect
    }

    /// Sends a `<nop/>`: proves CRM.interface answers and the login (and impersonation)
    /// works.
    pub async fn ping(&self) -> Result<(), CrmError> {
        self.client
            .execute(self.rep_email, vec![Command::Nop])
            .await
            .map(|_| ())
    }

    /// Runs one query and returns its records.
    pub async fn query(&self, q: Query) -> Result<Vec<Record>, CrmError> {
        let mut all = self.queries(vec![q]).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Runs several queries in one request; one record list per query.
    pub async fn queries(&self, qs: Vec<Query>) -> Result<Vec<Vec<Record>>, CrmError> {
        let n = qs.len();
        let resp = self
            .client
            .execute(self.rep_email, qs.into_iter().map(Command::Query).collect())
            .await?;
        if resp.results.len() != n {
            return Err(CrmError::MalformedResponse(format!(
                "{n} queries sent, {} results received",
                resp.results.len()
            )));
        }
        let mut out = Vec::with_capacity(n);
        for r in resp.results {
            if let Some(e) = r.error() {
                return Err(self.dialect().item_error(e));
            }
            out.push(r.records);
        }
        Ok(out)
    }

    /// Writes records, one command per record and at most [`CrmConfig::write_batch`] per
    /// request.
    /// Returns one result per record (the record id for insert/update/import).
    pub async fn write(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        records: Vec<RecordData>,
    ) -> Result<Vec<Result<CrmId, CrmError>>, CrmError> {
        let mut out = Vec::with_capacity(records.len());
        let mut iter = records.into_iter().peekable();
        while iter.peek().is_some() {
            let batch = self.client.cfg.write_batch.max(1);
            let chunk: Vec<RecordData> = iter.by_ref().take(batch).collect();
            let ids: Vec<Option<CrmId>> = chunk.iter().map(|r| r.id).collect();
            let commands: Vec<Command> = chunk
                .into_iter()
                .map(|r| {
                    Command::Write(Write {
                        kind,
                        catalogs,
                        records: vec![r],
                    })
                })
                .collect();
            let n = commands.len();
            let resp = self.client.execute(self.rep_email, commands).await?;
            if resp.results.len() != n {
                return Err(CrmError::MalformedResponse(format!(
                    "{n} write commands sent, {} results received",
                    resp.results.len()
                )));
            }
            for (res, sent_id) in resp.results.iter().zip(ids) {
                out.push(self.written_id(res, sent_id));
            }
        }
        Ok(out)
    }

    /// The id a write command's result names (the record's own id for an update), or the
    /// command's error.
    fn written_id(
        &self,
        res: &crate::codec::CommandResult,
        sent_id: Option<CrmId>,
    ) -> Result<CrmId, CrmError> {
        if let Some(e) = res.error() {
            return Err(self.dialect().item_error(e));
        }
        res.returns
            .iter()
            .find_map(|r| r.id)
            .or(sent_id)
            .ok_or_else(|| {
                CrmError::MalformedResponse(format!("{} result without record id", res.command))
            })
    }

    /// Writes one record whose field value `streamed.placeholder` is replaced, on the wire,
    /// by `streamed.source` in base64; returns its id.
    pub(crate) async fn write_one_streamed(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        record: RecordData,
        streamed: Streamed,
    ) -> Result<CrmId, CrmError> {
        let sent_id = record.id;
        let command = Command::Write(Write {
            kind,
            catalogs,
            records: vec![record],
        });
        let resp = self
            .client
            .execute_with(self.rep_email, vec![command], Some(streamed))
            .await?;
        let res = resp
            .results
            .first()
            .ok_or_else(|| CrmError::MalformedResponse("empty write result".into()))?;
        self.written_id(res, sent_id)
    }

    /// Writes one record and returns its id.
    pub async fn write_one(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        record: RecordData,
    ) -> Result<CrmId, CrmError> {
        self.write(kind, catalogs, vec![record])
            .await?
            .pop()
            .unwrap_or_else(|| Err(CrmError::MalformedResponse("empty write result".into())))
    }

    /// Deletes a record.
    pub async fn delete(&self, table: &str, id: CrmId) -> Result<(), CrmError> {
        let mut r = RecordData::new(table);
        r.id = Some(id);
        self.write_one(WriteKind::Delete, CatalogMode::Text, r)
            .await
            .map(|_| ())
    }
}

/// The return code of a per-item error, if it was one.
pub fn item_code(r: &Result<CrmId, CrmError>) -> Option<ReturnCode> {
    r.as_ref().err().and_then(CrmError::code)
}
