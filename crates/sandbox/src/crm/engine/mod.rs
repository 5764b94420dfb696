//! Record semantics of the CRM sandbox: which tables exist, required fields, catalog
//! fields, links, soft delete, condition evaluation and nested queries.
//!
//! This file runs a command and writes its result and error returns; `queries` answers a
//! query with its nested tables, `conditions` evaluates a condition on one level, `writes`
//! inserts, updates, deletes and imports records, `catalogs` converts catalog values and
//! serves the catalog table.

mod catalogs;
mod conditions;
mod queries;
mod writes;

// `db` and `wire` themselves are imported too: the parts name `super::db::…` and
// `super::wire::…`, which resolve here to the CRM sandbox's modules.
use super::db::{self, Db};
use super::names::CrmDialect;
use super::wire::{self, Cmd, Out};
use queries::{query, write_node};
use writes::write;

/// Station number of records created through the interface (seeded data uses station 1).
pub(crate) const STATION: u32 = 2;

/// A per-command failure: `(code, text, tablename, fieldname)`.
#[derive(Debug, Clone)]
pub(crate) struct CmdError {
    pub code: u16,
    pub text: String,
    pub table: Option<String>,
    pub field: Option<String>,
    /// `table`/`field` are already the names the client sent (not stored names).
    pub on_wire: bool,
}

impl CmdError {
    pub(crate) fn new(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            text: text.into(),
            table: None,
            field: None,
            on_wire: false,
        }
    }
    pub(crate) fn table(mut self, t: &str) -> Self {
        self.table = Some(t.to_owned());
        self
    }
    pub(crate) fn field(mut self, f: &str) -> Self {
        self.field = Some(f.to_owned());
        self
    }
    pub(crate) fn wire(mut self) -> Self {
        self.on_wire = true;
        self
    }
}

fn db_err(e: sqlx::Error) -> CmdError {
    CmdError::new(511, format!("database failure: {e}"))
}

fn write_error(out: &mut Out, names: &CrmDialect, e: &CmdError) {
    let mut attrs = vec![
        ("type", "error".to_owned()),
        ("code", e.code.to_string()),
        ("text", e.text.clone()),
    ];
    let (table, field) = if e.on_wire {
        (e.table.clone(), e.field.clone())
    } else {
        let table = e.table.as_deref().map(|t| names.table_out(t).to_owned());
        let field = match (&e.table, &e.field) {
            (Some(t), Some(f)) => Some(names.field_out(t, f).unwrap_or(f).to_owned()),
            (None, f) => f.clone(),
            _ => None,
        };
        (table, field)
    };
    if let Some(t) = table {
        attrs.push(("tablename", t));
    }
    if let Some(f) = field {
        attrs.push(("fieldname", f));
    }
    out.ret(&attrs);
}

/// Executes one command and appends its result element.
pub(crate) async fn run(db: &Db, names: &CrmDialect, cmd: &Cmd, out: &mut Out) {
    match cmd {
        Cmd::Nop => {
            out.open("nop", &[], false);
            out.ret(&[("type", "ok".into())]);
            out.close("nop");
        }
        Cmd::Bad(name, code, text) => {
            // `name` is an element name read by the XML parser, so it can be written back
            out.open(name, &[], false);
            write_error(out, names, &CmdError::new(*code, text.clone()));
            out.close(name);
        }
        Cmd::Query(q) => {
            out.open("query", &[], false);
            match query(db, names, q).await {
                Ok(nodes) => {
                    let n = nodes.len();
                    for node in &nodes {
                        write_node(out, node);
                    }
                    out.ret(&[("type", "ok".into()), ("count", n.to_string())]);
                }
                Err(e) => write_error(out, names, &e),
            }
            out.close("query");
        }
        Cmd::Write { kind, cat, records } => {
            out.open(kind.name(), &[], false);
            for r in records {
                let parent = write(db, names, *kind, *cat, r).await;
                let parent_id = parent.as_ref().ok().map(|(_, _, id)| *id);
                write_return(out, names, parent);
                // Nested children follow their parent, linked to it; none without it (nor
                // in an installation that does not nest, which ignores them).
                let Some(parent_id) = parent_id else {
                    continue;
                };
                if names.convention("child_records") != "nested" {
                    continue;
                }
                for c in &r.children {
                    let mut c = c.clone();
                    c.links.push((r.table.clone(), parent_id));
                    let res = write(db, names, *kind, *cat, &c).await;
                    write_return(out, names, res);
                }
            }
            out.close(kind.name());
        }
    }
}

/// The `<return>` of one written record.
fn write_return(
    out: &mut Out,
    names: &CrmDialect,
    r: Result<(&'static str, String, u64), CmdError>,
) {
    match r {
        Ok((ty, table, id)) => {
            let code = if ty == "insert" { 201 } else { 200 };
            out.ret(&[
                ("type", ty.to_owned()),
                ("code", code.to_string()),
                ("tablename", names.table_out(&table).to_owned()),
                ("id", id.to_string()),
            ]);
        }
        Err(e) => write_error(out, names, &e),
    }
}
