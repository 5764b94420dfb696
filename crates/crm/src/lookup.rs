//! A page's lookups in one request: the external keys of its messages, and the persons and
//! companies of their addresses. CRM.interface runs several commands per request and answers
//! them in order, so the three lookups (each possibly several queries of 25 values) share one
//! round trip instead of taking one each.

use gc_ids::CrmId;

use crate::api::{Activity, Company, ExternalKey, PersonMatch, id_condition, lower_unique};
use crate::client::CrmSession;
use crate::codec::Condition;
use crate::error::CrmError;

/// Activities asked for by id in one query. CRM.interface has no documented limit on a
/// condition's size; this keeps each query as small as the address lookups' (25 values).
const IDS_PER_QUERY: usize = 25;

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

    /// The activities with one of `ids`, with their participants (not all their fields), in
    /// one request: what a page's found external keys point to, read once for the page
    /// instead of once per message. Ids CRM does not have are left out.
    pub async fn activities_by_id(&self, ids: &[CrmId]) -> Result<Vec<Activity>, CrmError> {
        let mut uniq = ids.to_vec();
        uniq.sort();
        uniq.dedup();
        let table = &self.dialect().activity.table;
        let qs: Vec<_> = uniq
            .chunks(IDS_PER_QUERY)
            .map(|chunk| {
                let ors = chunk.iter().map(|id| id_condition(table, *id)).collect();
                self.activity_query(Condition::or(ors), &[], false, true, None)
            })
            .collect();
        if qs.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for records in self.queries(qs).await? {
            for r in &records {
                out.push(self.activity_from(r)?);
            }
        }
        Ok(out)
    }

    /// The external keys with the value `key` (any system) and, in the same request, the
    /// activity `guess` with all its fields and participants (`None` if it does not exist):
    /// for a key another mailbox has just filed, the activity its link names is nearly always
    /// the one the key points to, and reading both at once saves the second round trip.
    pub async fn key_and_activity(
        &self,
        key: &str,
        guess: CrmId,
    ) -> Result<(Vec<ExternalKey>, Option<Activity>), CrmError> {
        let d = &self.dialect().activity;
        let mut qs = self.external_key_queries(None, &[key.to_owned()]);
        let nk = qs.len();
        qs.push(self.activity_query(id_condition(&d.table, guess), &[], true, true, Some(1)));
        let mut results = self.queries(qs).await?;
        let activity = results.split_off(nk);
        let activity = match activity.first().and_then(|r| r.first()) {
            Some(r) => Some(self.activity_from(r)?),
            None => None,
        };
        Ok((self.read_external_keys(results)?, activity))
    }
}
