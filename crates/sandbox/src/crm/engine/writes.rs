//! Writes: insert, update, soft delete and import (`matchup`) of one record, with its field
//! values stored (catalog codes, validated base64), its required fields and its links checked.
//! Apart from queries because the two share nothing but the catalogs and the errors.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::catalogs::{cat_to_code, write_catalog};
use super::{CmdError, STATION, db_err};
use crate::crm::db::{Db, StoredRecord};
use crate::crm::names::CrmDialect;
use crate::crm::schema::{CATALOG_TABLE, TableDef, table_def};
use crate::crm::translate;
use crate::crm::wire::{CatMode, InRecord, WriteKind};

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

pub(super) async fn write(
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
