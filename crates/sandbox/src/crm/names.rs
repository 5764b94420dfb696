//! The names this CRM.interface uses on the wire, and the translation between them and the
//! names it stores records under (the defaults).
//!
//! Aurea installations differ in table and field names where Aurea's documentation is silent;
//! `sandbox --crm-dialect FILE` serves the CRM under other names, so that a test proves the
//! connector works with names other than its defaults. The file has the shape of the
//! connector's `[crm.dialect]` section (either that section inside a configuration file, or
//! its keys at the top level); this reading of it is written independently of the connector.
//!
//! A renamed table or field is known only under its new name; a field set to `""` does not
//! exist in this installation (queries and writes that name it are refused, stored values
//! are never shown). Booleans, dates, times, catalog names and the texts of some errors can be
//! changed too.

use std::collections::BTreeMap;
use std::path::Path;

use super::schema::table_def;

/// Which canonical (table, field) each dialect key names.
const FIELD_KEYS: &[(&str, &str, &str)] = &[
    ("rep.rep_id", "Rep", "RepID"),
    ("rep.name", "Rep", "Name"),
    ("rep.email", "Rep", "EMail1"),
    ("rep.connector_enabled", "Rep", "ConnectorEnabled"),
    ("rep.sync_emails", "Rep", "SyncEmails"),
    ("rep.sync_appointments", "Rep", "SyncAppointments"),
    ("rep.sync_tasks", "Rep", "SyncTasks"),
    ("rep.sync_contacts", "Rep", "SyncContacts"),
    ("rep.sync_absences", "Rep", "SyncAbsences"),
    ("rep.user_settings", "Rep", "UserSettings"),
    ("rep.language", "Rep", "Language"),
    ("company.name", "Company", "Company"),
    ("company.email", "Company", "EMail"),
    ("company.updated", "Company", "UpdTimestamp"),
    ("person.updated", "Person", "UpdTimestamp"),
    ("person.first_name", "Person", "FirstName"),
    ("person.last_name", "Person", "LastName"),
    ("activity.contact_type", "Contact", "Contact"),
    ("activity.subject", "Contact", "Subject"),
    ("activity.text", "Contact", "Text"),
    ("activity.date", "Contact", "Date"),
    ("activity.time", "Contact", "Time"),
    ("activity.end_date", "Contact", "EndDate"),
    ("activity.end_time", "Contact", "EndTime"),
    ("activity.rep_id", "Contact", "RepID"),
    ("activity.deleted", "Contact", "ConnectorDeleted"),
    ("activity.updated", "Contact", "UpdTimestamp"),
    ("participant.email", "Participant", "EMail"),
    ("participant.role", "Participant", "Role"),
    ("participant.status", "Participant", "Status"),
    ("task.rep_id", "Tasks", "RepID"),
    ("task.subject", "Tasks", "Subject"),
    ("task.text", "Tasks", "Text"),
    ("task.start_date", "Tasks", "StartDate"),
    ("task.due_date", "Tasks", "DueDate"),
    ("task.status", "Tasks", "Status"),
    ("task.priority", "Tasks", "Priority"),
    ("task.percent_complete", "Tasks", "PercentComplete"),
    ("task.reminder_date", "Tasks", "ReminderDate"),
    ("task.reminder_time", "Tasks", "ReminderTime"),
    ("task.deleted", "Tasks", "ConnectorDeleted"),
    ("task.updated", "Tasks", "UpdTimestamp"),
    ("absence.rep_id", "Absences", "RepID"),
    ("absence.start_date", "Absences", "StartDate"),
    ("absence.start_time", "Absences", "StartTime"),
    ("absence.end_date", "Absences", "EndDate"),
    ("absence.end_time", "Absences", "EndTime"),
    ("absence.kind", "Absences", "Type"),
    ("absence.text", "Absences", "Text"),
    ("absence.updated", "Absences", "UpdTimestamp"),
    ("external_key.ext_system", "ExternalKey", "ExtSystem"),
    ("external_key.content_type", "ExternalKey", "ContentType"),
    ("external_key.ext_key", "ExternalKey", "ExtKey"),
    ("external_key.mailbox", "ExternalKey", "Mailbox"),
    ("document.file_name", "Document", "FileName"),
    ("document.content_type", "Document", "ContentType"),
    ("document.size", "Document", "Size"),
    ("document.content", "Document", "Content"),
    ("catalog.catalog", "CatalogValue", "Catalog"),
    ("catalog.code", "CatalogValue", "Code"),
    ("catalog.text", "CatalogValue", "Text"),
    ("catalog.ext_key", "CatalogValue", "ExtKey"),
];

/// Which canonical table each section's `table` (and `short`) key names.
const TABLE_KEYS: &[(&str, &str)] = &[
    ("rep", "Rep"),
    ("company", "Company"),
    ("person", "Person"),
    ("activity", "Contact"),
    ("participant", "Participant"),
    ("task", "Tasks"),
    ("absence", "Absences"),
    ("external_key", "ExternalKey"),
    ("document", "Document"),
    ("catalog", "CatalogValue"),
];

/// Which canonical catalog each catalog-name key names.
const CATALOG_KEYS: &[(&str, &str)] = &[
    ("catalog.content_type_catalog", "Content Type (groupware)"),
    ("catalog.ext_system_catalog", "Ext. System (Rep)"),
    ("catalog.activity_type_catalog", "Activity Type"),
    ("catalog.show_as_catalog", "ShowAs"),
];

/// The person e-mail fields, in the order of `person.emails`.
const PERSON_EMAILS: &[&str] = &["EMail1", "EMail2"];

/// Canonical boolean, date and time fields (their values are translated).
const BOOL_FIELDS: &[(&str, &str)] = &[
    ("Rep", "ConnectorEnabled"),
    ("Rep", "SyncEmails"),
    ("Rep", "SyncAppointments"),
    ("Rep", "SyncTasks"),
    ("Rep", "SyncContacts"),
    ("Rep", "SyncAbsences"),
    ("Contact", "ConnectorDeleted"),
    ("Tasks", "ConnectorDeleted"),
    ("Contact", "ConnectorPublished"),
    ("Contact", "ConnectorMissingparticipants"),
    ("Contact", "Private"),
    ("Contact", "F5021"),
];
const DATE_FIELDS: &[(&str, &str)] = &[
    ("Contact", "Date"),
    ("Contact", "EndDate"),
    ("Tasks", "StartDate"),
    ("Tasks", "DueDate"),
    ("Tasks", "ReminderDate"),
    ("Absences", "StartDate"),
    ("Absences", "EndDate"),
];
const TIME_FIELDS: &[(&str, &str)] = &[
    ("Contact", "Time"),
    ("Contact", "EndTime"),
    ("Absences", "StartTime"),
    ("Absences", "EndTime"),
    ("Tasks", "ReminderTime"),
];

/// The keys of conventions the sandbox honours, with their defaults.
const CONVENTIONS: &[(&str, &str)] = &[
    ("true_value", "true"),
    ("false_value", "false"),
    ("already_active_text", "User is already active"),
    ("unknown_name_text", "unknown"),
    ("impersonation_marker", "Impersonation"),
    ("impersonate_key", "email"),
    ("date_format", "%Y-%m-%d"),
    ("time_format", "%H:%M"),
    // "nested": an insert record may hold child records, written after it and linked to it;
    // "separate": an installation that does not nest, which writes the parent and ignores
    // the records inside it (one return), as one that reads only fields might.
    ("child_records", "nested"),
];

/// A dialect file that cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("CRM dialect {path}: {message}")]
pub struct DialectError {
    path: String,
    message: String,
}

/// The wire names of a CRM.interface installation. `Default`: the names records are stored
/// under.
#[derive(Debug, Clone, Default)]
pub struct CrmDialect {
    /// canonical table → wire table (only renamed ones).
    tables: BTreeMap<String, String>,
    /// (canonical table, canonical field) → wire field; `""` = the field does not exist.
    fields: BTreeMap<(String, String), String>,
    /// canonical catalog → wire catalog name.
    catalogs: BTreeMap<String, String>,
    /// Our connector's value in "Ext. System (Rep)" (`GraphApi` by default).
    own_system: Option<String>,
    /// Conventions that differ from [`CONVENTIONS`].
    conventions: BTreeMap<String, String>,
}

impl CrmDialect {
    /// Reads a dialect file (`[crm.dialect]` keys, inside a configuration or at the top level).
    pub fn load(path: &Path) -> Result<Self, DialectError> {
        let fail = |message: String| DialectError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        Self::parse(&text).map_err(fail)
    }

    /// Parses dialect TOML.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message().trim()))?;
        if let Some(toml::Value::Table(crm)) = table.get("crm") {
            table = match crm.get("dialect") {
                Some(toml::Value::Table(d)) => d.clone(),
                _ => toml::Table::new(),
            };
        }
        let mut d = CrmDialect::default();
        for (key, value) in &table {
            match value {
                toml::Value::Table(section) => {
                    for (leaf, v) in section {
                        d.set(&format!("{key}.{leaf}"), v)?;
                    }
                }
                other => d.set(key, other)?,
            }
        }
        Ok(d)
    }

    fn set(&mut self, key: &str, value: &toml::Value) -> Result<(), String> {
        if key == "person.emails" {
            let list = value
                .as_array()
                .ok_or_else(|| "person.emails must be a list of field names".to_owned())?;
            for (i, canonical) in PERSON_EMAILS.iter().enumerate() {
                let wire = list
                    .get(i)
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default();
                self.field(key, "Person", canonical, wire)?;
            }
            return Ok(());
        }
        let v = value
            .as_str()
            .ok_or_else(|| format!("{key} must be text"))?
            .to_owned();
        if let Some((_, t, f)) = FIELD_KEYS.iter().find(|(k, _, _)| *k == key) {
            return self.field(key, t, f, &v);
        }
        if let Some((section, leaf)) = key.split_once('.')
            && let Some((_, canonical)) = TABLE_KEYS.iter().find(|(s, _)| *s == section)
        {
            match leaf {
                "table" => {
                    if !valid_name(&v) {
                        return Err(format!("{key}: {v:?} is not a table name"));
                    }
                    if v != *canonical {
                        self.tables.insert((*canonical).to_owned(), v);
                    }
                    return Ok(());
                }
                // the short code is informational
                "short" => return Ok(()),
                _ => {}
            }
        }
        if let Some((_, canonical)) = CATALOG_KEYS.iter().find(|(k, _)| *k == key) {
            if v.trim().is_empty() {
                return Err(format!("{key} must not be empty"));
            }
            self.catalogs.insert((*canonical).to_owned(), v);
            return Ok(());
        }
        if key == "external_key.own_system" {
            self.own_system = Some(v);
            return Ok(());
        }
        if CONVENTIONS.iter().any(|(k, _)| *k == key) {
            self.conventions.insert(key.to_owned(), v);
            return Ok(());
        }
        Err(format!("unknown key {key:?}"))
    }

    fn field(&mut self, key: &str, table: &str, field: &str, wire: &str) -> Result<(), String> {
        if !wire.is_empty() && !valid_name(wire) {
            return Err(format!("{key}: {wire:?} is not a field name"));
        }
        if wire != field {
            self.fields
                .insert((table.to_owned(), field.to_owned()), wire.to_owned());
        }
        Ok(())
    }

    /// A convention's value.
    pub(crate) fn convention(&self, key: &str) -> &str {
        self.conventions
            .get(key)
            .map(String::as_str)
            .or_else(|| CONVENTIONS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
            .unwrap_or_default()
    }

    /// The value the sandbox seeds for our connector in "Ext. System (Rep)".
    pub(crate) fn own_system(&self) -> Option<&str> {
        self.own_system.as_deref()
    }

    // ---- tables

    /// The stored table a wire table name means (`None`: this installation has no such table).
    pub(crate) fn table_in(&self, wire: &str) -> Option<&'static str> {
        if let Some((canonical, _)) = self.tables.iter().find(|(_, w)| *w == wire) {
            return table_def(canonical).map(|d| d.name);
        }
        if self.tables.contains_key(wire) {
            return None; // renamed: the old name does not exist here
        }
        table_def(wire).map(|d| d.name)
    }

    /// The wire name of a stored table.
    pub(crate) fn table_out<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.tables.get(canonical).map_or(canonical, String::as_str)
    }

    // ---- fields

    /// The stored field a wire field name of `table` means (`None`: unknown here).
    pub(crate) fn field_in(&self, table: &str, wire: &str) -> Option<String> {
        if matches!(wire, "StatNo" | "SeqNo") {
            return Some(wire.to_owned());
        }
        if let Some(((_, canonical), _)) = self
            .fields
            .iter()
            .find(|((t, _), w)| t == table && !w.is_empty() && *w == wire)
        {
            return Some(canonical.clone());
        }
        if self
            .fields
            .contains_key(&(table.to_owned(), wire.to_owned()))
        {
            return None; // renamed or removed
        }
        table_def(table)
            .filter(|d| d.fields.contains(&wire))
            .map(|_| wire.to_owned())
    }

    /// The wire name of a stored field (`None`: the field does not exist in this dialect).
    pub(crate) fn field_out<'a>(&'a self, table: &str, canonical: &'a str) -> Option<&'a str> {
        match self.fields.get(&(table.to_owned(), canonical.to_owned())) {
            Some(w) if w.is_empty() => None,
            Some(w) => Some(w),
            None => Some(canonical),
        }
    }

    // ---- values

    /// A wire value of a stored field as it is stored.
    pub(crate) fn value_in(&self, table: &str, field: &str, v: &str) -> String {
        let key = (table, field);
        if BOOL_FIELDS.contains(&key) {
            let t = self.convention("true_value");
            let f = self.convention("false_value");
            if v.trim().eq_ignore_ascii_case(t) {
                return "true".into();
            }
            if v.trim().eq_ignore_ascii_case(f) {
                return "false".into();
            }
        }
        if DATE_FIELDS.contains(&key) {
            return convert(v, self.convention("date_format"), "%Y-%m-%d", true);
        }
        if TIME_FIELDS.contains(&key) {
            return convert(v, self.convention("time_format"), "%H:%M", false);
        }
        if key == ("CatalogValue", "Catalog")
            && let Some((canonical, _)) = self.catalogs.iter().find(|(_, w)| w.as_str() == v.trim())
        {
            return canonical.clone();
        }
        v.to_owned()
    }

    /// A stored value as this installation writes it.
    pub(crate) fn value_out(&self, table: &str, field: &str, v: &str) -> String {
        let key = (table, field);
        if BOOL_FIELDS.contains(&key) {
            match v.trim() {
                "true" => return self.convention("true_value").to_owned(),
                "false" => return self.convention("false_value").to_owned(),
                _ => {}
            }
        }
        if DATE_FIELDS.contains(&key) {
            return convert(v, "%Y-%m-%d", self.convention("date_format"), true);
        }
        if TIME_FIELDS.contains(&key) {
            return convert(v, "%H:%M", self.convention("time_format"), false);
        }
        if key == ("CatalogValue", "Catalog")
            && let Some(w) = self.catalogs.get(v)
        {
            return w.clone();
        }
        v.to_owned()
    }

    /// A catalog's name as this installation writes it (for error texts).
    pub(crate) fn catalog_out<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.catalogs
            .get(canonical)
            .map_or(canonical, String::as_str)
    }

    /// The text of an error about a name this installation does not know.
    pub(crate) fn unknown_text(&self, what: &str, name: &str, table: &str) -> String {
        let marker = self.convention("unknown_name_text");
        if what == "table" {
            format!("{marker} table {name:?}")
        } else {
            format!("{marker} {what} {name:?} in table {table:?}")
        }
    }
}

/// Rewrites a date or time from one format into another; values that do not parse are
/// kept (CRM.interface stores what it is given).
fn convert(v: &str, from: &str, to: &str, date: bool) -> String {
    if from == to || v.trim().is_empty() {
        return v.to_owned();
    }
    let Ok(parsed) = jiff::fmt::strtime::parse(from, v.trim()) else {
        return v.to_owned();
    };
    let out = if date {
        parsed.to_date().ok().map(|d| d.strftime(to).to_string())
    } else {
        parsed.to_time().ok().map(|t| t.strftime(to).to_string())
    };
    out.unwrap_or_else(|| v.to_owned())
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_and_removes_names() {
        let d = CrmDialect::parse(
            r#"
[crm.dialect]
true_value = "1"
date_format = "%d.%m.%Y"
[crm.dialect.external_key]
mailbox = ""
[crm.dialect.catalog]
table = "Catalog"
catalog = "CatalogName"
content_type_catalog = "Inhaltstyp"
[crm.dialect.rep]
connector_enabled = "EnableConnector"
"#,
        )
        .unwrap();
        assert_eq!(d.table_in("Catalog"), Some("CatalogValue"));
        assert_eq!(d.table_in("CatalogValue"), None);
        assert_eq!(d.table_in("Contact"), Some("Contact"));
        assert_eq!(d.table_in("Nope"), None);
        assert_eq!(d.table_out("CatalogValue"), "Catalog");
        assert_eq!(
            d.field_in("CatalogValue", "CatalogName").as_deref(),
            Some("Catalog")
        );
        assert_eq!(d.field_in("CatalogValue", "Catalog"), None);
        assert_eq!(d.field_in("ExternalKey", "Mailbox"), None);
        assert_eq!(d.field_out("ExternalKey", "Mailbox"), None);
        assert_eq!(
            d.field_in("Rep", "EnableConnector").as_deref(),
            Some("ConnectorEnabled")
        );
        assert_eq!(d.field_in("Rep", "ConnectorEnabled"), None);
        assert_eq!(d.field_in("Rep", "Frobnicate"), None);
        assert_eq!(d.field_in("Contact", "F5021").as_deref(), Some("F5021"));
        assert_eq!(d.value_in("Rep", "ConnectorEnabled", "1"), "true");
        assert_eq!(d.value_out("Rep", "ConnectorEnabled", "true"), "1");
        assert_eq!(d.value_in("Contact", "Date", "27.11.2026"), "2026-11-27");
        assert_eq!(d.value_out("Contact", "Date", "2026-11-27"), "27.11.2026");
        assert_eq!(
            d.value_in("CatalogValue", "Catalog", "Inhaltstyp"),
            "Content Type (groupware)"
        );
        assert_eq!(
            d.value_out("CatalogValue", "Catalog", "Content Type (groupware)"),
            "Inhaltstyp"
        );
        assert!(CrmDialect::parse("[rep]\nfrobnicate = \"x\"\n").is_err());
        assert!(CrmDialect::parse("[rep]\ntable = \"a b\"\n").is_err());
        // top-level keys work as well
        let top = CrmDialect::parse("[catalog]\ntable = \"Catalog\"\n").unwrap();
        assert_eq!(top.table_in("Catalog"), Some("CatalogValue"));
    }
}
