//! One absence (A3) by id: the absences kind asks whether an absence that left its window
//! still exists (then its event stays) or was deleted in CRM (then its event goes).

use crate::api::{Absence, id_condition};
use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query};
use crate::error::CrmError;
use gc_ids::CrmId;

/// Reps per query of [`CrmSession::absence_stamps`] (the conditions of a query grow with its
/// reps).
pub const REPS_PER_QUERY: usize = 50;

/// One absence as the idle check sees it: whose, which, and its update stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceStamp {
    /// The rep number.
    pub rep_id: String,
    /// The absence.
    pub id: CrmId,
    /// Its update stamp (`""` when CRM wrote none).
    pub updated: String,
}

impl CrmSession<'_> {
    /// The absences of `reps` (rep numbers) overlapping `[from, to]` (the window
    /// [`CrmSession::absences`] reads), with only their rep and update stamp: the idle check of
    /// the absences kind, one request for every rep (a query per [`REPS_PER_QUERY`] reps).
    /// `Ok(None)` when the dialect names no update stamp (changes cannot be told then).
    pub async fn absence_stamps(
        &self,
        reps: &[String],
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Option<Vec<AbsenceStamp>>, CrmError> {
        let dl = self.dialect();
        let d = &dl.absence;
        if d.updated.is_empty() {
            return Ok(None);
        }
        if reps.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let queries = reps
            .chunks(REPS_PER_QUERY)
            .map(|chunk| {
                let per_rep = chunk
                    .iter()
                    .map(|r| Condition::cond(&d.table, &d.rep_id, Op::Eq, r.clone()))
                    .collect();
                Query::on(
                    &d.table,
                    Some(Condition::and(vec![
                        Condition::cond(&d.table, &d.start_date, Op::Le, dl.format_date(to)),
                        Condition::cond(&d.table, &d.end_date, Op::Ge, dl.format_date(from)),
                        Condition::or(per_rep),
                    ])),
                    vec![d.rep_id.clone(), d.updated.clone()],
                )
            })
            .collect();
        let answers = self.queries(queries).await?;
        Ok(Some(
            answers
                .iter()
                .flatten()
                .filter_map(|r| {
                    Some(AbsenceStamp {
                        rep_id: r.get(&d.rep_id)?.trim().to_owned(),
                        id: r.id?,
                        updated: r.get(&d.updated).unwrap_or_default().trim().to_owned(),
                    })
                })
                .collect(),
        ))
    }

    /// The absence `id` with the fields [`CrmSession::absences`] reads; `None` when it does
    /// not exist (or was deleted).
    pub async fn absence(&self, id: CrmId) -> Result<Option<Absence>, CrmError> {
        let d = &self.dialect().absence;
        let fields = [
            &d.rep_id,
            &d.start_date,
            &d.start_time,
            &d.end_date,
            &d.end_time,
            &d.kind,
            &d.text,
        ]
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| (*f).clone())
        .collect();
        let q = Query::on(&d.table, Some(id_condition(&d.table, id)), fields);
        let recs = self.query(q).await?;
        Ok(recs.first().and_then(|r| {
            Some(Absence {
                id: r.id?,
                fields: r
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), f.value.clone()))
                    .collect(),
            })
        }))
    }
}
