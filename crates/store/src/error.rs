//! The store's error type, and the class callers act on.
//!
//! No variant ever carries a database URL: connection strings may hold a PostgreSQL
//! password, and errors end up in logs and on the admin page.
//!
//! Callers decide what a failure means by [`StoreError::class`] (and by the
//! [`StoreError::LeaseLost`] variant), never by the message text: the text is for people.

/// Errors returned by every store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist (e.g. `set_enabled` on an unknown mailbox).
    #[error("not found: {0}")]
    NotFound(String),
    /// A write violated a constraint of the schema (unique key, CHECK, NOT NULL, foreign
    /// key): the data given was refused and the transaction rolled back.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A fenced write (`commit_item`, fenced cursor or link write) found that one of its
    /// leases is no longer held with the fence's holder and generation (taken over after
    /// expiry, released, or expired by the database clock). Nothing was written; the work
    /// under that lease must stop.
    #[error("lease {key} is no longer held by this process")]
    LeaseLost {
        /// The key of the first lease found lost.
        key: String,
    },
    /// The state URL could not be understood. The message names the problem, never the URL.
    #[error("invalid state store URL: {0}")]
    InvalidUrl(String),
    /// Any other database failure; [`StoreError::class`] tells which kind.
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

/// What a store failure means for the caller: decided from the error's variant and, for
/// database errors, from the SQLSTATE / SQLite result code, never from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorClass {
    /// The operation lost a race and changed nothing: serialization failure, deadlock, lock
    /// or statement timeout, a busy or locked SQLite database, a lost lease. Retry later
    /// (the item next run); after [`StoreError::LeaseLost`] stop the work under that lease.
    Conflict,
    /// The data given was refused: a constraint violation, or the addressed row does not
    /// exist. Retrying the same write gives the same answer; it is the failure of the item
    /// (or request) the data belongs to.
    Rejected,
    /// A stored value cannot be decoded. When the read concerned one item (its link, the
    /// links sharing its global key or CRM id) it is that item's failure: the other items
    /// are readable, and filing the item again rewrites its link. Anywhere else (mailboxes,
    /// cursors, runs, leases, listings) it is a tenant-level stop for the administrator.
    Corrupt,
    /// The store cannot be used: connection refused or lost, pool timeout, authentication,
    /// disk full, read-only or damaged database file, missing table, failed migration, bad
    /// URL. A tenant-level stop: nothing is charged to a mailbox or an item.
    Unavailable,
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
                    | ErrorKind::CheckViolation
                    | ErrorKind::ExclusionViolation => {
                        StoreError::Constraint(db.message().to_owned())
                    }
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
    /// What this failure means for the caller (see [`StoreErrorClass`]).
    pub fn class(&self) -> StoreErrorClass {
        match self {
            StoreError::LeaseLost { .. } => StoreErrorClass::Conflict,
            StoreError::NotFound(_) | StoreError::Constraint(_) => StoreErrorClass::Rejected,
            StoreError::Corrupt { .. } => StoreErrorClass::Corrupt,
            StoreError::InvalidUrl(_) | StoreError::Migration(_) | StoreError::Io(_) => {
                StoreErrorClass::Unavailable
            }
            StoreError::Backend(e) => sqlx_class(e),
        }
    }

    /// Shorthand for `class() == Conflict`: retrying later can succeed.
    pub fn is_conflict(&self) -> bool {
        self.class() == StoreErrorClass::Conflict
    }
}

/// The class of a database error that was not turned into a more specific variant.
fn sqlx_class(e: &sqlx::Error) -> StoreErrorClass {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse()
                    .map_or(StoreErrorClass::Unavailable, sqlite_class)
            } else {
                sqlstate_class(&code)
            }
        }
        // A value read back does not fit the type we expect: the data is damaged.
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreErrorClass::Corrupt,
        // A value we tried to write could not be encoded.
        sqlx::Error::Encode(_) | sqlx::Error::InvalidArgument(_) => StoreErrorClass::Rejected,
        sqlx::Error::RowNotFound => StoreErrorClass::Rejected,
        // Connection trouble, pool exhausted or closed, TLS, protocol errors, a schema that
        // lacks a column or type, configuration: the store as a whole is not usable.
        _ => StoreErrorClass::Unavailable,
    }
}

/// Class of a PostgreSQL SQLSTATE (Appendix A of the PostgreSQL manual).
fn sqlstate_class(code: &str) -> StoreErrorClass {
    use StoreErrorClass::*;
    match code {
        // serialization_failure, deadlock_detected, lock_not_available, query_canceled
        // (statement_timeout / lock_timeout cancel the statement)
        "40001" | "40P01" | "55P03" | "57014" => Conflict,
        _ => match code.get(..2).unwrap_or_default() {
            // transaction rollback (other reasons): retry
            "40" => Conflict,
            // integrity constraint violation, data exception (a value out of range, bad
            // text for a type): the data given was refused
            "23" | "22" => Rejected,
            // Everything else: connection exception (08), insufficient resources: disk
            // full, out of memory, too many connections (53), operator intervention:
            // shutdown, cannot connect now (57), system error: I/O (58), invalid
            // authorization (28), no such database (3D), invalid transaction state: a
            // read-only standby (25), missing table or privilege (42), internal error and
            // damaged data files (XX).
            _ => Unavailable,
        },
    }
}

/// SQLite result codes by primary code (low byte of the extended code).
fn sqlite_class(code: u32) -> StoreErrorClass {
    use StoreErrorClass::*;
    match code & 0xff {
        // SQLITE_BUSY, SQLITE_LOCKED (after the busy timeout), SQLITE_INTERRUPT
        5 | 6 | 9 => Conflict,
        // SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_TOOBIG, SQLITE_RANGE
        19 | 20 | 18 | 25 => Rejected,
        // SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_NOMEM, SQLITE_READONLY,
        // SQLITE_PERM, SQLITE_AUTH, SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_PROTOCOL,
        // SQLITE_NOLFS, SQLITE_ERROR (e.g. no such table), SQLITE_SCHEMA, ...
        _ => Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StoreErrorClass::*;

    #[test]
    fn postgres_sqlstates() {
        for (code, class) in [
            ("40001", Conflict),
            ("40P01", Conflict),
            ("55P03", Conflict),
            ("57014", Conflict),
            ("40003", Conflict),
            ("08006", Unavailable),
            ("08001", Unavailable),
            ("53100", Unavailable),
            ("53300", Unavailable),
            ("57P01", Unavailable),
            ("57P03", Unavailable),
            ("58030", Unavailable),
            ("28P01", Unavailable),
            ("3D000", Unavailable),
            ("25006", Unavailable),
            ("42P01", Unavailable),
            ("42501", Unavailable),
            ("XX001", Unavailable),
            ("", Unavailable),
            ("23505", Rejected),
            ("23514", Rejected),
            ("22P02", Rejected),
            ("22003", Rejected),
        ] {
            assert_eq!(sqlstate_class(code), class, "{code}");
        }
    }

    #[test]
    fn sqlite_result_codes() {
        for (code, class) in [
            (5, Conflict),       // SQLITE_BUSY
            (517, Conflict),     // SQLITE_BUSY_SNAPSHOT
            (261, Conflict),     // SQLITE_BUSY_RECOVERY
            (6, Conflict),       // SQLITE_LOCKED
            (262, Conflict),     // SQLITE_LOCKED_SHAREDCACHE
            (13, Unavailable),   // SQLITE_FULL
            (14, Unavailable),   // SQLITE_CANTOPEN
            (10, Unavailable),   // SQLITE_IOERR
            (1034, Unavailable), // SQLITE_IOERR_FSYNC
            (6410, Unavailable), // SQLITE_IOERR_GETTEMPPATH
            (8, Unavailable),    // SQLITE_READONLY
            (11, Unavailable),   // SQLITE_CORRUPT
            (26, Unavailable),   // SQLITE_NOTADB
            (1, Unavailable),    // SQLITE_ERROR (no such table)
            (19, Rejected),      // SQLITE_CONSTRAINT
            (2067, Rejected),    // SQLITE_CONSTRAINT_UNIQUE
            (275, Rejected),     // SQLITE_CONSTRAINT_CHECK
            (18, Rejected),      // SQLITE_TOOBIG
        ] {
            assert_eq!(sqlite_class(code), class, "{code}");
        }
    }

    #[test]
    fn variants() {
        assert_eq!(StoreError::NotFound("x".into()).class(), Rejected);
        assert_eq!(StoreError::Constraint("x".into()).class(), Rejected);
        assert_eq!(StoreError::LeaseLost { key: "k".into() }.class(), Conflict);
        assert!(StoreError::LeaseLost { key: "k".into() }.is_conflict());
        assert_eq!(
            StoreError::Corrupt {
                what: "LinkState",
                detail: "unknown value".into()
            }
            .class(),
            Corrupt
        );
        assert_eq!(StoreError::InvalidUrl("x".into()).class(), Unavailable);
        assert_eq!(
            StoreError::Io(std::io::Error::other("disk full")).class(),
            Unavailable
        );
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Protocol("bad message".into()),
            sqlx::Error::ColumnNotFound("generation".into()),
        ] {
            assert_eq!(StoreError::Backend(e).class(), Unavailable);
        }
        assert_eq!(
            StoreError::Backend(sqlx::Error::Decode("bad utf-8".into())).class(),
            Corrupt
        );
        assert_eq!(
            StoreError::Backend(sqlx::Error::Encode("too big".into())).class(),
            Rejected
        );
        assert_eq!(StoreError::from(sqlx::Error::RowNotFound).class(), Rejected);
    }
}
