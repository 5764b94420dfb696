//! The CRM.interface `forms.xml` model: master users, SyncHandlers and their conditions,
//! the missing-attendees text block, option keys and the form field lists.
//!
//! forms.xml is CRM-side configuration (`Web/system/xml/`); the connector reads a copy to
//! honour it. A missing or malformed file is an error naming the file and line.
//!
//! This file holds the model and its lookups; `parse` reads the file, `conditions` evaluates
//! a SyncHandler's condition and `missing` formats the missing-attendees block.

mod conditions;
mod missing;
mod parse;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::codec::Condition;

pub use conditions::evaluate;
pub use missing::{MissingAttendees, MissingLabels, MissingMode};

/// Why forms.xml could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormsError {
    /// The file could not be read.
    #[error("cannot read forms.xml {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not well-formed XML or not the expected structure.
    #[error("{}line {line}: {message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Invalid {
        path: Option<PathBuf>,
        line: usize,
        message: String,
    },
}

/// A `<masterUser>` entry of `<authentication>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterUser {
    /// `client` (e.g. `GraphApi`, `outlook`, `notes`).
    pub client: String,
    /// `login`, split at commas (e.g. `Principal`, `ClientID`).
    pub login: Vec<String>,
    /// The CRM login acting as master (element text, e.g. `OCSU`).
    pub user: String,
    /// Line in forms.xml.
    pub line: usize,
}

/// A `<SyncHandler>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncHandler {
    /// `type`, e.g. `ExchangeConnector_VeventFilter`, `DeleteSync`, `Default`.
    pub kind: String,
    /// Its condition: sibling `<lop>`/`<cond>` elements combined with AND.
    pub condition: Option<Condition>,
}

/// One `<form type=…>`: the fields exchanged per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `type`, e.g. `vevent`.
    pub kind: String,
    /// `(tablename, fields)`.
    pub tables: Vec<(String, Vec<String>)>,
}

/// The parsed forms.xml.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forms {
    pub master_users: Vec<MasterUser>,
    pub sync_handlers: Vec<SyncHandler>,
    /// Missing-attendees settings per options section (e.g. `vevent`).
    pub missing_attendees: BTreeMap<String, MissingAttendees>,
    /// `<key name value/>` per options section.
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    pub forms: Vec<Form>,
}

impl Forms {
    /// The master-user entry for a client kind (e.g. `GraphApi`), matched case-insensitively.
    pub fn master_user(&self, client: &str) -> Option<&MasterUser> {
        self.master_users
            .iter()
            .find(|m| m.client.eq_ignore_ascii_case(client))
    }

    /// A SyncHandler by type.
    pub fn sync_handler(&self, kind: &str) -> Option<&SyncHandler> {
        self.sync_handlers.iter().find(|h| h.kind == kind)
    }

    /// An option key (`<options><section><key name value/>`).
    pub fn key(&self, section: &str, name: &str) -> Option<&str> {
        self.keys.get(section)?.get(name).map(String::as_str)
    }

    /// `delete_sync_process_410` of the vevent section: a 410 (deleted in the mailbox)
    /// marks the activity deleted in CRM.
    pub fn delete_sync_process_410(&self) -> bool {
        self.key("vevent", "delete_sync_process_410")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
    }

    /// The fields of a form for a table (e.g. `("vevent", "Contact")`).
    pub fn form_fields(&self, kind: &str, table: &str) -> Option<&[String]> {
        self.forms
            .iter()
            .find(|f| f.kind == kind)?
            .tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, f)| f.as_slice())
    }
}
