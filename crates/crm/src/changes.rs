//! Which of many reps have records changed since their own update stamp, in one request: the
//! idle checks of the kinds with a CRM source read by update stamp (tasks, the appointments'
//! CRM side). Only the rep number of each changed record is read.

use std::collections::HashSet;

use crate::client::CrmSession;
use crate::codec::{Condition, Op, Query};
use crate::error::CrmError;

/// Reps per query (the conditions of a query grow with its reps); the queries of one check
/// go in one request.
pub const REPS_PER_QUERY: usize = 50;

/// Where a check looks.
pub(crate) struct StampedTable<'a> {
    pub table: &'a str,
    pub rep_id: &'a str,
    pub updated: &'a str,
}

impl CrmSession<'_> {
    /// Of `reps` (rep number, newest update stamp seen), those with a record matching `base`
    /// whose stamp is after theirs (any record when `None`). Every rep when the table has no
    /// stamp field (`updated` empty: nothing can be told apart). "After", not "at or after"
    /// as the sources read (they read the newest record seen again, which would always count
    /// as a change): a record written in the same millisecond as the newest one a read saw,
    /// but after that read, waits for the next change or full walk of its source.
    pub(crate) async fn reps_changed_since(
        &self,
        t: StampedTable<'_>,
        base: Vec<Condition>,
        reps: &[(String, Option<String>)],
    ) -> Result<HashSet<String>, CrmError> {
        if t.updated.is_empty() {
            return Ok(reps.iter().map(|(r, _)| r.clone()).collect());
        }
        if reps.is_empty() {
            return Ok(HashSet::new());
        }
        let queries = reps
            .chunks(REPS_PER_QUERY)
            .map(|chunk| {
                let per_rep = chunk
                    .iter()
                    .map(|(rep, since)| {
                        let rep = Condition::cond(t.table, t.rep_id, Op::Eq, rep.clone());
                        match since {
                            Some(s) => Condition::and(vec![
                                rep,
                                Condition::cond(t.table, t.updated, Op::Gt, s.clone()),
                            ]),
                            None => rep,
                        }
                    })
                    .collect();
                let mut conds = base.clone();
                conds.push(Condition::or(per_rep));
                Query::on(
                    t.table,
                    Some(Condition::and(conds)),
                    vec![t.rep_id.to_owned()],
                )
            })
            .collect();
        let answers = self.queries(queries).await?;
        Ok(answers
            .iter()
            .flatten()
            .filter_map(|r| r.get(t.rep_id))
            .map(|r| r.trim().to_owned())
            .collect())
    }

    /// Of `reps` (rep number, newest activity update stamp seen), those with an activity
    /// dated in `[from, to]` whose stamp is after theirs: the idle check of the appointments'
    /// CRM source (which reads the rep's activities of the window by the same stamp).
    pub async fn reps_with_changed_activities(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
        reps: &[(String, Option<String>)],
    ) -> Result<HashSet<String>, CrmError> {
        let dl = self.dialect();
        let d = &dl.activity;
        let base = vec![
            Condition::cond(&d.table, &d.date, Op::Ge, dl.format_date(from)),
            Condition::cond(&d.table, &d.date, Op::Le, dl.format_date(to)),
        ];
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
}
