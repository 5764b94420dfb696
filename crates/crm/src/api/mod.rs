//! Typed access to the records the connector needs. All names come from the
//! [`Dialect`](crate::dialect::Dialect); this module only decides *what* to ask.
//!
//! One file per record type, each with its types and the [`CrmSession`](crate::CrmSession)
//! methods that read and write it: `reps` (ID), `persons` (KP) and `companies` (FI) by
//! e-mail address, `activities` (MA), `participants` (MB), `documents`, `external_keys`
//! (XK), `tasks` (A1), `absences` (A3). Here: the helpers they share (how many addresses a
//! query carries, reading ids, fields and addresses, the condition selecting a record by
//! id) and the re-exports that keep every type at `crate::api::*`.

mod absences;
mod activities;
mod companies;
mod documents;
mod external_keys;
mod participants;
mod persons;
mod reps;
mod tasks;

pub use absences::Absence;
pub use activities::{Activity, ActivityFilter, NewActivity};
pub use companies::Company;
pub use documents::{DocumentInfo, NewDocument};
pub use external_keys::{ExternalKey, NewExternalKey};
pub use participants::{NewParticipant, Participant, ParticipantRole};
pub use persons::PersonMatch;
pub use reps::Rep;
pub use tasks::{NewTask, Task};

use std::collections::BTreeMap;

use crate::codec::{Condition, Op, Record};
use crate::error::CrmError;
use gc_ids::CrmId;

/// How many addresses one query command of a lookup carries (all commands go in one request).
const ADDRESSES_PER_QUERY: usize = 25;

pub(crate) fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn need_id(r: &Record) -> Result<CrmId, CrmError> {
    r.id.ok_or_else(|| CrmError::MalformedResponse(format!("<{}> record without id", r.table)))
}

fn field_map(r: &Record) -> BTreeMap<String, String> {
    r.fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

pub(crate) fn lower_unique(emails: &[String]) -> Vec<String> {
    let mut v: Vec<String> = emails
        .iter()
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A condition selecting one record by id (through its StatNo/SeqNo, the documented
/// primary-key fields).
pub fn id_condition(table: &str, id: CrmId) -> Condition {
    Condition::and(vec![
        Condition::cond(table, "StatNo", Op::Eq, id.stat_no().to_string()),
        Condition::cond(table, "SeqNo", Op::Eq, id.seq_no().to_string()),
    ])
}
