//! A request's names, from the wire to the stored ones ([`CrmDialect`]). A table or field
//! this installation does not have is refused here with 400 and the name as the client sent
//! it (`tablename`/`fieldname`), before anything is read or written.

use std::collections::BTreeMap;

use super::engine::CmdError;
use super::names::CrmDialect;
use super::wire::{Cond, InField, InRecord, QueryCmd, TableNode};

fn unknown_table(d: &CrmDialect, wire: &str) -> CmdError {
    CmdError::new(400, d.unknown_text("table", wire, ""))
        .table(wire)
        .wire()
}

fn unknown_field(d: &CrmDialect, table: &str, field: &str) -> CmdError {
    CmdError::new(400, d.unknown_text("field", field, table))
        .table(table)
        .field(field)
        .wire()
}

/// `(wire label, stored table, new label)` of every table of a query tree.
type Labels = Vec<(String, &'static str, String)>;

fn table_in(d: &CrmDialect, t: &TableNode, labels: &mut Labels) -> Result<TableNode, CmdError> {
    let canonical = d
        .table_in(&t.name)
        .ok_or_else(|| unknown_table(d, &t.name))?;
    let wire_label = t.alias.clone().unwrap_or_else(|| t.name.clone());
    let new_label = t.alias.clone().unwrap_or_else(|| canonical.to_owned());
    labels.push((wire_label, canonical, new_label));
    let children = t
        .children
        .iter()
        .map(|c| table_in(d, c, labels))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TableNode {
        name: canonical.to_owned(),
        alias: t.alias.clone(),
        children,
    })
}

/// The stored table and the label a wire label (alias or table name) stands for.
fn resolve(
    d: &CrmDialect,
    labels: &Labels,
    wire: &str,
) -> Result<(&'static str, String), CmdError> {
    if let Some((_, canonical, label)) = labels.iter().find(|(w, _, _)| w == wire) {
        return Ok((canonical, label.clone()));
    }
    let canonical = d.table_in(wire).ok_or_else(|| unknown_table(d, wire))?;
    Ok((canonical, canonical.to_owned()))
}

fn cond_in(d: &CrmDialect, labels: &Labels, c: &Cond) -> Result<Cond, CmdError> {
    Ok(match c {
        Cond::Cmp {
            table,
            field,
            op,
            value,
        } => {
            let (canonical, label) = resolve(d, labels, table)?;
            let f = d
                .field_in(canonical, field)
                .ok_or_else(|| unknown_field(d, table, field))?;
            Cond::Cmp {
                table: label,
                value: d.value_in(canonical, &f, value),
                field: f,
                op: op.clone(),
            }
        }
        Cond::And(items) => Cond::And(
            items
                .iter()
                .map(|i| cond_in(d, labels, i))
                .collect::<Result<_, _>>()?,
        ),
        Cond::Or(items) => Cond::Or(
            items
                .iter()
                .map(|i| cond_in(d, labels, i))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A query with stored names.
pub(crate) fn query_in(d: &CrmDialect, q: &QueryCmd) -> Result<QueryCmd, CmdError> {
    let mut labels = Vec::new();
    let table = table_in(d, &q.table, &mut labels)?;
    let cond = q
        .cond
        .as_ref()
        .map(|c| cond_in(d, &labels, c))
        .transpose()?;
    let mut fields = BTreeMap::new();
    for (wire, list) in &q.fields {
        let (canonical, label) = resolve(d, &labels, wire)?;
        let names = list
            .iter()
            .map(|f| {
                d.field_in(canonical, f)
                    .ok_or_else(|| unknown_field(d, wire, f))
            })
            .collect::<Result<Vec<_>, _>>()?;
        fields.insert(label, names);
    }
    Ok(QueryCmd {
        table,
        cond,
        fields,
        max: q.max,
        cat: q.cat,
    })
}

/// A record to write, with stored names and values.
pub(crate) fn record_in(d: &CrmDialect, r: &InRecord) -> Result<InRecord, CmdError> {
    let table = d
        .table_in(&r.table)
        .ok_or_else(|| unknown_table(d, &r.table))?;
    let mut fields = Vec::with_capacity(r.fields.len());
    for f in &r.fields {
        let name = d
            .field_in(table, &f.name)
            .ok_or_else(|| unknown_field(d, &r.table, &f.name))?;
        let value = if f.encoding.is_some() {
            f.value.clone()
        } else {
            d.value_in(table, &name, &f.value)
        };
        fields.push(InField {
            name,
            value,
            matchup: f.matchup,
            encoding: f.encoding.clone(),
        });
    }
    let links = r
        .links
        .iter()
        .map(|(t, id)| {
            d.table_in(t)
                .map(|c| (c.to_owned(), *id))
                .ok_or_else(|| unknown_table(d, t).table(&r.table))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(InRecord {
        table: table.to_owned(),
        id: r.id,
        fields,
        links,
        children: Vec::new(),
    })
}
