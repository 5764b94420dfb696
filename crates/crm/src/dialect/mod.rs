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

mod appointment;
mod keys;

use serde::{Deserialize, Serialize};

pub use appointment::AppointmentNames;
pub use keys::{DialectKey, KeyValue, NameKind};

use crate::codec::ReturnInfo;
use crate::codes::ReturnCode;
use crate::error::CrmError;

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

/// Rep (ID) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepNames {
    pub table: String,
    pub short: String,
    /// The rep number other tables refer to (`Contact.RepID`).
    pub rep_id: String,
    pub name: String,
    /// ID E-mail1 (field 27).
    pub email: String,
    /// "Enable Connector settings".
    pub connector_enabled: String,
    /// "Synchronize e-mails".
    pub sync_emails: String,
    /// "Synchronize appointments".
    pub sync_appointments: String,
    /// Tasks flag.
    pub sync_tasks: String,
    /// Contacts flag.
    pub sync_contacts: String,
    /// Absences flag.
    pub sync_absences: String,
    /// UserSettings (`<SyncSettings>` XML).
    pub user_settings: String,
    /// Language of the rep (for the missing-attendees text).
    pub language: String,
}

/// Company (FI) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompanyNames {
    pub table: String,
    pub short: String,
    pub name: String,
    pub email: String,
    /// The responsible rep's number (the contacts kind selects the persons of the rep's
    /// companies by it); `""`: no such field, the rule then selects by activities only.
    pub rep_id: String,
    /// Address and phone, copied to the business address of synchronized contacts.
    pub street: String,
    pub zip_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change; not documented, like the others): with the person's, what tells the
    /// contacts' idle check that a rep's selection changed. `""`: no check, the contacts
    /// kind reads every rep's selection every cycle.
    pub updated: String,
}

/// Person (KP) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonNames {
    pub table: String,
    pub short: String,
    pub first_name: String,
    pub last_name: String,
    /// E-mail fields searched by address lookups.
    pub emails: Vec<String>,
    /// Job title, business phone and mobile phone (copied to synchronized contacts).
    pub job_title: String,
    pub phone: String,
    pub mobile_phone: String,
    /// The record's update stamp (see [`CompanyNames::updated`]).
    pub updated: String,
}

/// Activity (MA) names beyond the forms.xml vevent list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityNames {
    pub table: String,
    pub short: String,
    /// Activity type (catalog).
    pub contact_type: String,
    pub subject: String,
    pub text: String,
    pub date: String,
    pub time: String,
    pub end_date: String,
    pub end_time: String,
    pub rep_id: String,
    pub deleted: String,
    /// Update stamp CRM writes on every change (text that sorts in time order): lets the
    /// appointments kind read only what changed, and tell which side changed last. `""`: the
    /// installation has none (every run then reads the whole window).
    pub updated: String,
    /// A free text field of the activity that the connector's first insert fills with a
    /// marker derived from the item's global key, so that an activity written just before a
    /// crash (before its external key) is found again by it. `""` (the default: Aurea names
    /// no such field, and a free field may be in use) means none: recovery then compares rep,
    /// date, time, subject and text, and `check` says so.
    pub marker: String,
}

/// Participant (MB) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParticipantNames {
    pub table: String,
    pub short: String,
    pub email: String,
    pub role: String,
    pub status: String,
}

/// Task (A1) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskNames {
    pub table: String,
    pub short: String,
    pub rep_id: String,
    pub subject: String,
    pub text: String,
    pub start_date: String,
    pub due_date: String,
    pub status: String,
    pub priority: String,
    pub percent_complete: String,
    /// Reminder date and time (wall clock in `[crm] time_zone`); `""`: the table has none.
    pub reminder_date: String,
    pub reminder_time: String,
    /// Set (boolean) when the task was deleted in Microsoft To Do: the connector never
    /// deletes a CRM task. `""`: the table has no such field; the deletion is then only
    /// recorded in the ledger and the task is not sent again.
    pub deleted: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change), so that the tasks changed since a checkpoint can be asked for. `""`: none;
    /// the whole window is then read on every run.
    pub updated: String,
}

/// Absence (A3) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbsenceNames {
    pub table: String,
    pub short: String,
    pub rep_id: String,
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
    pub kind: String,
    pub text: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change), so that an idle cycle can tell without reading the absences whether the
    /// rep's absences in the window changed. `""`: none; every run reads the window.
    pub updated: String,
}

/// External key (XK) layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalKeyNames {
    pub table: String,
    pub short: String,
    /// Catalog "Ext. System (Rep)".
    pub ext_system: String,
    /// Catalog "Content Type (groupware)".
    pub content_type: String,
    /// The groupware id (e.g. an event id or internetMessageId).
    pub ext_key: String,
    /// E-mail of the mailbox the key belongs to.
    pub mailbox: String,
    /// Our own system value in "Ext. System (Rep)".
    pub own_system: String,
}

/// Document (D1) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentNames {
    pub table: String,
    pub short: String,
    pub file_name: String,
    pub content_type: String,
    pub size: String,
    /// Content field, written as base64 with `encoding="base64"`.
    pub content: String,
}

/// Catalog access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogNames {
    /// Pseudo-table through which catalog values are queried and inserted.
    pub table: String,
    pub catalog: String,
    pub code: String,
    pub text: String,
    pub ext_key: String,
    /// Catalog "Content Type (groupware)".
    pub content_type_catalog: String,
    /// Catalog "Ext. System (Rep)".
    pub ext_system_catalog: String,
    /// The activity type catalog (MA `Contact` field).
    pub activity_type_catalog: String,
    /// The ShowAs catalog.
    pub show_as_catalog: String,
}

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

impl Default for RepNames {
    fn default() -> Self {
        Self {
            table: s("Rep"),
            short: s("ID"),
            rep_id: s("RepID"),
            name: s("Name"),
            email: s("EMail1"),
            connector_enabled: s("ConnectorEnabled"),
            sync_emails: s("SyncEmails"),
            sync_appointments: s("SyncAppointments"),
            sync_tasks: s("SyncTasks"),
            sync_contacts: s("SyncContacts"),
            sync_absences: s("SyncAbsences"),
            user_settings: s("UserSettings"),
            language: s("Language"),
        }
    }
}

impl Default for CompanyNames {
    fn default() -> Self {
        Self {
            table: s("Company"),
            short: s("FI"),
            name: s("Company"),
            email: s("EMail"),
            rep_id: s("RepID"),
            street: s("Street"),
            zip_code: s("ZipCode"),
            city: s("City"),
            country: s("Country"),
            phone: s("Phone"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for PersonNames {
    fn default() -> Self {
        Self {
            table: s("Person"),
            short: s("KP"),
            first_name: s("FirstName"),
            last_name: s("LastName"),
            emails: vec![s("EMail1"), s("EMail2")],
            job_title: s("JobTitle"),
            phone: s("Phone"),
            mobile_phone: s("MobilePhone"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for ActivityNames {
    fn default() -> Self {
        Self {
            table: s("Contact"),
            short: s("MA"),
            contact_type: s("Contact"),
            subject: s("Subject"),
            text: s("Text"),
            date: s("Date"),
            time: s("Time"),
            end_date: s("EndDate"),
            end_time: s("EndTime"),
            rep_id: s("RepID"),
            deleted: s("ConnectorDeleted"),
            updated: s("UpdTimestamp"),
            marker: String::new(),
        }
    }
}

impl Default for ParticipantNames {
    fn default() -> Self {
        Self {
            table: s("Participant"),
            short: s("MB"),
            email: s("EMail"),
            role: s("Role"),
            status: s("Status"),
        }
    }
}

impl Default for TaskNames {
    fn default() -> Self {
        Self {
            table: s("Tasks"),
            short: s("A1"),
            rep_id: s("RepID"),
            subject: s("Subject"),
            text: s("Text"),
            start_date: s("StartDate"),
            due_date: s("DueDate"),
            status: s("Status"),
            priority: s("Priority"),
            percent_complete: s("PercentComplete"),
            reminder_date: s("ReminderDate"),
            reminder_time: s("ReminderTime"),
            deleted: s("ConnectorDeleted"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for AbsenceNames {
    fn default() -> Self {
        Self {
            table: s("Absences"),
            short: s("A3"),
            rep_id: s("RepID"),
            start_date: s("StartDate"),
            start_time: s("StartTime"),
            end_date: s("EndDate"),
            end_time: s("EndTime"),
            kind: s("Type"),
            text: s("Text"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for ExternalKeyNames {
    fn default() -> Self {
        Self {
            table: s("ExternalKey"),
            short: s("XK"),
            ext_system: s("ExtSystem"),
            content_type: s("ContentType"),
            ext_key: s("ExtKey"),
            mailbox: s("Mailbox"),
            own_system: s("GraphApi"),
        }
    }
}

impl Default for DocumentNames {
    fn default() -> Self {
        Self {
            table: s("Document"),
            short: s("D1"),
            file_name: s("FileName"),
            content_type: s("ContentType"),
            size: s("Size"),
            content: s("Content"),
        }
    }
}

impl Default for CatalogNames {
    fn default() -> Self {
        Self {
            table: s("CatalogValue"),
            catalog: s("Catalog"),
            code: s("Code"),
            text: s("Text"),
            ext_key: s("ExtKey"),
            content_type_catalog: s("Content Type (groupware)"),
            ext_system_catalog: s("Ext. System (Rep)"),
            activity_type_catalog: s("Activity Type"),
            show_as_catalog: s("ShowAs"),
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

impl Dialect {
    /// Reads a boolean field. Accepts the common spellings, because installations differ.
    pub fn parse_bool(&self, v: &str) -> bool {
        let v = v.trim();
        v.eq_ignore_ascii_case(&self.true_value)
            || ["true", "1", "yes", "y", "x", "ja"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
    }

    /// Writes a boolean field.
    pub fn format_bool(&self, v: bool) -> String {
        if v {
            self.true_value.clone()
        } else {
            self.false_value.clone()
        }
    }

    /// The `impersonate` attribute for a rep e-mail address.
    pub fn impersonate_value(&self, email: &str) -> String {
        format!("{}={}", self.impersonate_key, email)
    }

    /// Formats a date field.
    pub fn format_date(&self, d: jiff::civil::Date) -> String {
        d.strftime(&self.date_format).to_string()
    }

    /// Whether child records are written inside their new parent (`child_records =
    /// "nested"`).
    pub fn nests_children(&self) -> bool {
        self.child_records.eq_ignore_ascii_case("nested")
    }

    /// Formats a time field.
    pub fn format_time(&self, t: jiff::civil::Time) -> String {
        t.strftime(&self.time_format).to_string()
    }

    /// Reads a date field (`None` when it is empty or not in `date_format`).
    pub fn parse_date(&self, v: &str) -> Option<jiff::civil::Date> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        jiff::fmt::strtime::parse(&self.date_format, v)
            .ok()?
            .to_date()
            .ok()
    }

    /// Reads a time field (`None` when it is empty or not in `time_format`). Seconds are
    /// accepted even when the format has none (CRM.interface may answer `HH:MM:SS`).
    pub fn parse_time(&self, v: &str) -> Option<jiff::civil::Time> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        let parsed = jiff::fmt::strtime::parse(&self.time_format, v)
            .ok()
            .and_then(|t| t.to_time().ok());
        parsed.or_else(|| {
            jiff::fmt::strtime::parse("%H:%M:%S", v)
                .ok()
                .and_then(|t| t.to_time().ok())
        })
    }

    /// Whether a per-command error says that a table or field does not exist: code 400
    /// (BAD_REQUEST) with [`Dialect::unknown_name_text`] in its text.
    pub fn is_unknown_name(&self, code: ReturnCode, text: &str) -> bool {
        code == ReturnCode::BadRequest
            && !self.unknown_name_text.is_empty()
            && text
                .to_ascii_lowercase()
                .contains(&self.unknown_name_text.to_ascii_lowercase())
    }

    /// Whether an error text is "User is already active".
    pub fn is_already_active(&self, text: &str) -> bool {
        text.to_ascii_lowercase()
            .contains(&self.already_active_text.to_ascii_lowercase())
    }

    /// Classifies a `<return type="error">` directly under `<response>` (a session-level
    /// failure: login, impersonation, busy user).
    pub fn session_error(
        &self,
        ret: &ReturnInfo,
        user: &str,
        impersonating: Option<&str>,
    ) -> CrmError {
        let text = ret.text.clone().unwrap_or_default();
        let code = ReturnCode::from_u16(ret.code.unwrap_or(500));
        if self.is_already_active(&text) {
            return CrmError::UserAlreadyActive;
        }
        if code.is_transient() {
            return CrmError::Server { code, text };
        }
        let auth_code = matches!(code, ReturnCode::InvalidCreds | ReturnCode::Forbidden);
        if auth_code {
            if let Some(target) = impersonating
                && text
                    .to_ascii_lowercase()
                    .contains(&self.impersonation_marker.to_ascii_lowercase())
            {
                return CrmError::ImpersonationRefused {
                    target: target.to_owned(),
                    code,
                    text,
                };
            }
            return CrmError::Auth {
                user: user.to_owned(),
                code,
                text,
            };
        }
        self.item_error(ret)
    }

    /// Classifies a `<return type="error">` of one command.
    pub fn item_error(&self, ret: &ReturnInfo) -> CrmError {
        let text = ret.text.clone().unwrap_or_default();
        let code = ReturnCode::from_u16(ret.code.unwrap_or(500));
        if self.is_already_active(&text) {
            return CrmError::UserAlreadyActive;
        }
        if code.is_transient() {
            return CrmError::Server { code, text };
        }
        if self.is_unknown_name(code, &text) {
            let key = self.key_for_name(ret.tablename.as_deref(), ret.fieldname.as_deref());
            return CrmError::UnknownName {
                table: ret.tablename.clone(),
                field: ret.fieldname.clone(),
                key: key.map(|k| k.toml_key()),
                fix: key.map(|k| k.fix()).unwrap_or_else(|| {
                    "the name does not come from [crm.dialect]: check the fields forms.xml lists (crm.forms_xml) and the missing-participants block".to_owned()
                }),
                code,
                text,
            };
        }
        CrmError::Rejected {
            code,
            text,
            table: ret.tablename.clone(),
            field: ret.fieldname.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ret(code: u16, text: &str) -> ReturnInfo {
        ReturnInfo {
            kind: "error".into(),
            code: Some(code),
            text: Some(text.into()),
            ..ReturnInfo::default()
        }
    }

    #[test]
    fn session_errors() {
        let d = Dialect::default();
        assert_eq!(
            d.session_error(&ret(401, "Login failed"), "OCSU", None)
                .kind(),
            ErrorKind::Auth
        );
        assert_eq!(
            d.session_error(
                &ret(401, "Impersonation failed: no rep"),
                "OCSU",
                Some("x@y")
            )
            .kind(),
            ErrorKind::ImpersonationRefused
        );
        assert_eq!(
            d.session_error(&ret(401, "Login failed"), "OCSU", Some("x@y"))
                .kind(),
            ErrorKind::Auth
        );
        assert_eq!(
            d.session_error(&ret(506, "User is already active"), "OCSU", None)
                .kind(),
            ErrorKind::UserAlreadyActive
        );
        assert_eq!(
            d.session_error(&ret(511, "down"), "OCSU", None).kind(),
            ErrorKind::Transient
        );
        assert_eq!(
            d.item_error(&ret(500, "Permission denied")).kind(),
            ErrorKind::Rejected
        );
    }

    #[test]
    fn bools_and_dates() {
        let d = Dialect::default();
        assert!(
            d.parse_bool("TRUE")
                && d.parse_bool("1")
                && !d.parse_bool("false")
                && !d.parse_bool("")
        );
        assert_eq!(d.format_date(jiff::civil::date(2024, 3, 5)), "2024-03-05");
        assert_eq!(d.format_time(jiff::civil::time(9, 5, 0, 0)), "09:05");
        assert_eq!(d.impersonate_value("a@b"), "email=a@b");
    }
}
