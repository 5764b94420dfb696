//! Persons (KP) by e-mail address: the match of an address, the queries (several addresses
//! to a query, all queries in one request) and the reading of their answers, which
//! [`crate::lookup`] shares. The persons a rep works with are in [`crate::persons`].

use gc_ids::CrmId;

use super::{ADDRESSES_PER_QUERY, lower_unique, need_id, non_empty};
use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query, Record};
use crate::error::CrmError;

/// A person found by e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonMatch {
    /// The address that matched (lower case).
    pub email: String,
    /// Person (KP) id.
    pub person: CrmId,
    /// Company (FI) of the person, when linked.
    pub company: Option<CrmId>,
    pub first_name: String,
    pub last_name: String,
}

impl CrmSession<'_> {
    /// Persons (KP) by e-mail address, many addresses in one request. An address can match
    /// several persons (the caller decides, cf. code 300 MULTI_CHOICE); addresses without
    /// match are simply absent.
    pub async fn persons_by_emails(&self, emails: &[String]) -> Result<Vec<PersonMatch>, CrmError> {
        let wanted = lower_unique(emails);
        let qs = self.person_queries(&wanted);
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.queries(qs).await?;
        self.read_persons(&wanted, results)
    }

    /// The queries of [`CrmSession::persons_by_emails`] for `wanted` (lower case, sorted,
    /// unique), so that several lookups can share one request (see `crate::lookup`).
    pub(crate) fn person_queries(&self, wanted: &[String]) -> Vec<Query> {
        let d = &self.dialect().person;
        wanted
            .chunks(ADDRESSES_PER_QUERY)
            .map(|chunk| {
                let mut conds = Vec::new();
                for e in chunk {
                    for f in &d.emails {
                        conds.push(Condition::cond(&d.table, f, Op::Eq, e.clone()));
                    }
                }
                let mut fields = vec![d.first_name.clone(), d.last_name.clone()];
                fields.extend(d.emails.iter().cloned());
                Query::on(&d.table, Some(Condition::or(conds)), fields)
            })
            .collect()
    }

    /// The answers to [`CrmSession::person_queries`].
    pub(crate) fn read_persons(
        &self,
        wanted: &[String],
        results: Vec<Vec<Record>>,
    ) -> Result<Vec<PersonMatch>, CrmError> {
        let d = &self.dialect().person;
        let company_table = &self.dialect().company.table;
        let mut out = Vec::new();
        for recs in results {
            for r in &recs {
                let id = need_id(r)?;
                for f in &d.emails {
                    let Some(addr) = non_empty(r.get(f)).map(|a| a.to_ascii_lowercase()) else {
                        continue;
                    };
                    if wanted.binary_search(&addr).is_ok()
                        && !out
                            .iter()
                            .any(|m: &PersonMatch| m.person == id && m.email == addr)
                    {
                        out.push(PersonMatch {
                            email: addr,
                            person: id,
                            company: r.link(company_table),
                            first_name: r.get(&d.first_name).unwrap_or_default().to_owned(),
                            last_name: r.get(&d.last_name).unwrap_or_default().to_owned(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
