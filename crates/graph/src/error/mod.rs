//! Error types and their classification into kinds callers act on.
//!
//! Callers should branch on [`GraphError::kind`], never on message text: Microsoft says the
//! `message` of a Graph error is not localised and must not be parsed, and the AADSTS text of the
//! token endpoint changes between revisions. Codes are what we classify on.
//!
//! `auth` holds the token endpoint's failures ([`AuthCause`], [`AuthError`]), `api` Graph's error
//! answers ([`ApiError`]) and their classification, `resource` the permissions and resource
//! kinds a 403 is explained by; [`GraphError`] and [`ErrorKind`] are here.

mod api;
mod auth;
mod resource;

#[cfg(test)]
mod tests;

pub use api::ApiError;
pub use auth::{AuthCause, AuthError};
pub use resource::{Permission, ResourceKind};

/// The action-relevant class of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Graph kept answering 429 until the retry budget ran out. Try again later.
    Throttled,
    /// 5xx, timeouts or connection failures that outlived the retry budget. Try again later.
    Transient,
    /// The token could not be acquired or Graph rejected it; the cause says why.
    Authentication(AuthCause),
    /// Graph answered 403: the application permission (role) named here is not consented, or an
    /// Exchange application access policy / RBAC scope excludes the mailbox.
    ConsentMissing(Permission),
    /// The item, folder or user does not exist (any more).
    NotFound,
    /// The user has no Exchange Online mailbox (no licence, soft-deleted or on-premises).
    MailboxNotEnabled,
    /// The delta token (deltaLink or nextLink) has expired: drop it, enumerate again and reconcile.
    SyncStateExpired,
    /// Everything else: the request is wrong and retrying will not help.
    Permanent,
}

/// Every error the client returns.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("Microsoft Graph answered HTTP {} {}: {}{}", .0.status, .0.code, .0.message, request_id_suffix(.0.request_id.as_deref()))]
    Api(Box<ApiError>),
    /// The access token could not be acquired.
    #[error("cannot get an access token: {0}")]
    Auth(Box<AuthError>),
    /// No HTTP answer (connection refused, reset, timeout) after all retries.
    #[error("cannot reach Microsoft Graph ({resource}): {message}")]
    Transport {
        /// Short description (no URL query strings).
        message: String,
        /// Resource label.
        resource: &'static str,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// Graph's answer could not be understood.
    #[error("unexpected answer from Microsoft Graph: {0}")]
    Decode(String),
    /// The answer is bigger than the caller (or `max_response_bytes`) allows; nothing beyond
    /// the limit was read.
    #[error("the answer from Microsoft Graph ({resource}) is larger than the limit of {} KB", .limit.div_ceil(1024))]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
        /// Resource label.
        resource: &'static str,
    },
    /// Invalid options or arguments (bad certificate file, malformed URL, batch too large...).
    #[error("invalid Graph client configuration: {0}")]
    Config(String),
}

fn request_id_suffix(id: Option<&str>) -> String {
    id.map(|i| format!(" (request-id {i})")).unwrap_or_default()
}

impl From<AuthError> for GraphError {
    fn from(e: AuthError) -> Self {
        GraphError::Auth(Box::new(e))
    }
}

impl From<ApiError> for GraphError {
    fn from(e: ApiError) -> Self {
        GraphError::Api(Box::new(e))
    }
}

impl GraphError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GraphError::Api(a) => a.kind(),
            GraphError::Auth(a) if a.is_transient() => ErrorKind::Transient,
            GraphError::Auth(a) => ErrorKind::Authentication(a.cause.clone()),
            GraphError::Transport { .. } => ErrorKind::Transient,
            GraphError::Decode(_) | GraphError::Config(_) | GraphError::TooLarge { .. } => {
                ErrorKind::Permanent
            }
        }
    }

    /// Graph's error code (`ErrorItemNotFound`, `SyncStateNotFound`...), if Graph answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Api(a) if !a.code.is_empty() => Some(&a.code),
            _ => None,
        }
    }

    /// Graph's error message, if Graph answered.
    pub fn message(&self) -> Option<&str> {
        match self {
            GraphError::Api(a) => Some(&a.message),
            _ => None,
        }
    }

    /// Graph's `request-id`, if Graph answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            GraphError::Api(a) => a.request_id.as_deref(),
            _ => None,
        }
    }

    /// HTTP status, if an answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Api(a) => Some(a.status),
            GraphError::Auth(a) if a.status != 0 => Some(a.status),
            _ => None,
        }
    }

    /// True for [`ErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// True for [`ErrorKind::SyncStateExpired`].
    pub fn is_sync_state_expired(&self) -> bool {
        self.kind() == ErrorKind::SyncStateExpired
    }
}
