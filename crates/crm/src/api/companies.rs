//! Companies (FI) by e-mail address: the company, the queries (several addresses to a
//! query, all queries in one request) and the reading of their answers, which
//! [`crate::lookup`] shares.

use gc_ids::CrmId;

use super::{ADDRESSES_PER_QUERY, lower_unique, need_id, non_empty};
use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query, Record};
use crate::error::CrmError;

/// A company (FI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub id: CrmId,
    pub name: String,
    pub email: Option<String>,
}

impl CrmSession<'_> {
    /// Companies (FI) by e-mail address, in one request.
    pub async fn companies_by_emails(&self, emails: &[String]) -> Result<Vec<Company>, CrmError> {
        let qs = self.company_queries(&lower_unique(emails));
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.queries(qs).await?;
        self.read_companies(results)
    }

    /// The queries of [`CrmSession::companies_by_emails`] for `wanted` (lower case, unique).
    pub(crate) fn company_queries(&self, wanted: &[String]) -> Vec<Query> {
        let d = &self.dialect().company;
        wanted
            .chunks(ADDRESSES_PER_QUERY)
            .map(|chunk| {
                Query::on(
                    &d.table,
                    Some(Condition::or(
                        chunk
                            .iter()
                            .map(|e| Condition::cond(&d.table, &d.email, Op::Eq, e.clone()))
                            .collect(),
                    )),
                    vec![d.name.clone(), d.email.clone()],
                )
            })
            .collect()
    }

    /// The answers to [`CrmSession::company_queries`].
    pub(crate) fn read_companies(
        &self,
        results: Vec<Vec<Record>>,
    ) -> Result<Vec<Company>, CrmError> {
        let d = &self.dialect().company;
        let mut out = Vec::new();
        for recs in results {
            for r in &recs {
                out.push(Company {
                    id: need_id(r)?,
                    name: r.get(&d.name).unwrap_or_default().to_owned(),
                    email: non_empty(r.get(&d.email)).map(|e| e.to_ascii_lowercase()),
                });
            }
        }
        Ok(out)
    }
}
