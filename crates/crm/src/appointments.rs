//! Appointments as the appointments kind's CRM source reads them: activities of a rep in a
//! window, each with its participants and the meeting keys (`text/x-vevent` external keys)
//! linked to it, in one request. A key tells an appointment that came from a calendar (the
//! connector's own, or the previous connector's) from one entered in CRM.

use crate::api::{Activity, ActivityFilter};
use crate::client::CrmSession;
use crate::codec::{FieldList, TableSpec};
use crate::error::CrmError;

/// An activity with the groupware keys linked to it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedActivity {
    /// The activity, its fields and participants.
    pub activity: Activity,
    /// External keys (`ext_key`) of `content_type` linked to it.
    pub keys: Vec<String>,
}

impl CrmSession<'_> {
    /// Activities in a date window (as [`CrmSession::activities`]), each with its external
    /// keys of `content_type`.
    pub async fn activities_with_keys(
        &self,
        f: &ActivityFilter,
        content_type: &str,
    ) -> Result<Vec<KeyedActivity>, CrmError> {
        let x = &self.dialect().external_key;
        let mut q = self.activity_query(
            self.window_condition(f),
            &f.fields,
            false,
            f.with_participants,
            f.max_records,
        );
        q.table.children.push(TableSpec::new(&x.table));
        q.fields.push(FieldList {
            tablename: x.table.clone(),
            fields: vec![x.content_type.clone(), x.ext_key.clone()],
        });
        let recs = self.query(q).await?;
        recs.iter()
            .map(|r| {
                let keys = r
                    .children
                    .iter()
                    .filter(|c| c.table == x.table)
                    .filter(|c| {
                        c.get(&x.content_type)
                            .is_some_and(|t| t.trim().eq_ignore_ascii_case(content_type))
                    })
                    .filter_map(|c| c.get(&x.ext_key).map(|k| k.trim().to_owned()))
                    .filter(|k| !k.is_empty())
                    .collect();
                Ok(KeyedActivity {
                    activity: self.activity_from(r)?,
                    keys,
                })
            })
            .collect()
    }
}
