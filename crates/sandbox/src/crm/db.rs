//! The CRM sandbox's store: SQLite through sqlx (in memory by default, or a file).
//!
//! One row per record with its fields and links as JSON; catalogs in their own table. The
//! record id is Aurea's `StatNo << 32 | SeqNo`. Queries load a table and filter in Rust
//! (the sandbox holds thousands of records, not millions), which keeps the condition
//! semantics in one readable place ([`super::engine`]). Decoded tables are kept in memory
//! and updated by every write through this store (the only writer of its database), so a
//! query over 10,000 reps or activities does not decode them all again.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredRecord {
    pub id: u64,
    pub stat_no: u32,
    pub seq_no: u32,
    pub table: String,
    /// Soft-deleted (`<delete>`): hidden from queries, kept in the store.
    pub deleted: bool,
    pub fields: BTreeMap<String, String>,
    /// `(table, id)` of linked (parent) records.
    pub links: Vec<(String, u64)>,
}

/// A catalog value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogEntry {
    pub catalog: String,
    pub code: u32,
    pub text: String,
    pub ext_key: String,
}

/// Decoded tables, and per table a count of writes (a table read from SQL is kept only when
/// no write to it happened while it was read).
#[derive(Debug, Default)]
struct Tables {
    decoded: HashMap<String, Arc<Vec<StoredRecord>>>,
    writes: HashMap<String, u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: SqlitePool,
    tables: Arc<Mutex<Tables>>,
    /// Serializes adding catalog values (code allocation takes two statements).
    catalog_writes: std::sync::Arc<tokio::sync::Mutex<()>>,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS records (
        id INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        fields TEXT NOT NULL,
        links TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS records_tbl ON records(tbl)",
    "CREATE TABLE IF NOT EXISTS catalog_values (
        catalog TEXT NOT NULL,
        code INTEGER NOT NULL,
        text TEXT NOT NULL,
        ext_key TEXT NOT NULL,
        PRIMARY KEY (catalog, code))",
    "CREATE TABLE IF NOT EXISTS catalogs (name TEXT PRIMARY KEY, catno INTEGER NOT NULL)",
];

fn split(id: u64) -> (u32, u32) {
    ((id >> 32) as u32, (id & 0xFFFF_FFFF) as u32)
}

impl Db {
    /// Opens the store: in memory when `path` is `None`.
    pub async fn open(path: Option<&Path>) -> Result<Self, sqlx::Error> {
        let opts = match path {
            Some(p) => SqliteConnectOptions::new()
                .filename(p)
                .create_if_missing(true),
            None => SqliteConnectOptions::from_str("sqlite::memory:")?,
        };
        // One connection: an in-memory database lives exactly as long as its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&pool).await?;
        }
        Ok(Self {
            pool,
            tables: Arc::default(),
            catalog_writes: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    fn row_to_record(row: &sqlx::sqlite::SqliteRow) -> Result<StoredRecord, sqlx::Error> {
        let id: i64 = row.try_get("id")?;
        let id = id as u64;
        let fields: String = row.try_get("fields")?;
        let links: String = row.try_get("links")?;
        let deleted: i64 = row.try_get("deleted")?;
        let (stat_no, seq_no) = split(id);
        Ok(StoredRecord {
            id,
            stat_no,
            seq_no,
            table: row.try_get("tbl")?,
            deleted: deleted != 0,
            fields: serde_json::from_str(&fields).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            links: serde_json::from_str(&links).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        })
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        match self.tables.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// All records of a table, soft-deleted ones included, ordered by id.
    pub async fn table(&self, table: &str) -> Result<Arc<Vec<StoredRecord>>, sqlx::Error> {
        let writes = {
            let t = self.tables();
            if let Some(v) = t.decoded.get(table) {
                return Ok(v.clone());
            }
            t.writes.get(table).copied().unwrap_or(0)
        };
        let rows = sqlx::query(
            "SELECT id, tbl, deleted, fields, links FROM records WHERE tbl = ? ORDER BY id",
        )
        .bind(table.to_owned())
        .fetch_all(&self.pool)
        .await?;
        let records = Arc::new(
            rows.iter()
                .map(Self::row_to_record)
                .collect::<Result<Vec<_>, _>>()?,
        );
        let mut t = self.tables();
        if t.writes.get(table).copied().unwrap_or(0) == writes {
            t.decoded.insert(table.to_owned(), records.clone());
        }
        Ok(records)
    }

    /// After a write of record `id`: the decoded table gets the record as stored.
    async fn written(&self, table: &str, id: u64) -> Result<(), sqlx::Error> {
        let stored = self.get(id).await?;
        let mut t = self.tables();
        *t.writes.entry(table.to_owned()).or_default() += 1;
        if let (Some(rec), Some(v)) = (stored, t.decoded.get_mut(table)) {
            let v = Arc::make_mut(v);
            match v.binary_search_by_key(&id, |r| r.id) {
                Ok(i) => v[i] = rec,
                Err(i) => v.insert(i, rec),
            }
        }
        Ok(())
    }

    /// One record by id.
    pub async fn get(&self, id: u64) -> Result<Option<StoredRecord>, sqlx::Error> {
        let row = sqlx::query("SELECT id, tbl, deleted, fields, links FROM records WHERE id = ?")
            .bind(id as i64)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::row_to_record).transpose()
    }

    /// Inserts a record at station `stat_no` with the next sequence number.
    pub async fn insert(
        &self,
        stat_no: u32,
        table: &str,
        fields: &BTreeMap<String, String>,
        links: &[(String, u64)],
    ) -> Result<u64, sqlx::Error> {
        let lo = (stat_no as i64) << 32;
        let hi = lo + 0xFFFF_FFFF;
        // One statement, so that requests of different users running at the same time never
        // get the same id.
        let sql = format!(
            "INSERT INTO records (id, tbl, deleted, fields, links) \
             SELECT COALESCE(MAX(id), ?) + 1, ?, 0, {}, ? FROM records WHERE id >= ? AND id <= ? \
             RETURNING id",
            fields_sql(table)
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lo)
            .bind(table.to_owned())
            .bind(json(fields))
            .bind(json(&links))
            .bind(lo)
            .bind(hi)
            .fetch_one(&self.pool)
            .await?;
        let id: i64 = row.try_get("id")?;
        self.written(table, id as u64).await?;
        Ok(id as u64)
    }

    /// Writes back a record's fields, links and deleted flag.
    pub async fn save(&self, rec: &StoredRecord) -> Result<(), sqlx::Error> {
        let sql = format!(
            "UPDATE records SET fields = {}, links = ?, deleted = ? WHERE id = ?",
            fields_sql(&rec.table)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(json(&rec.fields))
            .bind(json(&rec.links))
            .bind(i64::from(rec.deleted))
            .bind(rec.id as i64)
            .execute(&self.pool)
            .await?;
        self.written(&rec.table, rec.id).await
    }

    /// Values of one catalog, by code.
    pub async fn catalog(&self, catalog: &str) -> Result<Vec<CatalogEntry>, sqlx::Error> {
        let rows = sqlx::query("SELECT catalog, code, text, ext_key FROM catalog_values WHERE catalog = ? ORDER BY code")
            .bind(catalog.to_owned())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(catalog_row).collect()
    }

    /// Every catalog value.
    pub async fn catalogs(&self) -> Result<Vec<CatalogEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT catalog, code, text, ext_key FROM catalog_values ORDER BY catalog, code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(catalog_row).collect()
    }

    /// Adds a value with the next code; the external key follows Aurea's
    /// `<station>_<catno>_<code>` pattern with the catalog's position as catno.
    pub async fn add_catalog_value(
        &self,
        catalog: &str,
        text: &str,
        code: Option<u32>,
    ) -> Result<CatalogEntry, sqlx::Error> {
        let _turn = self.catalog_writes.lock().await;
        let max: Option<i64> =
            sqlx::query("SELECT MAX(code) AS m FROM catalog_values WHERE catalog = ?")
                .bind(catalog.to_owned())
                .fetch_one(&self.pool)
                .await?
                .try_get("m")?;
        let code = code.unwrap_or_else(|| max.map_or(1, |m| m as u32 + 1));
        let catno = self.catalog_number(catalog).await?;
        let entry = CatalogEntry {
            catalog: catalog.to_owned(),
            code,
            text: text.to_owned(),
            ext_key: format!("1_{catno}_{code}"),
        };
        sqlx::query(
            "INSERT INTO catalog_values (catalog, code, text, ext_key) VALUES (?, ?, ?, ?)",
        )
        .bind(entry.catalog.clone())
        .bind(i64::from(entry.code))
        .bind(entry.text.clone())
        .bind(entry.ext_key.clone())
        .execute(&self.pool)
        .await?;
        Ok(entry)
    }

    /// The catalog's number (assigned on first use, stable afterwards).
    pub async fn catalog_number(&self, catalog: &str) -> Result<u32, sqlx::Error> {
        let row = sqlx::query("SELECT catno FROM catalogs WHERE name = ?")
            .bind(catalog.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        if let Some(r) = row {
            let n: i64 = r.try_get("catno")?;
            return Ok(n as u32);
        }
        let max: Option<i64> = sqlx::query("SELECT MAX(catno) AS m FROM catalogs")
            .fetch_one(&self.pool)
            .await?
            .try_get("m")?;
        let n = max.map_or(1, |m| m + 1);
        sqlx::query("INSERT INTO catalogs (name, catno) VALUES (?, ?)")
            .bind(catalog.to_owned())
            .bind(n)
            .execute(&self.pool)
            .await?;
        Ok(n as u32)
    }

    /// Removes a value (by text, case-insensitive); returns whether it existed.
    pub async fn remove_catalog_value(
        &self,
        catalog: &str,
        text: &str,
    ) -> Result<bool, sqlx::Error> {
        let r =
            sqlx::query("DELETE FROM catalog_values WHERE catalog = ? AND lower(text) = lower(?)")
                .bind(catalog.to_owned())
                .bind(text.to_owned())
                .execute(&self.pool)
                .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// The SQL expression that stores a record's fields (bound as one JSON parameter): with the
/// update stamp set in the same statement for tables that have one, so that no reader can
/// see a write without its stamp, or a stamp older than one it has already seen.
fn fields_sql(table: &str) -> String {
    let stamped = super::schema::table_def(table)
        .is_some_and(|d| d.fields.contains(&super::schema::UPDATE_STAMP));
    if stamped {
        format!(
            "json_set(?, '$.{}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            super::schema::UPDATE_STAMP
        )
    } else {
        "?".to_owned()
    }
}

fn catalog_row(row: &sqlx::sqlite::SqliteRow) -> Result<CatalogEntry, sqlx::Error> {
    let code: i64 = row.try_get("code")?;
    Ok(CatalogEntry {
        catalog: row.try_get("catalog")?,
        code: code as u32,
        text: row.try_get("text")?,
        ext_key: row.try_get("ext_key")?,
    })
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}
