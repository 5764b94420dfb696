//! Absences (A3): an absence read back with its fields by name, a rep's absences overlapping
//! a window. One absence by id, and the absences' idle check, are in [`crate::absences`].

use std::collections::BTreeMap;

use gc_ids::CrmId;

use super::{field_map, need_id};
use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query};
use crate::error::CrmError;

/// An absence (A3) read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    pub id: CrmId,
    pub fields: BTreeMap<String, String>,
}

impl CrmSession<'_> {
    /// Absences of a rep overlapping a window.
    pub async fn absences(
        &self,
        rep_id: &str,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<Absence>, CrmError> {
        let dl = self.dialect();
        let d = &dl.absence;
        let q = Query::on(
            &d.table,
            Some(Condition::and(vec![
                Condition::cond(&d.table, &d.rep_id, Op::Eq, rep_id),
                Condition::cond(&d.table, &d.start_date, Op::Le, dl.format_date(to)),
                Condition::cond(&d.table, &d.end_date, Op::Ge, dl.format_date(from)),
            ])),
            [
                &d.rep_id,
                &d.start_date,
                &d.start_time,
                &d.end_date,
                &d.end_time,
                &d.kind,
                &d.text,
                &d.updated,
            ]
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| (*f).clone())
            .collect(),
        );
        let recs = self.query(q).await?;
        recs.iter()
            .map(|r| {
                Ok(Absence {
                    id: need_id(r)?,
                    fields: field_map(r),
                })
            })
            .collect()
    }
}
