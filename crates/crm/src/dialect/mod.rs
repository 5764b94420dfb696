//! Every inference about the parts of CRM.interface that Aurea does not document.
//!
//! The request language itself (`<request>`, `query`/`insert`/`update`/`import`, records
//! named after tables, `<return type="error">`) is documented and lives in
//! [`crate::codec`]. What is *not* documented is collected here and nowhere else:
//! table and field names of the connector's data (rep flags, participants, external keys,
//! documents, catalogs), how catalog values are read and added, how documents are attached,
//! how links are expressed, the boolean wire form and how session-level errors are told
//! apart. The typed API ([`crate::api`]) only reads names from a [`Dialect`]; a capture from
//! a real installation changes this module (or a [`Dialect`] loaded from configuration, it
//! is `Deserialize`) and nothing in the sync engine.
//!
//! docs/CRM-INTERFACE.md lists each item with its source and confidence.
//!
//! This file holds [`Dialect`] itself, its defaults and the catalog values the connector
//! needs; `tables` the names of each table, `appointment` the appointment fields of the
//! activity table, `conventions` the wire forms of booleans, dates and times, `errors` how
//! error returns are told apart, `keys` every key of the dialect.

mod appointment;
mod conventions;
mod errors;
mod keys;
mod tables;

use serde::{Deserialize, Serialize};

pub use appointment::AppointmentNames;
pub use keys::{DialectKey, KeyValue, NameKind};
pub use tables::{
    AbsenceNames, ActivityNames, CatalogNames, CompanyNames, DocumentNames, ExternalKeyNames,
    ParticipantNames, PersonNames, RepNames, TaskNames,
};

/// Names and conventions of one CRM.interface installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dialect {
    /// Rep table (ID).
    pub rep: RepNames,
    /// Company table (FI).
    pub company: CompanyNames,
    /// Person-in-company table (KP).
    pub person: PersonNames,
    /// Activity table (MA, XML name `Contact`).
    pub activity: ActivityNames,
    /// Appointment fields and values of the activity table.
    pub appointment: AppointmentNames,
    /// Activity participant table (MB).
    pub participant: ParticipantNames,
    /// Task table (A1).
    pub task: TaskNames,
    /// Absence table (A3).
    pub absence: AbsenceNames,
    /// External key table (XK).
    pub external_key: ExternalKeyNames,
    /// Document table (D1).
    pub document: DocumentNames,
    /// Catalog values, addressed like a table.
    pub catalog: CatalogNames,
    /// Boolean wire values.
    pub true_value: String,
    /// Boolean wire values.
    pub false_value: String,
    /// Text of the error CRM.interface gives while a request for the same user still runs.
    pub already_active_text: String,
    /// Case-insensitive marker in the text of a 400 (BAD_REQUEST) error that says a table or
    /// field name does not exist in this installation (a configuration error, not an item's).
    pub unknown_name_text: String,
    /// Case-insensitive marker in a session-level 401 text that says impersonation (not
    /// the master login) failed.
    pub impersonation_marker: String,
    /// Key used in `impersonate="key=value"`.
    pub impersonate_key: String,
    /// Format of date fields (jiff strftime).
    pub date_format: String,
    /// Format of time fields (jiff strftime).
    pub time_format: String,
    /// How records that belong to a new record (an activity's external key, participants and
    /// documents) are written: `"nested"` (the default), inside the new record's element in
    /// the same request (one request per activity instead of two; inferred, not documented,
    /// and an installation that does not nest stops the run naming this key: see
    /// [`crate::nested`] and docs/CRM-INTERFACE.md); or `"separate"`, in a second request
    /// linked to the id the first one returned.
    pub child_records: String,
}

/// `child_records` values.
pub const CHILD_RECORDS: [&str; 2] = ["separate", "nested"];

fn s(v: &str) -> String {
    v.to_owned()
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            rep: RepNames::default(),
            company: CompanyNames::default(),
            person: PersonNames::default(),
            activity: ActivityNames::default(),
            appointment: AppointmentNames::default(),
            participant: ParticipantNames::default(),
            task: TaskNames::default(),
            absence: AbsenceNames::default(),
            external_key: ExternalKeyNames::default(),
            document: DocumentNames::default(),
            catalog: CatalogNames::default(),
            true_value: s("true"),
            false_value: s("false"),
            already_active_text: s("User is already active"),
            unknown_name_text: s("unknown"),
            impersonation_marker: s("impersonat"),
            impersonate_key: s("email"),
            date_format: s("%Y-%m-%d"),
            time_format: s("%H:%M"),
            child_records: s("nested"),
        }
    }
}

/// Catalog values the connector needs (SPEC §3): `(catalog, values)`.
pub fn required_catalog_values(d: &Dialect) -> Vec<(String, Vec<&'static str>)> {
    vec![
        (
            d.catalog.content_type_catalog.clone(),
            vec![
                "application/x-mmRecord",
                "text/x-mmAbsences",
                "text/x-mmPerson",
                "text/x-mmTasks",
                "text/x-vevent",
            ],
        ),
        (
            d.catalog.ext_system_catalog.clone(),
            vec!["marketing.manager", "GraphApi", "SyncML"],
        ),
    ]
}
