//! Catalogs: the values of a catalog (text in the session language, code and external key)
//! and new values by text. `sync`'s preflight sends [`catalog_query`] with the schema probe,
//! in one request.

use crate::api::non_empty;
use crate::client::CrmSession;
use crate::codec::{CatalogMode, Condition, Op, Query, Record, RecordData, WriteKind};
use crate::dialect::Dialect;
use crate::error::CrmError;
use gc_ids::CrmId;

/// A catalog value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogValue {
    pub catalog: String,
    pub code: Option<u32>,
    pub text: String,
    pub ext_key: Option<String>,
}

/// The query for the values of `catalog` (see [`CrmSession::catalog_values`]).
pub(crate) fn catalog_query(dialect: &Dialect, catalog: &str) -> Query {
    let d = &dialect.catalog;
    Query::on(
        &d.table,
        Some(Condition::cond(&d.table, &d.catalog, Op::Eq, catalog)),
        vec![
            d.catalog.clone(),
            d.code.clone(),
            d.text.clone(),
            d.ext_key.clone(),
        ],
    )
}

/// The values of `catalog` in the records its [`catalog_query`] returned.
pub(crate) fn catalog_values_of(
    dialect: &Dialect,
    catalog: &str,
    recs: &[Record],
) -> Vec<CatalogValue> {
    let d = &dialect.catalog;
    recs.iter()
        .map(|r| CatalogValue {
            catalog: r.get(&d.catalog).unwrap_or(catalog).to_owned(),
            code: r.get(&d.code).and_then(|c| c.trim().parse().ok()),
            text: r.get(&d.text).unwrap_or_default().to_owned(),
            ext_key: non_empty(r.get(&d.ext_key)),
        })
        .collect()
}

impl CrmSession<'_> {
    /// The values of a catalog (text in the session language, code and external key).
    pub async fn catalog_values(&self, catalog: &str) -> Result<Vec<CatalogValue>, CrmError> {
        let recs = self.query(catalog_query(self.dialect(), catalog)).await?;
        Ok(catalog_values_of(self.dialect(), catalog, &recs))
    }

    /// Adds values (by text) to a catalog; one result per value.
    pub async fn add_catalog_values(
        &self,
        catalog: &str,
        texts: &[&str],
    ) -> Result<Vec<Result<CrmId, CrmError>>, CrmError> {
        let d = &self.dialect().catalog;
        let recs = texts
            .iter()
            .map(|t| {
                RecordData::new(&d.table)
                    .field(&d.catalog, catalog)
                    .field(&d.text, *t)
            })
            .collect();
        self.write(WriteKind::Insert, CatalogMode::Text, recs).await
    }
}
