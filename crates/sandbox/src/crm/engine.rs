//! Record semantics of the CRM sandbox: which tables exist, required fields, catalog
//! fields, links, soft delete, condition evaluation and nested queries.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;

use super::db::{Db, StoredRecord};
use super::names::CrmDialect;
use super::schema::{CATALOG_TABLE, TableDef, table_def};
use super::translate;
use super::wire::{CatMode, Cmd, Cond, InRecord, Out, QueryCmd, TableNode, WriteKind};

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

// ---------------------------------------------------------------------------------------
// catalogs

async fn cat_to_code(
    db: &Db,
    names: &CrmDialect,
    catalog: &str,
    mode: CatMode,
    value: &str,
) -> Result<Option<u32>, CmdError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let entries = db.catalog(catalog).await.map_err(db_err)?;
    let found = entries.iter().find(|e| match mode {
        CatMode::Text => e.text.eq_ignore_ascii_case(v),
        CatMode::ByNum => v.parse::<u32>().is_ok_and(|c| c == e.code),
        CatMode::ExKeys => e.ext_key == v,
    });
    match found {
        Some(e) => Ok(Some(e.code)),
        None => Err(CmdError::new(
            500,
            format!(
                "catalog value {v:?} does not exist in catalog {:?}",
                names.catalog_out(catalog)
            ),
        )),
    }
}

fn cat_render(entries: &[super::db::CatalogEntry], mode: CatMode, stored: &str) -> String {
    let Ok(code) = stored.trim().parse::<u32>() else {
        return stored.to_owned();
    };
    match entries.iter().find(|e| e.code == code) {
        Some(e) => match mode {
            CatMode::Text => e.text.clone(),
            CatMode::ByNum => e.code.to_string(),
            CatMode::ExKeys => e.ext_key.clone(),
        },
        // the value was removed from the catalog after the record was written
        None => match mode {
            CatMode::ByNum => code.to_string(),
            _ => String::new(),
        },
    }
}

// ---------------------------------------------------------------------------------------
// queries

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

fn write_node(out: &mut Out, n: &Node) {
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

fn norm_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "x" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

fn compare(actual: &str, op: &str, expected: &str) -> bool {
    use std::cmp::Ordering;
    let (a, e) = (actual.trim(), expected.trim());
    let ord = if matches!(e.to_ascii_lowercase().as_str(), "true" | "false") {
        norm_bool(a)
            .unwrap_or(false)
            .cmp(&norm_bool(e).unwrap_or(false))
    } else if let (Ok(x), Ok(y)) = (a.parse::<f64>(), e.parse::<f64>()) {
        x.partial_cmp(&y).unwrap_or(Ordering::Equal)
    } else {
        a.to_lowercase().cmp(&e.to_lowercase())
    };
    match op {
        "=" => ord == Ordering::Equal,
        "!=" | "<>" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => false,
    }
}

/// Evaluates the parts of a condition that concern this level (`label` = alias or table
/// name); `None` = nothing applies here.
fn eval(c: &Cond, label: &str, table: &str, value_of: &dyn Fn(&str) -> String) -> Option<bool> {
    match c {
        Cond::Cmp {
            table: t,
            field,
            op,
            value,
        } => {
            if t != label && t != table {
                return None;
            }
            Some(compare(&value_of(field), op, value))
        }
        Cond::And(items) => {
            let vals: Vec<bool> = items
                .iter()
                .filter_map(|i| eval(i, label, table, value_of))
                .collect();
            if vals.is_empty() {
                None
            } else {
                Some(vals.iter().all(|v| *v))
            }
        }
        Cond::Or(items) => {
            let vals: Vec<bool> = items
                .iter()
                .filter_map(|i| eval(i, label, table, value_of))
                .collect();
            if vals.is_empty() {
                None
            } else {
                Some(vals.iter().any(|v| *v))
            }
        }
    }
}

type Cache = HashMap<String, std::sync::Arc<Vec<StoredRecord>>>;

fn collect_tables(t: &TableNode, names: &mut Vec<String>) {
    names.push(t.name.clone());
    for c in &t.children {
        collect_tables(c, names);
    }
}

async fn catalog_records(db: &Db) -> Result<Vec<StoredRecord>, CmdError> {
    let all = db.catalogs().await.map_err(db_err)?;
    let mut out = Vec::new();
    for e in all {
        let catno = db.catalog_number(&e.catalog).await.map_err(db_err)?;
        let id = (u64::from(catno) << 32) | u64::from(e.code);
        out.push(StoredRecord {
            id,
            stat_no: catno,
            seq_no: e.code,
            table: CATALOG_TABLE.to_owned(),
            deleted: false,
            fields: BTreeMap::from([
                ("Catalog".to_owned(), e.catalog),
                ("Code".to_owned(), e.code.to_string()),
                ("Text".to_owned(), e.text),
                ("ExtKey".to_owned(), e.ext_key),
            ]),
            links: Vec::new(),
        });
    }
    Ok(out)
}

async fn query(db: &Db, dialect: &CrmDialect, q: &QueryCmd) -> Result<Vec<Node>, CmdError> {
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

// ---------------------------------------------------------------------------------------
// writes

/// Field values converted to their stored form (catalog codes, validated base64).
async fn stored_fields(
    db: &Db,
    names: &CrmDialect,
    def: &TableDef,
    cat: CatMode,
    r: &InRecord,
) -> Result<BTreeMap<String, String>, CmdError> {
    let mut out = BTreeMap::new();
    for f in &r.fields {
        if f.name == "StatNo" || f.name == "SeqNo" {
            continue; // assigned by the server
        }
        let value = match def.catalogs.iter().find(|(n, _)| *n == f.name) {
            Some((_, catalog)) => match cat_to_code(db, names, catalog, cat, &f.value).await {
                Ok(Some(code)) => code.to_string(),
                Ok(None) => String::new(),
                Err(e) => return Err(e.table(def.name).field(&f.name)),
            },
            None => f.value.clone(),
        };
        if let Some(enc) = &f.encoding {
            if !enc.eq_ignore_ascii_case("base64") {
                return Err(
                    CmdError::new(415, format!("encoding {enc:?} is not supported"))
                        .table(def.name)
                        .field(&f.name),
                );
            }
            let compact: String = f
                .value
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            if base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .is_err()
            {
                return Err(CmdError::new(400, "content is not valid base64")
                    .table(def.name)
                    .field(&f.name));
            }
            out.insert(f.name.clone(), compact);
            continue;
        }
        out.insert(f.name.clone(), value);
    }
    Ok(out)
}

async fn check_links(db: &Db, def: &TableDef, links: &[(String, u64)]) -> Result<(), CmdError> {
    for (t, id) in links {
        if table_def(t).is_none() {
            return Err(CmdError::new(400, format!("link to unknown table {t:?}")).table(def.name));
        }
        match db.get(*id).await.map_err(db_err)? {
            Some(p) if p.table == *t && !p.deleted => {}
            Some(p) if p.table == *t => {
                return Err(
                    CmdError::new(410, format!("linked {t} {id} has been deleted")).table(def.name),
                );
            }
            _ => {
                return Err(
                    CmdError::new(404, format!("linked {t} {id} does not exist")).table(def.name),
                );
            }
        }
    }
    if let Some(req) = def.required_link
        && !links.iter().any(|(t, _)| req == "*" || t == req)
    {
        let what = if req == "*" { "a record" } else { req };
        return Err(
            CmdError::new(412, format!("{} must be linked to {what}", def.name)).table(def.name),
        );
    }
    Ok(())
}

fn check_required(def: &TableDef, fields: &BTreeMap<String, String>) -> Result<(), CmdError> {
    for f in def.required {
        if fields.get(*f).is_none_or(|v| v.trim().is_empty()) {
            return Err(
                CmdError::new(500, "Permission denied (required field missing)")
                    .table(def.name)
                    .field(f),
            );
        }
    }
    Ok(())
}

fn merge_links(existing: &mut Vec<(String, u64)>, new: &[(String, u64)]) {
    for (t, id) in new {
        existing.retain(|(et, _)| et != t);
        existing.push((t.clone(), *id));
    }
}

async fn write(
    db: &Db,
    names: &CrmDialect,
    kind: WriteKind,
    cat: CatMode,
    r: &InRecord,
) -> Result<(&'static str, String, u64), CmdError> {
    let r = &translate::record_in(names, r)?;
    let def = table_def(&r.table).ok_or_else(|| {
        CmdError::new(400, format!("unknown table {:?}", r.table)).table(&r.table)
    })?;
    if def.name == CATALOG_TABLE {
        return write_catalog(db, kind, r).await;
    }
    match kind {
        WriteKind::Insert => insert(db, names, def, cat, r)
            .await
            .map(|id| ("insert", def.name.to_owned(), id)),
        WriteKind::Update => {
            let id = r.id.unwrap_or_default();
            update(db, names, def, cat, r, id)
                .await
                .map(|id| ("update", def.name.to_owned(), id))
        }
        WriteKind::Delete => {
            let id = r.id.unwrap_or_default();
            let mut rec = existing(db, def, id).await?;
            rec.deleted = true;
            db.save(&rec).await.map_err(db_err)?;
            Ok(("delete", def.name.to_owned(), id))
        }
        WriteKind::Import => {
            let keys: Vec<&super::wire::InField> = r.fields.iter().filter(|f| f.matchup).collect();
            if keys.is_empty() {
                return Err(CmdError::new(
                    412,
                    "import needs at least one field with matchup=\"true\"",
                )
                .table(def.name));
            }
            let wanted = stored_fields(db, names, def, cat, r).await?;
            let all = db.table(def.name).await.map_err(db_err)?;
            let found = all.iter().find(|rec| {
                !rec.deleted
                    && keys.iter().all(|k| {
                        let w = wanted.get(&k.name).map(String::as_str).unwrap_or_default();
                        rec.fields
                            .get(&k.name)
                            .is_some_and(|v| v.trim().eq_ignore_ascii_case(w.trim()))
                    })
            });
            match found {
                Some(rec) => update(db, names, def, cat, r, rec.id)
                    .await
                    .map(|id| ("update", def.name.to_owned(), id)),
                None => insert(db, names, def, cat, r)
                    .await
                    .map(|id| ("insert", def.name.to_owned(), id)),
            }
        }
    }
}

async fn existing(db: &Db, def: &TableDef, id: u64) -> Result<StoredRecord, CmdError> {
    match db.get(id).await.map_err(db_err)? {
        Some(rec) if rec.table == def.name && rec.deleted => {
            Err(CmdError::new(410, format!("{} {id} has been deleted", def.name)).table(def.name))
        }
        Some(rec) if rec.table == def.name => Ok(rec),
        _ => Err(CmdError::new(404, format!("{} {id} does not exist", def.name)).table(def.name)),
    }
}

async fn insert(
    db: &Db,
    names: &CrmDialect,
    def: &TableDef,
    cat: CatMode,
    r: &InRecord,
) -> Result<u64, CmdError> {
    let fields = stored_fields(db, names, def, cat, r).await?;
    check_required(def, &fields)?;
    check_links(db, def, &r.links).await?;
    let mut links = Vec::new();
    merge_links(&mut links, &r.links);
    db.insert(STATION, def.name, &fields, &links)
        .await
        .map_err(db_err)
}

async fn update(
    db: &Db,
    names: &CrmDialect,
    def: &TableDef,
    cat: CatMode,
    r: &InRecord,
    id: u64,
) -> Result<u64, CmdError> {
    let mut rec = existing(db, def, id).await?;
    let fields = stored_fields(db, names, def, cat, r).await?;
    check_links(
        db,
        &TableDef {
            required_link: None,
            ..*def
        },
        &r.links,
    )
    .await?;
    rec.fields.extend(fields);
    check_required(def, &rec.fields)?;
    merge_links(&mut rec.links, &r.links);
    db.save(&rec).await.map_err(db_err)?;
    Ok(id)
}

async fn write_catalog(
    db: &Db,
    kind: WriteKind,
    r: &InRecord,
) -> Result<(&'static str, String, u64), CmdError> {
    let get = |n: &str| {
        r.fields
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.value.trim().to_owned())
            .unwrap_or_default()
    };
    let (catalog, text) = (get("Catalog"), get("Text"));
    if catalog.is_empty() || text.is_empty() {
        return Err(
            CmdError::new(500, "Permission denied (required field missing)")
                .table(CATALOG_TABLE)
                .field(if catalog.is_empty() {
                    "Catalog"
                } else {
                    "Text"
                }),
        );
    }
    if !matches!(kind, WriteKind::Insert | WriteKind::Import) {
        return Err(CmdError::new(403, "catalog values can only be added").table(CATALOG_TABLE));
    }
    let entries = db.catalog(&catalog).await.map_err(db_err)?;
    let (ty, entry) = match entries.iter().find(|e| e.text.eq_ignore_ascii_case(&text)) {
        Some(e) if kind == WriteKind::Import => ("update", e.clone()),
        Some(_) => {
            return Err(CmdError::new(
                500,
                format!("catalog value {text:?} already exists in {catalog:?}"),
            )
            .table(CATALOG_TABLE)
            .field("Text"));
        }
        None => (
            "insert",
            db.add_catalog_value(&catalog, &text, None)
                .await
                .map_err(db_err)?,
        ),
    };
    let all = catalog_records(db).await?;
    let id = all
        .iter()
        .find(|rec| rec.fields.get("Catalog") == Some(&entry.catalog) && rec.seq_no == entry.code)
        .map(|rec| rec.id)
        .unwrap_or_default();
    Ok((ty, CATALOG_TABLE.to_owned(), id))
}
