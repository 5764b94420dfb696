//! Catalog values: a value sent as text, code or external key turned into the stored code and
//! rendered back in the query's mode, the catalog table served as records, and values added
//! through a write to it. Apart because catalog fields are read and written in three modes
//! that queries and writes share.

use std::collections::BTreeMap;

use super::{CmdError, db_err};
use crate::crm::db::{Db, StoredRecord};
use crate::crm::names::CrmDialect;
use crate::crm::schema::CATALOG_TABLE;
use crate::crm::wire::{CatMode, InRecord, WriteKind};

pub(super) async fn cat_to_code(
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

pub(super) fn cat_render(
    entries: &[super::db::CatalogEntry],
    mode: CatMode,
    stored: &str,
) -> String {
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

pub(super) async fn catalog_records(db: &Db) -> Result<Vec<StoredRecord>, CmdError> {
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

pub(super) async fn write_catalog(
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
