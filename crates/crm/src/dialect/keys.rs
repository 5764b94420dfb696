//! The keys of a [`Dialect`]: one list that says, for every setting, its `[crm.dialect]` key,
//! what it names (a table, a field of a table, a catalog, a catalog value or a protocol
//! convention), whether it may be `""` (then the name is not used: not written, not queried)
//! and its value.
//!
//! Everything that needs to know the dialect as a whole reads this list: the validation of a
//! configured dialect, `check`'s schema probe, the error that names the key to set when
//! CRM.interface does not know a name, and `graph-connector config dialect`.

use super::Dialect;

/// What a dialect key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A table (its XML name).
    Table,
    /// A table's short code (informational: CRM.interface answers it as `tableshort`).
    Short,
    /// A field of the section's table.
    Field,
    /// The name of a catalog.
    Catalog,
    /// A value of a catalog.
    CatalogValue,
    /// A protocol convention: boolean spelling, formats, texts of errors.
    Convention,
}

/// The value of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// One text.
    Text(&'a str),
    /// A list of names (the person e-mail fields).
    List(&'a [String]),
}

/// One key of the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialectKey<'a> {
    /// Dotted key below `[crm.dialect]`, e.g. `external_key.mailbox`.
    pub key: &'static str,
    /// What it names.
    pub kind: NameKind,
    /// For tables and fields: the dotted key of the table (`external_key.table`).
    pub table_key: Option<&'static str>,
    /// For tables and fields: the configured table name.
    pub table: Option<&'a str>,
    /// Whether `""` is allowed (the name is then not used).
    pub optional: bool,
    /// The configured value.
    pub value: KeyValue<'a>,
}

impl<'a> DialectKey<'a> {
    /// The configured names, without empty ones.
    pub fn names(&self) -> Vec<&'a str> {
        match self.value {
            KeyValue::Text("") => Vec::new(),
            KeyValue::Text(t) => vec![t],
            KeyValue::List(l) => l
                .iter()
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// The section below `[crm.dialect]` (`external_key`), `None` for top-level keys.
    pub fn section(&self) -> Option<&'static str> {
        self.key.split_once('.').map(|(s, _)| s)
    }

    /// The key inside its section (`mailbox`).
    pub fn leaf(&self) -> &'static str {
        self.key.rsplit('.').next().unwrap_or(self.key)
    }

    /// How an administrator writes it: `[crm.dialect.external_key] mailbox`.
    pub fn toml_key(&self) -> String {
        match self.section() {
            Some(section) => format!("[crm.dialect.{section}] {}", self.leaf()),
            None => format!("[crm.dialect] {}", self.key),
        }
    }

    /// What to do when CRM.interface does not know this name.
    pub fn fix(&self) -> String {
        let what = match self.kind {
            NameKind::Table => "table",
            NameKind::Field => "field",
            NameKind::Catalog => "catalog",
            _ => "value",
        };
        let mut fix = format!(
            "set {} to the name of this {what} in your installation (see the CRM data model or the field help of the CRM client)",
            self.toml_key()
        );
        if self.optional {
            fix.push_str(", or to \"\" if your installation has no such field");
        }
        fix
    }
}

/// Builds the list section by section; `table` sets the table the following fields belong to.
struct Keys<'a> {
    out: Vec<DialectKey<'a>>,
    table: Option<(&'static str, &'a str)>,
}

impl<'a> Keys<'a> {
    fn push(&mut self, key: &'static str, kind: NameKind, optional: bool, value: KeyValue<'a>) {
        let (table_key, table) = match kind {
            NameKind::Table | NameKind::Short | NameKind::Field => {
                (self.table.map(|t| t.0), self.table.map(|t| t.1))
            }
            _ => (None, None),
        };
        self.out.push(DialectKey {
            key,
            kind,
            table_key,
            table,
            optional,
            value,
        });
    }

    fn table(
        &mut self,
        key: &'static str,
        value: &'a str,
        short_key: &'static str,
        short: &'a str,
    ) {
        self.table = Some((key, value));
        self.push(key, NameKind::Table, false, KeyValue::Text(value));
        self.push(short_key, NameKind::Short, true, KeyValue::Text(short));
    }

    fn field(&mut self, key: &'static str, value: &'a str) {
        self.push(key, NameKind::Field, false, KeyValue::Text(value));
    }

    fn optional(&mut self, key: &'static str, value: &'a str) {
        self.push(key, NameKind::Field, true, KeyValue::Text(value));
    }

    fn other(&mut self, key: &'static str, kind: NameKind, value: &'a str) {
        self.push(key, kind, false, KeyValue::Text(value));
    }
}

impl Dialect {
    /// Every key with its value, top-level conventions first, then the sections in the order
    /// of the struct.
    pub fn keys(&self) -> Vec<DialectKey<'_>> {
        use NameKind::{Catalog, CatalogValue, Convention};
        let mut k = Keys {
            out: Vec::new(),
            table: None,
        };
        k.other("true_value", Convention, &self.true_value);
        k.other("false_value", Convention, &self.false_value);
        k.other("already_active_text", Convention, &self.already_active_text);
        k.other("unknown_name_text", Convention, &self.unknown_name_text);
        k.other(
            "impersonation_marker",
            Convention,
            &self.impersonation_marker,
        );
        k.other("impersonate_key", Convention, &self.impersonate_key);
        k.other("date_format", Convention, &self.date_format);
        k.other("time_format", Convention, &self.time_format);
        k.other("child_records", Convention, &self.child_records);

        let r = &self.rep;
        k.table("rep.table", &r.table, "rep.short", &r.short);
        k.field("rep.rep_id", &r.rep_id);
        k.field("rep.name", &r.name);
        k.field("rep.email", &r.email);
        k.field("rep.connector_enabled", &r.connector_enabled);
        k.field("rep.sync_emails", &r.sync_emails);
        k.field("rep.sync_appointments", &r.sync_appointments);
        k.optional("rep.sync_tasks", &r.sync_tasks);
        k.optional("rep.sync_contacts", &r.sync_contacts);
        k.optional("rep.sync_absences", &r.sync_absences);
        k.optional("rep.user_settings", &r.user_settings);
        k.optional("rep.language", &r.language);

        let c = &self.company;
        k.table("company.table", &c.table, "company.short", &c.short);
        k.field("company.name", &c.name);
        k.field("company.email", &c.email);
        k.optional("company.rep_id", &c.rep_id);
        k.optional("company.street", &c.street);
        k.optional("company.zip_code", &c.zip_code);
        k.optional("company.city", &c.city);
        k.optional("company.country", &c.country);
        k.optional("company.phone", &c.phone);
        k.optional("company.updated", &c.updated);

        let p = &self.person;
        k.table("person.table", &p.table, "person.short", &p.short);
        k.optional("person.first_name", &p.first_name);
        k.optional("person.last_name", &p.last_name);
        k.push(
            "person.emails",
            NameKind::Field,
            false,
            KeyValue::List(&p.emails),
        );
        k.optional("person.job_title", &p.job_title);
        k.optional("person.phone", &p.phone);
        k.optional("person.mobile_phone", &p.mobile_phone);
        k.optional("person.updated", &p.updated);

        let a = &self.activity;
        k.table("activity.table", &a.table, "activity.short", &a.short);
        k.field("activity.contact_type", &a.contact_type);
        k.field("activity.subject", &a.subject);
        k.field("activity.text", &a.text);
        k.field("activity.date", &a.date);
        k.field("activity.time", &a.time);
        k.optional("activity.end_date", &a.end_date);
        k.optional("activity.end_time", &a.end_time);
        k.field("activity.rep_id", &a.rep_id);
        k.field("activity.deleted", &a.deleted);
        k.optional("activity.updated", &a.updated);
        k.optional("activity.marker", &a.marker);

        // Appointment fields belong to the activity table.
        let m = &self.appointment;
        k.table = Some(("activity.table", &a.table));
        k.optional("appointment.location", &m.location);
        k.optional("appointment.body", &m.body);
        k.optional("appointment.private", &m.private);
        k.optional("appointment.show_as", &m.show_as);
        k.optional("appointment.priority", &m.priority);
        k.optional("appointment.reminder_duration", &m.reminder_duration);
        k.optional("appointment.reminder_unit", &m.reminder_unit);
        k.optional("appointment.duration", &m.duration);
        k.field("appointment.published", &m.published);
        k.optional("appointment.is_master", &m.is_master);
        k.optional("appointment.is_serial", &m.is_serial);
        k.optional("appointment.master_stat_no", &m.master_stat_no);
        k.optional("appointment.master_seq_no", &m.master_seq_no);
        for (key, v) in [
            (
                "appointment.reminder_unit_minutes",
                &m.reminder_unit_minutes,
            ),
            ("appointment.priority_low", &m.priority_low),
            ("appointment.priority_normal", &m.priority_normal),
            ("appointment.priority_high", &m.priority_high),
        ] {
            k.push(key, Convention, true, KeyValue::Text(v));
        }
        for (key, v) in [
            ("appointment.show_as_free", &m.show_as_free),
            ("appointment.show_as_tentative", &m.show_as_tentative),
            ("appointment.show_as_busy", &m.show_as_busy),
            ("appointment.show_as_oof", &m.show_as_oof),
            (
                "appointment.show_as_working_elsewhere",
                &m.show_as_working_elsewhere,
            ),
            ("appointment.content_type", &m.content_type),
            ("appointment.absence_content_type", &m.absence_content_type),
        ] {
            k.push(key, CatalogValue, true, KeyValue::Text(v));
        }

        let p = &self.participant;
        k.table("participant.table", &p.table, "participant.short", &p.short);
        k.field("participant.email", &p.email);
        k.field("participant.role", &p.role);
        k.optional("participant.status", &p.status);

        let t = &self.task;
        k.table("task.table", &t.table, "task.short", &t.short);
        k.field("task.rep_id", &t.rep_id);
        k.field("task.subject", &t.subject);
        k.optional("task.text", &t.text);
        k.optional("task.start_date", &t.start_date);
        k.field("task.due_date", &t.due_date);
        k.field("task.status", &t.status);
        k.optional("task.priority", &t.priority);
        k.optional("task.percent_complete", &t.percent_complete);
        k.optional("task.reminder_date", &t.reminder_date);
        k.optional("task.reminder_time", &t.reminder_time);
        k.optional("task.deleted", &t.deleted);
        k.optional("task.updated", &t.updated);

        let b = &self.absence;
        k.table("absence.table", &b.table, "absence.short", &b.short);
        k.field("absence.rep_id", &b.rep_id);
        k.field("absence.start_date", &b.start_date);
        k.optional("absence.start_time", &b.start_time);
        k.field("absence.end_date", &b.end_date);
        k.optional("absence.end_time", &b.end_time);
        k.optional("absence.kind", &b.kind);
        k.optional("absence.text", &b.text);
        k.optional("absence.updated", &b.updated);

        let x = &self.external_key;
        k.table(
            "external_key.table",
            &x.table,
            "external_key.short",
            &x.short,
        );
        k.field("external_key.ext_system", &x.ext_system);
        k.field("external_key.content_type", &x.content_type);
        k.field("external_key.ext_key", &x.ext_key);
        k.optional("external_key.mailbox", &x.mailbox);
        k.other("external_key.own_system", CatalogValue, &x.own_system);

        let d = &self.document;
        k.table("document.table", &d.table, "document.short", &d.short);
        k.field("document.file_name", &d.file_name);
        k.field("document.content_type", &d.content_type);
        k.optional("document.size", &d.size);
        k.field("document.content", &d.content);

        let c = &self.catalog;
        k.table = Some(("catalog.table", &c.table));
        k.push(
            "catalog.table",
            NameKind::Table,
            false,
            KeyValue::Text(&c.table),
        );
        k.field("catalog.catalog", &c.catalog);
        k.optional("catalog.code", &c.code);
        k.field("catalog.text", &c.text);
        k.optional("catalog.ext_key", &c.ext_key);
        k.other(
            "catalog.content_type_catalog",
            Catalog,
            &c.content_type_catalog,
        );
        k.other("catalog.ext_system_catalog", Catalog, &c.ext_system_catalog);
        k.other(
            "catalog.activity_type_catalog",
            Catalog,
            &c.activity_type_catalog,
        );
        k.other("catalog.show_as_catalog", Catalog, &c.show_as_catalog);
        k.out
    }

    /// The key that configures a name CRM.interface does not know: the field `field` of
    /// table `table`, or the table itself when no field is given. `None` when the name does
    /// not come from the dialect (forms.xml fields, for example).
    pub fn key_for_name(&self, table: Option<&str>, field: Option<&str>) -> Option<DialectKey<'_>> {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let keys = self.keys();
        match field.filter(|f| !f.is_empty()) {
            Some(field) => keys.into_iter().find(|k| {
                k.kind == NameKind::Field
                    && k.names().iter().any(|n| same(n, field))
                    && table.is_none_or(|t| k.table.is_some_and(|kt| same(kt, t)))
            }),
            None => {
                let table = table?;
                keys.into_iter()
                    .find(|k| k.kind == NameKind::Table && k.names().iter().any(|n| same(n, table)))
            }
        }
    }

    /// What is wrong with a configured dialect: `(dotted key, message)` per problem. Required
    /// names must not be empty, table and field names must be XML names, the date and time
    /// formats must read back what they write.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for k in self.keys() {
            let names: Vec<&str> = match k.value {
                KeyValue::Text(t) => vec![t],
                KeyValue::List(l) => l.iter().map(String::as_str).collect(),
            };
            if !k.optional && k.names().is_empty() {
                out.push((
                    k.key.to_owned(),
                    if matches!(k.value, KeyValue::List(_)) {
                        "must name at least one field".to_owned()
                    } else {
                        "must not be empty".to_owned()
                    },
                ));
                continue;
            }
            if matches!(k.kind, NameKind::Table | NameKind::Field | NameKind::Short) {
                for n in names.iter().filter(|n| !n.is_empty()) {
                    if !crate::dom::is_valid_name(n) {
                        out.push((
                            k.key.to_owned(),
                            format!("{n:?} is not a table or field name (letters, digits, `_`, `-`, `.`; not starting with a digit)"),
                        ));
                    }
                }
                if matches!(k.value, KeyValue::List(_)) && names.iter().any(|n| n.is_empty()) {
                    out.push((k.key.to_owned(), "an entry of the list is empty".to_owned()));
                }
            }
        }
        if self.true_value.eq_ignore_ascii_case(&self.false_value) {
            out.push((
                "false_value".to_owned(),
                "the same as `true_value`".to_owned(),
            ));
        }
        if self.impersonate_key.contains(['=', ';']) {
            out.push((
                "impersonate_key".to_owned(),
                "must not contain `=` or `;`".to_owned(),
            ));
        }
        if !super::CHILD_RECORDS
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&self.child_records))
        {
            out.push((
                "child_records".to_owned(),
                format!(
                    "{:?} is neither \"separate\" nor \"nested\"",
                    self.child_records
                ),
            ));
        }
        let sample_date = jiff::civil::date(2026, 11, 27);
        if self.parse_date(&self.format_date(sample_date)) != Some(sample_date) {
            out.push((
                "date_format".to_owned(),
                format!(
                    "{:?} does not read back the date it writes (e.g. \"%Y-%m-%d\" or \"%d.%m.%Y\")",
                    self.date_format
                ),
            ));
        }
        let sample_time = jiff::civil::time(17, 45, 0, 0);
        if self.parse_time(&self.format_time(sample_time)) != Some(sample_time) {
            out.push((
                "time_format".to_owned(),
                format!(
                    "{:?} does not read back the time it writes (e.g. \"%H:%M\")",
                    self.time_format
                ),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }

    #[test]
    fn the_key_list_covers_every_setting_once() {
        let d = Dialect::default();
        let mut serde_keys = BTreeSet::new();
        flatten("", &serde_json::to_value(&d).unwrap(), &mut serde_keys);
        let listed: Vec<&str> = d.keys().iter().map(|k| k.key).collect();
        let unique: BTreeSet<String> = listed.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(unique.len(), listed.len(), "a key is listed twice");
        assert_eq!(unique, serde_keys);
        assert!(d.problems().is_empty(), "{:?}", d.problems());
    }

    #[test]
    fn names_lead_to_their_keys() {
        let d = Dialect::default();
        let k = d
            .key_for_name(Some("ExternalKey"), Some("Mailbox"))
            .unwrap();
        assert_eq!(k.key, "external_key.mailbox");
        assert!(k.fix().contains("[crm.dialect.external_key] mailbox"));
        assert!(
            k.fix().contains("\"\""),
            "optional keys say so: {}",
            k.fix()
        );
        // Company is both a table and the company name field: the table wins without a field.
        assert_eq!(
            d.key_for_name(Some("Company"), None).unwrap().key,
            "company.table"
        );
        assert_eq!(
            d.key_for_name(Some("Company"), Some("Company"))
                .unwrap()
                .key,
            "company.name"
        );
        assert_eq!(
            d.key_for_name(Some("person"), Some("email2")).unwrap().key,
            "person.emails"
        );
        assert_eq!(
            d.key_for_name(Some("CatalogValue"), None).unwrap().key,
            "catalog.table"
        );
        assert!(d.key_for_name(Some("Contact"), Some("F5021")).is_none());
        let r = d
            .key_for_name(Some("Rep"), Some("ConnectorEnabled"))
            .unwrap();
        assert!(!r.fix().contains("\"\""), "required keys cannot be emptied");
    }

    #[test]
    fn problems_name_the_key() {
        let mut d = Dialect::default();
        d.rep.table = String::new();
        d.external_key.mailbox = String::new();
        d.activity.subject = "Sub ject".into();
        d.person.emails = Vec::new();
        d.date_format = "%Y".into();
        d.false_value = "TRUE".into();
        let p = d.problems();
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(p.len(), 5, "{p:?}");
        for want in [
            "rep.table",
            "person.emails",
            "activity.subject",
            "date_format",
            "false_value",
        ] {
            assert!(keys.contains(&want), "{want} missing in {p:?}");
        }
        assert!(!keys.contains(&"external_key.mailbox"), "optional: {p:?}");
    }
}
