//! One absence (A3) by id: the absences kind asks whether an absence that left its window
//! still exists (then its event stays) or was deleted in CRM (then its event goes).

use crate::api::{Absence, id_condition};
use crate::client::CrmSession;
use crate::codec::Query;
use crate::error::CrmError;
use gc_ids::CrmId;

impl CrmSession<'_> {
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
