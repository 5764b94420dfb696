//! Errors of the CRM.interface client, grouped by what a caller does about them.

use crate::codes::ReturnCode;
use gc_ids::CrmId;

/// What a caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Network trouble, timeouts, 5xx, CRM.interface unhealthy: retry later.
    Transient,
    /// A previous request for the same user is still running: retry shortly.
    UserAlreadyActive,
    /// The master user could not log in (wrong login or password): fix the configuration.
    Auth,
    /// The master user logged in but may not act for this rep: fix the rep or forms.xml.
    ImpersonationRefused,
    /// The addressed record does not exist (or is gone).
    NotFound,
    /// CRM.interface refused this item; sending it again unchanged will fail again.
    Rejected,
    /// CRM.interface does not know a table or field the connector uses (or a catalog cannot
    /// be read through the configured names): the configuration (`[crm.dialect]`) is wrong
    /// for this installation. Nothing should be synchronized until it is fixed.
    UnknownName,
    /// The answer was not the XML we expect.
    MalformedResponse,
    /// The caller built a request the client refuses to send.
    InvalidRequest,
}

/// An error talking to CRM.interface.
///
/// No variant ever carries the master password: requests are never included in errors.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// Connection failure, timeout or an HTTP status that says "try again".
    #[error("CRM.interface is not reachable or failed: {0}")]
    Transport(String),
    /// HTTP 503/429: CRM.interface (or its IIS) asks to come back later.
    #[error("CRM.interface is unavailable (HTTP {status}){}", retry_after.map(|d| format!(", retry after {} s", d.as_secs_f64())).unwrap_or_default())]
    Unavailable {
        status: u16,
        retry_after: Option<std::time::Duration>,
    },
    /// An HTTP status outside 2xx that is not transient.
    #[error("CRM.interface answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The master user's login was refused.
    #[error(
        "CRM.interface refused the login of master user {user:?} (code {code}): {text}; check the master user's login and password in the connector configuration"
    )]
    Auth {
        user: String,
        code: ReturnCode,
        text: String,
    },
    /// Impersonation of a rep was refused.
    #[error(
        "CRM.interface refused to act for {target:?} (code {code}): {text}; the rep must exist with this e-mail address and the master user must be configured in forms.xml"
    )]
    ImpersonationRefused {
        target: String,
        code: ReturnCode,
        text: String,
    },
    /// A record that was asked for does not exist.
    #[error("not found in CRM: {what}")]
    NotFound { what: String },
    /// CRM.interface answered with an error for one item or command.
    #[error("CRM.interface rejected {}: {code}: {text}", table.as_deref().unwrap_or("the command"))]
    Rejected {
        code: ReturnCode,
        text: String,
        table: Option<String>,
        field: Option<String>,
    },
    /// CRM.interface does not know a table or field name the connector sent.
    #[error("CRM.interface does not know {}: {code}: {text}; {fix}", unknown_what(table.as_deref(), field.as_deref()))]
    UnknownName {
        /// The table named in the error.
        table: Option<String>,
        /// The field named in the error.
        field: Option<String>,
        /// The `[crm.dialect]` key that sets the name, when it comes from the dialect.
        key: Option<String>,
        /// What to change.
        fix: String,
        code: ReturnCode,
        text: String,
    },
    /// CRM.interface does not follow a protocol convention the dialect assumes (e.g. child
    /// records nested in an `<insert>`): the configuration's fault, so the run stops before
    /// any further item, with the key to change.
    #[error("CRM.interface does not follow [crm.dialect] {key}: {detail}; {fix}")]
    DialectMismatch {
        /// The dialect key, e.g. `child_records`.
        key: String,
        /// What CRM.interface did.
        detail: String,
        /// What to change.
        fix: String,
    },
    /// CRM.interface is in a passing error state (e.g. 511 SERVER_FAILURE).
    #[error("CRM.interface reported a server error {code}: {text}")]
    Server { code: ReturnCode, text: String },
    /// "User is already active": a request for the same user is still running.
    #[error(
        "CRM.interface is still processing a previous request for this user (User is already active)"
    )]
    UserAlreadyActive,
    /// The response is not well-formed XML or lacks what the request implies.
    #[error("malformed CRM.interface response: {0}")]
    MalformedResponse(String),
    /// The request cannot be built (e.g. an empty field name).
    #[error("invalid CRM.interface request: {0}")]
    InvalidRequest(String),
    /// The main record was written, a follow-up write (participants, external key,
    /// documents) failed.
    #[error("record {created} was created but a follow-up write failed: {source}")]
    Partial {
        created: CrmId,
        #[source]
        source: Box<CrmError>,
    },
}

fn unknown_what(table: Option<&str>, field: Option<&str>) -> String {
    match (table, field) {
        (Some(t), Some(f)) => format!("the field {f:?} of table {t:?}"),
        (None, Some(f)) => format!("the field {f:?}"),
        (Some(t), None) => format!("the table {t:?}"),
        (None, None) => "a name in the request".to_owned(),
    }
}

impl CrmError {
    /// What to do about it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Transport(_) | Self::Server { .. } | Self::Unavailable { .. } => {
                ErrorKind::Transient
            }
            Self::Http { status, .. } if *status >= 500 || *status == 429 || *status == 408 => {
                ErrorKind::Transient
            }
            Self::Http { status: 401, .. } => ErrorKind::Auth,
            Self::Http { .. } => ErrorKind::Rejected,
            Self::Auth { .. } => ErrorKind::Auth,
            Self::ImpersonationRefused { .. } => ErrorKind::ImpersonationRefused,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Rejected { code, .. }
                if *code == ReturnCode::NotFound || *code == ReturnCode::Gone =>
            {
                ErrorKind::NotFound
            }
            Self::Rejected { .. } => ErrorKind::Rejected,
            Self::UnknownName { .. } | Self::DialectMismatch { .. } => ErrorKind::UnknownName,
            Self::UserAlreadyActive => ErrorKind::UserAlreadyActive,
            Self::MalformedResponse(_) => ErrorKind::MalformedResponse,
            Self::InvalidRequest(_) => ErrorKind::InvalidRequest,
            Self::Partial { source, .. } => source.kind(),
        }
    }

    /// Whether sending the same request again later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Transient | ErrorKind::UserAlreadyActive
        )
    }

    /// How long the server asked us to wait (HTTP `Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            Self::Partial { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// The CRM.interface return code, when the error came with one.
    pub fn code(&self) -> Option<ReturnCode> {
        match self {
            Self::Auth { code, .. }
            | Self::ImpersonationRefused { code, .. }
            | Self::Rejected { code, .. }
            | Self::UnknownName { code, .. }
            | Self::Server { code, .. } => Some(*code),
            Self::Partial { source, .. } => source.code(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(CrmError::UserAlreadyActive.is_retryable());
        assert!(CrmError::Transport("x".into()).is_retryable());
        assert!(
            CrmError::Http {
                status: 503,
                body: String::new()
            }
            .is_retryable()
        );
        let rej = CrmError::Rejected {
            code: ReturnCode::Failed,
            text: "Permission denied".into(),
            table: Some("Contact".into()),
            field: None,
        };
        assert_eq!(rej.kind(), ErrorKind::Rejected);
        assert!(!rej.is_retryable());
        assert!(rej.to_string().contains("Contact"));
        let gone = CrmError::Rejected {
            code: ReturnCode::Gone,
            text: String::new(),
            table: None,
            field: None,
        };
        assert_eq!(gone.kind(), ErrorKind::NotFound);
    }
}
