//! The store's error type.
//!
//! No variant ever carries a database URL: connection strings may hold a PostgreSQL
//! password, and errors end up in logs and on the admin page.

/// Errors returned by every store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist (e.g. `set_enabled` on an unknown mailbox).
    #[error("not found: {0}")]
    NotFound(String),
    /// A constraint was violated (unique key, CHECK, foreign key); the transaction was
    /// rolled back.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The state URL could not be understood. The message names the problem, never the URL.
    #[error("invalid state store URL: {0}")]
    InvalidUrl(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("schema migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (unknown enum text, bad id ...).
    #[error("corrupt {what} in the state store: {detail}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Details.
        detail: String,
    },
    /// Writing an export failed.
    #[error("export write failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row not found".into()),
            sqlx::Error::Database(db) => {
                use sqlx::error::ErrorKind;
                match db.kind() {
                    ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation => StoreError::Conflict(db.message().to_owned()),
                    _ => StoreError::Backend(e),
                }
            }
            _ => StoreError::Backend(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e)
    }
}

impl StoreError {
    /// True for errors worth retrying later: connection trouble, pool timeout, a busy or
    /// locked SQLite database, PostgreSQL serialization failures, deadlocks, shutdowns and
    /// connection exceptions.
    pub fn is_transient(&self) -> bool {
        let StoreError::Backend(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
            _ => false,
        }
    }
}

/// SQLSTATE / SQLite result codes that mean "try again".
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        // PostgreSQL SQLSTATE (always five characters): serialization failure, deadlock,
        // too many connections, admin/crash shutdown, cannot connect now, connection
        // exceptions (class 08).
        return matches!(
            code,
            "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
        ) || code.starts_with("08");
    }
    // SQLite result codes (at most four digits): SQLITE_BUSY (5) and SQLITE_LOCKED (6),
    // including their extended codes (primary code = low byte).
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes() {
        for c in ["5", "6", "517", "40001", "40P01", "08006", "57P01"] {
            assert!(transient_code(c), "{c}");
        }
        for c in ["19", "2067", "23505", "42P01", "22P02"] {
            assert!(!transient_code(c), "{c}");
        }
        assert!(!StoreError::NotFound("x".into()).is_transient());
        assert!(StoreError::Backend(sqlx::Error::PoolTimedOut).is_transient());
    }
}
