//! The schema probe: does this CRM.interface know every table and field the connector will
//! use, under the names of the configured [`Dialect`]?
//!
//! For every table the enabled kinds read or write, one query names every field the
//! connector uses and returns at most one record; all tables go in one request. A table
//! whose query fails is probed again field by field (one query per field, again in one
//! request), so that every unknown field is reported, not just the first. CRM.interface
//! documents no transaction or rollback, so the probe never writes: a query that names a
//! field is refused when the field does not exist, which is what the probe needs.
//!
//! `check` reports each finding as a failed line; `sync` runs the same probe before any
//! mailbox is worked and stops on a finding (a configuration error is not an item's).

use crate::catalogs::{CatalogValue, catalog_query, catalog_values_of};
use crate::client::CrmClient;
use crate::codec::{CatalogMode, Command, CommandResult, FieldList, Query, TableSpec};
use crate::dialect::{Dialect, DialectKey, NameKind, required_catalog_values};
use crate::error::{CrmError, ErrorKind};

/// The kinds whose tables are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    pub emails: bool,
    pub appointments: bool,
    pub tasks: bool,
    pub contacts: bool,
    pub absences: bool,
}

impl Default for Kinds {
    /// Every kind.
    fn default() -> Self {
        Kinds {
            emails: true,
            appointments: true,
            tasks: true,
            contacts: true,
            absences: true,
        }
    }
}

/// A field the connector uses that does not come from the dialect (forms.xml's vevent
/// form, the missing-participants block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraField {
    /// Dotted dialect key of its table (`activity.table`).
    pub table_key: String,
    /// The field.
    pub field: String,
    /// Where the name comes from, e.g. `forms.xml <form type='vevent'>`.
    pub source: String,
}

/// One field to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeField {
    /// The name sent.
    pub name: String,
    /// Where it is configured: `[crm.dialect.external_key] mailbox`, or the extra source.
    pub origin: String,
    /// What to change when CRM.interface does not know it.
    pub fix: String,
}

/// One table to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProbe {
    /// The configured table name.
    pub table: String,
    /// `[crm.dialect.external_key] table`.
    pub origin: String,
    /// What to change when CRM.interface does not know the table.
    pub fix: String,
    /// Every field the connector uses.
    pub fields: Vec<ProbeField>,
}

/// Something CRM.interface does not know (or cannot read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where the name is configured (a `[crm.dialect]` key or another source).
    pub origin: String,
    /// What was found: the value and what CRM.interface answered.
    pub cause: String,
    /// What to change.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; {}", self.origin, self.cause, self.fix)
    }
}

fn sections(kinds: Kinds) -> Vec<&'static str> {
    let mut out = vec!["rep", "catalog"];
    let mut add = |s: &'static str| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    if kinds.emails {
        for s in [
            "company",
            "person",
            "activity",
            "participant",
            "external_key",
            "document",
        ] {
            add(s);
        }
    }
    if kinds.appointments {
        for s in [
            "company",
            "person",
            "activity",
            "appointment",
            "participant",
            "external_key",
        ] {
            add(s);
        }
    }
    if kinds.tasks {
        add("task");
        add("external_key");
    }
    if kinds.contacts {
        add("person");
        add("company");
        // the selection reads the rep's recent activities and their participants
        add("activity");
        add("participant");
    }
    if kinds.absences {
        add("absence");
        add("external_key");
    }
    out
}

/// The tables (with their fields) the enabled kinds read or write, in dialect order.
pub fn table_probes(dialect: &Dialect, kinds: Kinds, extra: &[ExtraField]) -> Vec<TableProbe> {
    let wanted = sections(kinds);
    let keys = dialect.keys();
    let mut out: Vec<(&'static str, TableProbe)> = Vec::new();
    for k in &keys {
        let Some(section) = k.section() else { continue };
        if !wanted.contains(&section) {
            continue;
        }
        match k.kind {
            NameKind::Table => out.push((
                k.key,
                TableProbe {
                    table: k
                        .names()
                        .first()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    origin: k.toml_key(),
                    fix: k.fix(),
                    fields: Vec::new(),
                },
            )),
            NameKind::Field => {
                if let Some(t) = out.iter_mut().find(|(tk, _)| Some(*tk) == k.table_key) {
                    for n in k.names() {
                        push_field(&mut t.1, n, k);
                    }
                }
            }
            _ => {}
        }
    }
    for e in extra {
        if let Some((_, t)) = out.iter_mut().find(|(tk, _)| *tk == e.table_key)
            && !e.field.is_empty()
            && !matches!(e.field.as_str(), "StatNo" | "SeqNo")
            && !t
                .fields
                .iter()
                .any(|f| f.name.eq_ignore_ascii_case(&e.field))
        {
            t.fields.push(ProbeField {
                name: e.field.clone(),
                origin: format!("{} ({})", e.field, e.source),
                fix: format!(
                    "correct or remove the field {:?} in {}, or create it in CRM",
                    e.field, e.source
                ),
            });
        }
    }
    out.into_iter().map(|(_, t)| t).collect()
}

fn push_field(t: &mut TableProbe, name: &str, k: &DialectKey<'_>) {
    if !t.fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
        t.fields.push(ProbeField {
            name: name.to_owned(),
            origin: k.toml_key(),
            fix: k.fix(),
        });
    }
}

fn probe_query(table: &str, fields: Vec<String>) -> Command {
    Command::Query(Query {
        table: TableSpec::new(table),
        condition: None,
        fields: vec![FieldList {
            tablename: table.to_owned(),
            fields,
        }],
        max_records: Some(1),
        catalogs: CatalogMode::Text,
    })
}

/// Runs the probe as the master user. `Err` when CRM.interface cannot be asked at all
/// (unreachable, login refused); otherwise one finding per unknown table or field (empty:
/// everything is known).
pub async fn probe_schema(
    client: &CrmClient,
    tables: &[TableProbe],
) -> Result<Vec<Finding>, CrmError> {
    let resp = client.execute(None, probe_commands(tables)).await?;
    if resp.results.len() != tables.len() {
        return Err(CrmError::MalformedResponse(format!(
            "{} probe queries sent, {} results received",
            tables.len(),
            resp.results.len()
        )));
    }
    schema_findings(client, tables, &resp.results).await
}

/// One query per table, naming every field of it.
fn probe_commands(tables: &[TableProbe]) -> Vec<Command> {
    tables
        .iter()
        .map(|t| probe_query(&t.table, t.fields.iter().map(|f| f.name.clone()).collect()))
        .collect()
}

/// The findings of the table probes' `results` (one per table, in order); a table whose
/// query failed for another reason than its name is probed again field by field.
async fn schema_findings(
    client: &CrmClient,
    tables: &[TableProbe],
    results: &[CommandResult],
) -> Result<Vec<Finding>, CrmError> {
    let dialect = client.dialect();
    // (table index, finding): reported in the order of the tables
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    let mut retry = Vec::new();
    for (i, (t, r)) in tables.iter().zip(results).enumerate() {
        let Some(ret) = r.error() else { continue };
        let err = dialect.item_error(ret);
        let unknown_table = matches!(&err, CrmError::UnknownName { field: None, table, .. }
            if table.as_deref().is_none_or(|n| n.eq_ignore_ascii_case(&t.table)));
        if unknown_table {
            findings.push((
                i,
                Finding {
                    origin: t.origin.clone(),
                    cause: format!(
                        "CRM.interface does not know the table {:?}: {}",
                        t.table,
                        detail(&err)
                    ),
                    fix: t.fix.clone(),
                },
            ));
        } else {
            retry.push((i, t, err));
        }
    }
    if !retry.is_empty() {
        findings.extend(probe_fields(client, &retry).await?);
    }
    findings.sort_by_key(|(i, _)| *i);
    Ok(findings.into_iter().map(|(_, f)| f).collect())
}

/// Field by field, for the tables whose query failed: one query per field, in one request.
async fn probe_fields(
    client: &CrmClient,
    retry: &[(usize, &TableProbe, CrmError)],
) -> Result<Vec<(usize, Finding)>, CrmError> {
    let dialect = client.dialect();
    let mut commands = Vec::new();
    for (_, t, _) in retry {
        for f in &t.fields {
            commands.push(probe_query(&t.table, vec![f.name.clone()]));
        }
    }
    let sent = commands.len();
    let resp = client.execute(None, commands).await?;
    if resp.results.len() != sent {
        return Err(CrmError::MalformedResponse(format!(
            "{sent} probe queries sent, {} results received",
            resp.results.len()
        )));
    }
    let mut out = Vec::new();
    let mut results = resp.results.iter();
    for (i, t, table_err) in retry {
        let mut found = false;
        for f in &t.fields {
            let Some(ret) = results.next().and_then(|r| r.error()) else {
                continue;
            };
            let err = dialect.item_error(ret);
            if err.kind() != ErrorKind::UnknownName {
                // not a name problem (e.g. no read permission): the table line says it once
                continue;
            }
            found = true;
            out.push((
                *i,
                Finding {
                    origin: f.origin.clone(),
                    cause: format!(
                        "CRM.interface does not accept the field {:?} of table {:?}: {}",
                        f.name,
                        t.table,
                        detail(&err)
                    ),
                    fix: f.fix.clone(),
                },
            ));
        }
        if !found {
            out.push((
                *i,
                Finding {
                    origin: t.origin.clone(),
                    cause: format!(
                        "the table {:?} cannot be read: {}",
                        t.table,
                        detail(table_err)
                    ),
                    fix: "give the master user read access to this table, or correct its name"
                        .into(),
                },
            ));
        }
    }
    Ok(out)
}

/// The error text without the fix (the finding carries its own).
fn detail(e: &CrmError) -> String {
    match e {
        CrmError::UnknownName { code, text, .. } | CrmError::Rejected { code, text, .. } => {
            format!("{code}: {text}")
        }
        other => other.to_string(),
    }
}

/// The required catalogs ("Content Type (groupware)", "Ext. System (Rep)"), read through the
/// configured names: a catalog without any value is misnamed or unreadable.
pub async fn probe_catalogs(client: &CrmClient) -> Result<Vec<Finding>, CrmError> {
    let mut out = Vec::new();
    for (catalog, _) in required_catalog_values(client.dialect()) {
        let values = client.master().catalog_values(&catalog).await?;
        out.extend(catalog_finding(client.dialect(), &catalog, &values));
    }
    Ok(out)
}

/// The finding for a required catalog that has none of `values`.
fn catalog_finding(dialect: &Dialect, catalog: &str, values: &[CatalogValue]) -> Option<Finding> {
    if !values.is_empty() {
        return None;
    }
    let keys = dialect.keys();
    let key = keys
        .iter()
        .find(|k| k.kind == NameKind::Catalog && k.names().contains(&catalog));
    Some(Finding {
        origin: key.map_or_else(|| "[crm.dialect.catalog]".to_owned(), |k| k.toml_key()),
        cause: format!(
            "the catalog {catalog:?} has no values: it does not exist under this name or cannot be read"
        ),
        fix: key.map_or_else(
            || "set the catalog names in [crm.dialect.catalog]".to_owned(),
            |k| {
                format!(
                    "{}, and give the master user read access to catalogs",
                    k.fix()
                )
            },
        ),
    })
}

/// Whether a finding is about the catalog table (then no catalog can be read).
fn catalog_table_unknown(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.origin.starts_with("[crm.dialect.catalog]"))
}

/// What `sync` runs before any mailbox is worked: the schema probe and the required catalogs,
/// in one request (the master user's requests are answered one at a time, and this one is in
/// front of every mailbox's first). A catalog query fails when the catalog table is unknown;
/// the schema finding says so, and the catalogs are not judged. `Ok(findings)`: empty when
/// the configuration fits this CRM.interface.
pub async fn preflight(
    client: &CrmClient,
    kinds: Kinds,
    extra: &[ExtraField],
) -> Result<Vec<Finding>, CrmError> {
    let dialect = client.dialect();
    let tables = table_probes(dialect, kinds, extra);
    let catalogs = required_catalog_values(dialect);
    let mut commands = probe_commands(&tables);
    commands.extend(
        catalogs
            .iter()
            .map(|(c, _)| Command::Query(catalog_query(dialect, c))),
    );
    let sent = commands.len();
    let resp = client.execute(None, commands).await?;
    if resp.results.len() != sent {
        // A CRM.interface that stops at a failing command answers fewer results: ask again
        // the way `check` does, the tables first and then the catalogs, each on its own.
        let mut findings = probe_schema(client, &tables).await?;
        if !catalog_table_unknown(&findings) {
            findings.extend(probe_catalogs(client).await?);
        }
        return Ok(findings);
    }
    let (schema, of_catalogs) = resp.results.split_at(tables.len());
    let mut findings = schema_findings(client, &tables, schema).await?;
    if !catalog_table_unknown(&findings) {
        for ((catalog, _), r) in catalogs.iter().zip(of_catalogs) {
            if let Some(e) = r.error() {
                return Err(dialect.item_error(e));
            }
            let values = catalog_values_of(dialect, catalog, &r.records);
            findings.extend(catalog_finding(dialect, catalog, &values));
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_follow_the_enabled_kinds() {
        let d = Dialect::default();
        let only_mail = Kinds {
            emails: true,
            appointments: false,
            tasks: false,
            contacts: false,
            absences: false,
        };
        let extra = vec![ExtraField {
            table_key: "activity.table".into(),
            field: "MissingParticipants".into(),
            source: "the missing-participants block".into(),
        }];
        let t = table_probes(&d, only_mail, &extra);
        let names: Vec<&str> = t.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(
            names,
            [
                "Rep",
                "Company",
                "Person",
                "Contact",
                "Participant",
                "ExternalKey",
                "Document",
                "CatalogValue"
            ]
        );
        let xk = t.iter().find(|t| t.table == "ExternalKey").unwrap();
        let mailbox = xk.fields.iter().find(|f| f.name == "Mailbox").unwrap();
        assert_eq!(mailbox.origin, "[crm.dialect.external_key] mailbox");
        let contact = t.iter().find(|t| t.table == "Contact").unwrap();
        assert!(
            contact
                .fields
                .iter()
                .any(|f| f.name == "MissingParticipants"
                    && f.origin.contains("missing-participants"))
        );
        let person = t.iter().find(|t| t.table == "Person").unwrap();
        assert!(person.fields.iter().any(|f| f.name == "EMail2"));

        let mut d2 = d.clone();
        d2.external_key.mailbox = String::new();
        let all = table_probes(&d2, Kinds::default(), &[]);
        assert!(
            all.iter().any(|t| t.table == "Tasks") && all.iter().any(|t| t.table == "Absences")
        );
        let xk = all.iter().find(|t| t.table == "ExternalKey").unwrap();
        assert!(
            !xk.fields
                .iter()
                .any(|f| f.name.is_empty() || f.name == "Mailbox")
        );
    }
}
