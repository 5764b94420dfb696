//! A page's lookups in one request: the external keys of its messages, and the persons and
//! companies of their addresses. CRM.interface runs several commands per request and answers
//! them in order, so the three lookups (each possibly several queries of 25 values) share one
//! round trip instead of taking one each.

use crate::api::{Company, ExternalKey, PersonMatch, lower_unique};
use crate::client::CrmSession;
use crate::error::CrmError;

/// What [`CrmSession::lookup_page`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageLookup {
    /// External keys with one of the given values.
    pub keys: Vec<ExternalKey>,
    /// Persons with one of the given addresses.
    pub persons: Vec<PersonMatch>,
    /// Companies with one of the given addresses (also those a person has too: the caller
    /// decides which wins).
    pub companies: Vec<Company>,
}

impl CrmSession<'_> {
    /// External keys (any system) with one of `keys`, and persons and companies with one of
    /// `emails`, in one request (none when both are empty).
    pub async fn lookup_page(
        &self,
        keys: &[String],
        emails: &[String],
    ) -> Result<PageLookup, CrmError> {
        let wanted = lower_unique(emails);
        let kq = self.external_key_queries(None, keys);
        let pq = self.person_queries(&wanted);
        let cq = self.company_queries(&wanted);
        let (nk, np) = (kq.len(), pq.len());
        if nk + np + cq.len() == 0 {
            return Ok(PageLookup::default());
        }
        let mut results = self
            .queries(kq.into_iter().chain(pq).chain(cq).collect())
            .await?;
        let companies = results.split_off(nk + np);
        let persons = results.split_off(nk);
        Ok(PageLookup {
            keys: self.read_external_keys(results)?,
            persons: self.read_persons(&wanted, persons)?,
            companies: self.read_companies(companies)?,
        })
    }
}
