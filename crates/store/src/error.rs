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
    /// True for errors worth retrying later (connection trouble, pool timeout, busy database).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Backend(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Database(_)
            ),
            _ => false,
        }
    }
}
