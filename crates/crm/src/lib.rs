//! `gc-crm`: the CRM.interface client of graph-connector.
//!
//! CRM.interface is Aurea CRM's XML-over-HTTP interface. This crate speaks its documented
//! request language (`<request>` with `query`/`insert`/`update`/`delete`/`import` commands,
//! records named after their table, `<return type="error">` results), reads the CRM-side
//! `forms.xml` configuration and runs the CRM half of `graph-connector check`.
//!
//! It knows nothing about Microsoft Graph. Everything about the protocol that Aurea does not
//! document (table and field names of connector-specific data, the external-key layout, how
//! catalogs are read and extended, how documents are attached, how session errors are told
//! apart) lives in [`dialect`], so that a capture from a real installation can replace it
//! without touching the sync engine. See `docs/CRM-INTERFACE.md`.

pub mod absences;
pub mod api;
pub mod appointments;
pub mod catalogs;
pub mod changes;
pub mod client;
pub mod codec;
pub mod codes;
pub mod diagnose;
pub mod dialect;
pub mod dom;
pub mod error;
pub mod forms;
pub mod legacy_keys;
pub mod localtime;
pub mod lookup;
pub mod nested;
pub mod persons;
pub mod probe;
pub mod tasks;
pub mod user_settings;

pub use api::{
    Absence, Activity, ActivityFilter, Company, DocumentInfo, ExternalKey, NewActivity,
    NewDocument, NewExternalKey, NewParticipant, NewTask, Participant, ParticipantRole,
    PersonMatch, Rep, Task,
};
pub use catalogs::CatalogValue;
pub use client::{ContentSource, CrmClient, CrmConfig, CrmSession, RetryPolicy};
pub use codes::ReturnCode;
pub use diagnose::{
    DiagnoseOptions, DiagnoseReport, Diagnostic, MailboxState, Status, diagnose, fix_catalogs,
    rep_mailbox_diagnostics,
};
pub use dialect::{Dialect, DialectKey, KeyValue, NameKind};
pub use error::{CrmError, ErrorKind};
pub use forms::{Forms, FormsError};
pub use gc_ids::{CrmId, ParseCrmIdError};
pub use persons::{CompanyStamps, CrmCompany, CrmPerson};
pub use probe::{ExtraField, Finding, Kinds};
pub use tasks::{TaskRecord, TaskUpdate, TaskWindow};
