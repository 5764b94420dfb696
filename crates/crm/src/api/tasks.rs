//! Tasks (A1) in their plain form: a task to insert, a task read back with its fields by
//! name, a rep's tasks, a task's status written back. What the task synchronization reads
//! (windows, update stamps, one task by id) is in [`crate::tasks`].

use std::collections::BTreeMap;

use gc_ids::CrmId;

use super::{field_map, need_id};
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, Op, Query, RecordData, WriteKind};
use crate::error::CrmError;

/// A new task (A1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub rep_id: String,
    pub subject: String,
    pub text: String,
    pub start_date: Option<jiff::civil::Date>,
    pub due_date: Option<jiff::civil::Date>,
    pub status: String,
    pub priority: Option<String>,
}

/// A task (A1) read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: CrmId,
    pub fields: BTreeMap<String, String>,
}

impl CrmSession<'_> {
    /// Inserts a task (A1).
    pub async fn insert_task(&self, t: &NewTask) -> Result<CrmId, CrmError> {
        let dl = self.dialect();
        let d = &dl.task;
        let mut rec = RecordData::new(&d.table)
            .field(&d.rep_id, t.rep_id.clone())
            .field(&d.subject, t.subject.clone())
            .field(&d.status, t.status.clone());
        if !t.text.is_empty() {
            rec = rec.field(&d.text, t.text.clone());
        }
        if let Some(x) = t.start_date {
            rec = rec.field(&d.start_date, dl.format_date(x));
        }
        if let Some(x) = t.due_date {
            rec = rec.field(&d.due_date, dl.format_date(x));
        }
        if let Some(p) = &t.priority {
            rec = rec.field(&d.priority, p.clone());
        }
        self.write_one(WriteKind::Insert, CatalogMode::Text, rec)
            .await
    }

    /// Tasks of a rep.
    pub async fn tasks(&self, rep_id: &str) -> Result<Vec<Task>, CrmError> {
        let d = &self.dialect().task;
        let q = Query::on(
            &d.table,
            Some(Condition::cond(&d.table, &d.rep_id, Op::Eq, rep_id)),
            vec![
                d.rep_id.clone(),
                d.subject.clone(),
                d.text.clone(),
                d.start_date.clone(),
                d.due_date.clone(),
                d.status.clone(),
                d.priority.clone(),
                d.percent_complete.clone(),
            ],
        );
        let recs = self.query(q).await?;
        recs.iter()
            .map(|r| {
                Ok(Task {
                    id: need_id(r)?,
                    fields: field_map(r),
                })
            })
            .collect()
    }

    /// Writes back the status of a task (the only thing that flows Microsoft 365 → CRM).
    pub async fn update_task_status(
        &self,
        id: CrmId,
        status: &str,
        percent_complete: Option<u8>,
    ) -> Result<(), CrmError> {
        let d = &self.dialect().task;
        let mut rec = RecordData::new(&d.table).field(&d.status, status);
        if let Some(p) = percent_complete {
            rec = rec.field(&d.percent_complete, p.to_string());
        }
        rec.id = Some(id);
        self.write_one(WriteKind::Update, CatalogMode::Text, rec)
            .await
            .map(|_| ())
    }
}
