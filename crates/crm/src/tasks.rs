//! Tasks (A1) as the task synchronization needs them: a rep's tasks in a date window
//! (optionally only those changed since an update stamp), one task by id, and the updates
//! that flow back from Microsoft To Do. Every name comes from the dialect's `[task]` section;
//! a field the dialect leaves empty is neither asked for nor written.

use std::collections::HashSet;

use jiff::civil::{Date, Time};

use crate::api::id_condition;
use crate::changes::StampedTable;
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, Op, Query, Record, RecordData, WriteKind};
use crate::error::CrmError;
use gc_ids::CrmId;

/// A task (A1) with its fields read into types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// Record id.
    pub id: CrmId,
    /// Rep number.
    pub rep_id: String,
    /// Subject.
    pub subject: String,
    /// Text.
    pub text: String,
    /// Start date.
    pub start_date: Option<Date>,
    /// Due date.
    pub due_date: Option<Date>,
    /// Status (the CRM text, e.g. `Open`).
    pub status: String,
    /// Priority (the CRM text, e.g. `High`).
    pub priority: String,
    /// Percent complete, 0..=100.
    pub percent_complete: Option<u8>,
    /// Reminder date and wall-clock time in `[crm] time_zone`.
    pub reminder: Option<(Date, Option<Time>)>,
    /// Marked deleted by the connector (deleted in Microsoft To Do).
    pub deleted: bool,
    /// Update stamp, when the dialect names the field.
    pub updated: Option<String>,
}

/// Which of a rep's tasks to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWindow {
    /// Rep number.
    pub rep_id: String,
    /// First day (by due date, or start date when there is no due date).
    pub from: Date,
    /// Last day, inclusive.
    pub to: Date,
    /// Only tasks whose update stamp is at or after this one (ignored when the dialect
    /// names no update stamp).
    pub changed_since: Option<String>,
}

/// What flows back from Microsoft To Do into a task; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskUpdate {
    pub status: Option<String>,
    pub percent_complete: Option<u8>,
    pub subject: Option<String>,
    /// `Some(None)` clears the date.
    pub start_date: Option<Option<Date>>,
    /// `Some(None)` clears the date.
    pub due_date: Option<Option<Date>>,
    /// Mark the task deleted (only when the dialect names a field for it).
    pub deleted: bool,
}

impl TaskUpdate {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        *self == TaskUpdate::default()
    }
}

fn opt(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| name.to_owned())
}

impl CrmSession<'_> {
    fn task_fields(&self) -> Vec<String> {
        let d = &self.dialect().task;
        let mut v = vec![d.rep_id.clone(), d.subject.clone(), d.due_date.clone()];
        v.push(d.status.clone());
        for f in [
            &d.text,
            &d.start_date,
            &d.priority,
            &d.percent_complete,
            &d.reminder_date,
            &d.reminder_time,
            &d.deleted,
            &d.updated,
        ] {
            if let Some(f) = opt(f) {
                v.push(f);
            }
        }
        v
    }

    fn task_from(&self, r: &Record) -> Result<TaskRecord, CrmError> {
        let dl = self.dialect();
        let d = &dl.task;
        let get = |f: &str| {
            if f.is_empty() {
                String::new()
            } else {
                r.get(f).unwrap_or_default().trim().to_owned()
            }
        };
        let id = r.id.ok_or_else(|| {
            CrmError::MalformedResponse(format!("<{}> record without id", r.table))
        })?;
        let reminder = dl
            .parse_date(&get(&d.reminder_date))
            .map(|date| (date, dl.parse_time(&get(&d.reminder_time))));
        Ok(TaskRecord {
            id,
            rep_id: get(&d.rep_id),
            subject: get(&d.subject),
            text: get(&d.text),
            start_date: dl.parse_date(&get(&d.start_date)),
            due_date: dl.parse_date(&get(&d.due_date)),
            status: get(&d.status),
            priority: get(&d.priority),
            percent_complete: get(&d.percent_complete)
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite())
                .map(|p| p.clamp(0.0, 100.0).round() as u8),
            reminder,
            deleted: !d.deleted.is_empty() && dl.parse_bool(&get(&d.deleted)),
            updated: opt(&get(&d.updated)),
        })
    }

    /// Tasks in `[from, to]`: due in it, or without due date and starting in it, and not
    /// marked deleted (the conditions besides the rep's).
    fn window_conditions(&self, from: Date, to: Date) -> Vec<Condition> {
        let dl = self.dialect();
        let d = &dl.task;
        let (from, to) = (dl.format_date(from), dl.format_date(to));
        let mut by_date = vec![Condition::and(vec![
            Condition::cond(&d.table, &d.due_date, Op::Ge, from.clone()),
            Condition::cond(&d.table, &d.due_date, Op::Le, to.clone()),
        ])];
        if !d.start_date.is_empty() {
            by_date.push(Condition::and(vec![
                Condition::cond(&d.table, &d.due_date, Op::Eq, ""),
                Condition::cond(&d.table, &d.start_date, Op::Ge, from),
                Condition::cond(&d.table, &d.start_date, Op::Le, to),
            ]));
        }
        let mut conds = vec![Condition::or(by_date)];
        if !d.deleted.is_empty() {
            conds.push(Condition::cond(
                &d.table,
                &d.deleted,
                Op::Ne,
                dl.format_bool(true),
            ));
        }
        conds
    }

    /// A rep's tasks in a window: due in it, or without due date and starting in it; tasks
    /// marked deleted are left out.
    pub async fn tasks_in_window(&self, w: &TaskWindow) -> Result<Vec<TaskRecord>, CrmError> {
        let d = &self.dialect().task;
        let mut conds = vec![Condition::cond(
            &d.table,
            &d.rep_id,
            Op::Eq,
            w.rep_id.clone(),
        )];
        conds.extend(self.window_conditions(w.from, w.to));
        if let (Some(since), false) = (&w.changed_since, d.updated.is_empty()) {
            conds.push(Condition::cond(&d.table, &d.updated, Op::Ge, since.clone()));
        }
        let q = Query::on(&d.table, Some(Condition::and(conds)), self.task_fields());
        let recs = self.query(q).await?;
        recs.iter().map(|r| self.task_from(r)).collect()
    }

    /// Of `reps` (rep number, newest update stamp seen), those with a task in `[from, to]`
    /// whose update stamp is after theirs (any task in the window when `None`): the idle
    /// check of the task synchronization, one request for every rep (a query per
    /// [`REPS_PER_QUERY`](crate::changes::REPS_PER_QUERY) reps), reading only the rep number
    /// of each changed task. Every rep
    /// when the dialect names no update stamp (nothing can be told apart then).
    pub async fn reps_with_changed_tasks(
        &self,
        from: Date,
        to: Date,
        reps: &[(String, Option<String>)],
    ) -> Result<HashSet<String>, CrmError> {
        let d = &self.dialect().task;
        let base = self.window_conditions(from, to);
        self.reps_changed_since(
            StampedTable {
                table: &d.table,
                rep_id: &d.rep_id,
                updated: &d.updated,
            },
            base,
            reps,
        )
        .await
    }

    /// One task by id (`None` when it does not exist or was deleted).
    pub async fn task(&self, id: CrmId) -> Result<Option<TaskRecord>, CrmError> {
        let d = &self.dialect().task;
        let q = Query::on(
            &d.table,
            Some(id_condition(&d.table, id)),
            self.task_fields(),
        );
        let recs = self.query(q).await?;
        recs.first().map(|r| self.task_from(r)).transpose()
    }

    /// Writes what flows back from Microsoft To Do. Nothing is written for an empty update.
    pub async fn update_task(&self, id: CrmId, u: &TaskUpdate) -> Result<(), CrmError> {
        let dl = self.dialect();
        let d = &dl.task;
        let mut rec = RecordData::new(&d.table);
        let mut any = false;
        let mut set = |rec: RecordData, field: &str, value: String| {
            if field.is_empty() {
                return rec;
            }
            any = true;
            rec.field(field, value)
        };
        if let Some(s) = &u.status {
            rec = set(rec, &d.status, s.clone());
        }
        if let Some(p) = u.percent_complete {
            rec = set(rec, &d.percent_complete, p.to_string());
        }
        if let Some(s) = &u.subject {
            rec = set(rec, &d.subject, s.clone());
        }
        if let Some(x) = u.start_date {
            rec = set(
                rec,
                &d.start_date,
                x.map(|x| dl.format_date(x)).unwrap_or_default(),
            );
        }
        if let Some(x) = u.due_date {
            rec = set(
                rec,
                &d.due_date,
                x.map(|x| dl.format_date(x)).unwrap_or_default(),
            );
        }
        if u.deleted {
            rec = set(rec, &d.deleted, dl.format_bool(true));
        }
        if !any {
            return Ok(());
        }
        rec.id = Some(id);
        self.write_one(WriteKind::Update, CatalogMode::Text, rec)
            .await
            .map(|_| ())
    }
}
