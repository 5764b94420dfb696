//! The typed configuration. Field names are the TOML keys; `config/example.toml` documents each
//! one and is the single place where defaults are explained to users.
//!
//! Every section is `#[serde(default, deny_unknown_fields)]`: a missing key takes its default, and
//! an unknown key is reported (with a suggestion) by [`super::load`] instead of being silently
//! ignored.
//!
//! The sections' types live in files by what they configure: `connections` (Microsoft and
//! CRM), `mailboxes`, `kinds` (one section per kind of item), `errors` and `service` (the
//! process itself: state store, admin page, notifications, logging). Only [`Config`], which
//! holds them all, is here; every type is re-exported, so `config::model::X` names each one.

mod connections;
mod errors;
mod kinds;
mod mailboxes;
mod service;

pub use connections::{CertificateAlgorithm, Crm, Microsoft};
pub use errors::Errors;
pub use kinds::{
    Absences, AppointmentConflict, AppointmentDirection, Appointments, AttachmentMode,
    ContactTarget, Contacts, Emails, ShowAs, TaskDirection, Tasks,
};
pub use mailboxes::{Mailboxes, Parallel, SizeUnitSetting};
pub use service::{Admin, DatabaseUrl, LogFormat, Logging, Notifications, Service, State};

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub microsoft: Microsoft,
    pub crm: Crm,
    pub state: State,
    pub mailboxes: Mailboxes,
    pub emails: Emails,
    pub appointments: Appointments,
    pub tasks: Tasks,
    pub contacts: Contacts,
    pub absences: Absences,
    pub errors: Errors,
    pub admin: Admin,
    pub notifications: Notifications,
    pub logging: Logging,
    pub adoption: super::adoption::Adoption,
    pub service: Service,
}
