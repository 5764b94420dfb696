//! A query: its names translated, the tables it names read once, the nested levels walked
//! (links to the parent, condition, `maxrecords`, the fields asked for under their wire names)
//! and the result records written out. Apart from writes because the two share nothing but
//! the catalogs and the errors.

use std::collections::HashMap;

use super::catalogs::{cat_render, catalog_records};
use super::conditions::eval;
use super::{CmdError, db_err};
use crate::crm::db::{Db, StoredRecord};
use crate::crm::names::CrmDialect;
use crate::crm::schema::{CATALOG_TABLE, TableDef, table_def};
use crate::crm::translate;
use crate::crm::wire::{Out, QueryCmd, TableNode};

/// `(name, value, attributes)` of a field in a response record.
type OutField = (String, String, Vec<(&'static str, String)>);

pub(crate) struct Node {
    label: String,
    short: &'static str,
    id: u64,
    fields: Vec<OutField>,
    links: Vec<(String, u64)>,
    children: Vec<Node>,
}

pub(super) fn write_node(out: &mut Out, n: &Node) {
    out.open(
        &n.label,
        &[("tableshort", n.short.to_owned()), ("id", n.id.to_string())],
        false,
    );
    for (k, v, attrs) in &n.fields {
        out.text_element(k, attrs, v);
    }
    for (t, id) in &n.links {
        out.open(
            "link",
            &[("tablename", t.clone()), ("id", id.to_string())],
            true,
        );
    }
    for c in &n.children {
        write_node(out, c);
    }
    out.close(&n.label);
}

type Cache = HashMap<String, std::sync::Arc<Vec<StoredRecord>>>;

fn collect_tables(t: &TableNode, names: &mut Vec<String>) {
    names.push(t.name.clone());
    for c in &t.children {
        collect_tables(c, names);
    }
}

pub(super) async fn query(
    db: &Db,
    dialect: &CrmDialect,
    q: &QueryCmd,
) -> Result<Vec<Node>, CmdError> {
    let q = &translate::query_in(dialect, q)?;
    let mut names = Vec::new();
    collect_tables(&q.table, &mut names);
    let mut cache: Cache = HashMap::new();
    for n in names {
        if cache.contains_key(&n) {
            continue;
        }
        if table_def(&n).is_none() {
            return Err(CmdError::new(400, format!("unknown table {n:?}")).table(&n));
        }
        let recs = if n == CATALOG_TABLE {
            std::sync::Arc::new(catalog_records(db).await?)
        } else {
            db.table(&n).await.map_err(db_err)?
        };
        cache.insert(n, recs);
    }
    let catalogs = db.catalogs().await.map_err(db_err)?;
    let mut by_catalog: HashMap<String, Vec<super::db::CatalogEntry>> = HashMap::new();
    for e in catalogs {
        by_catalog.entry(e.catalog.clone()).or_default().push(e);
    }
    let cx = QCx {
        q,
        names: dialect,
        cache: &cache,
        catalogs: &by_catalog,
    };
    Ok(cx.level(&q.table, None, q.max))
}

struct QCx<'a> {
    q: &'a QueryCmd,
    names: &'a CrmDialect,
    cache: &'a Cache,
    catalogs: &'a HashMap<String, Vec<super::db::CatalogEntry>>,
}

impl QCx<'_> {
    fn value(&self, def: &TableDef, r: &StoredRecord, field: &str) -> String {
        match field {
            "StatNo" => return r.stat_no.to_string(),
            "SeqNo" => return r.seq_no.to_string(),
            _ => {}
        }
        let raw = r.fields.get(field).cloned().unwrap_or_default();
        match def.catalogs.iter().find(|(f, _)| *f == field) {
            Some((_, cat)) => cat_render(
                self.catalogs.get(*cat).map(Vec::as_slice).unwrap_or(&[]),
                self.q.cat,
                &raw,
            ),
            None => raw,
        }
    }

    fn level(&self, t: &TableNode, parent: Option<(&str, u64)>, max: Option<usize>) -> Vec<Node> {
        let Some(def) = table_def(&t.name) else {
            return Vec::new();
        };
        let Some(recs) = self.cache.get(&t.name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in recs.iter() {
            if r.deleted {
                continue;
            }
            if let Some((pt, pid)) = parent
                && !r.links.iter().any(|(lt, lid)| lt == pt && *lid == pid)
            {
                continue;
            }
            if let Some(c) = &self.q.cond {
                let f = |field: &str| self.value(def, r, field);
                if eval(c, t.label(), &t.name, &f) == Some(false) {
                    continue;
                }
            }
            if max.is_some_and(|m| out.len() >= m) {
                break;
            }
            let wanted = self
                .q
                .fields
                .get(t.label())
                .or_else(|| self.q.fields.get(&t.name));
            let names: Vec<String> = match wanted {
                Some(list) => list.clone(),
                None => r.fields.keys().cloned().collect(),
            };
            let mut fields = Vec::new();
            for name in names {
                if name != "StatNo" && name != "SeqNo" && !r.fields.contains_key(&name) {
                    continue;
                }
                // a field this installation does not have is never shown
                let Some(wire) = self.names.field_out(def.name, &name) else {
                    continue;
                };
                let v = self
                    .names
                    .value_out(def.name, &name, &self.value(def, r, &name));
                let attrs = if def.name == "Document" && name == "Content" {
                    vec![("encoding", "base64".to_owned())]
                } else {
                    Vec::new()
                };
                fields.push((wire.to_owned(), v, attrs));
            }
            let children = t
                .children
                .iter()
                .flat_map(|c| self.level(c, Some((def.name, r.id)), None))
                .collect();
            out.push(Node {
                label: t
                    .alias
                    .clone()
                    .unwrap_or_else(|| self.names.table_out(def.name).to_owned()),
                short: def.short,
                id: r.id,
                fields,
                links: r
                    .links
                    .iter()
                    .map(|(t, id)| (self.names.table_out(t).to_owned(), *id))
                    .collect(),
                children,
            });
        }
        out
    }
}
