//! Error types and their classification into kinds callers act on.
//!
//! Callers should branch on [`GraphError::kind`], never on message text: Microsoft says the
//! `message` of a Graph error is not localised and must not be parsed, and the AADSTS text of the
//! token endpoint changes between revisions. Codes are what we classify on.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

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

/// Why authentication failed, parsed from the AADSTS code of the token endpoint (or from Graph's
/// 401 answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthCause {
    /// AADSTS7000222: the client secret has expired.
    ExpiredSecret,
    /// AADSTS7000215 / 70002: the client secret is wrong (often the secret *id* was configured
    /// instead of its value).
    InvalidSecret,
    /// AADSTS700016 / 700011: no application with this client id in the tenant.
    UnknownApplication,
    /// AADSTS90002 / 90023-style: the tenant id or domain does not exist.
    UnknownTenant,
    /// AADSTS700027: the client assertion signature did not validate (wrong key or certificate).
    BadCertificateAssertion,
    /// AADSTS50012 / 700030: the certificate is not registered for the app, or its thumbprint or
    /// subject is not accepted.
    CertificateNotRegistered,
    /// AADSTS500133: the assertion's time range is invalid (clock skew).
    AssertionExpired,
    /// AADSTS70011: the scope is invalid.
    InvalidScope,
    /// AADSTS7000112 / 700024-like: the application is disabled.
    ApplicationDisabled,
    /// Graph rejected an access token (401 `InvalidAuthenticationToken`) even after a refresh.
    TokenRejected,
    /// The token endpoint answered in a way we could not understand, or another AADSTS code.
    Other {
        /// First AADSTS code, if any.
        code: Option<u32>,
        /// The OAuth `error` value (`invalid_client`, ...), if any.
        error: Option<String>,
    },
}

impl AuthCause {
    /// Classify AADSTS codes (first known code wins).
    pub fn from_codes(codes: &[u32], oauth_error: Option<&str>) -> Self {
        for code in codes {
            let cause = match code {
                7_000_222 => Some(Self::ExpiredSecret),
                7_000_215 | 70_002 => Some(Self::InvalidSecret),
                700_016 | 700_011 => Some(Self::UnknownApplication),
                90_002 | 90_023 | 900_023 => Some(Self::UnknownTenant),
                700_027 => Some(Self::BadCertificateAssertion),
                50_012 | 700_030 => Some(Self::CertificateNotRegistered),
                500_133 => Some(Self::AssertionExpired),
                70_011 => Some(Self::InvalidScope),
                7_000_112 => Some(Self::ApplicationDisabled),
                _ => None,
            };
            if let Some(cause) = cause {
                return cause;
            }
        }
        Self::Other {
            code: codes.first().copied(),
            error: oauth_error.map(str::to_owned),
        }
    }

    /// Plain-words explanation for an administrator.
    pub fn explanation(&self) -> &'static str {
        match self {
            Self::ExpiredSecret => "the client secret has expired",
            Self::InvalidSecret => {
                "the client secret is wrong (check that the secret value, not the secret id, is configured)"
            }
            Self::UnknownApplication => {
                "no application with this client id exists in the tenant (wrong client id or wrong tenant)"
            }
            Self::UnknownTenant => "the tenant id or domain does not exist",
            Self::BadCertificateAssertion => {
                "the certificate signature was rejected (private key does not match the registered certificate)"
            }
            Self::CertificateNotRegistered => {
                "the certificate is not registered for this application"
            }
            Self::AssertionExpired => {
                "the signed client assertion was outside its validity window (check the system clock)"
            }
            Self::InvalidScope => "the requested scope is invalid",
            Self::ApplicationDisabled => "the application is disabled in the tenant",
            Self::TokenRejected => "Microsoft Graph rejected the access token",
            Self::Other { .. } => "the token endpoint refused the request",
        }
    }

    /// What the administrator should do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Self::ExpiredSecret => {
                "create a new client secret for the app registration in Microsoft Entra and update the configuration"
            }
            Self::InvalidSecret => {
                "copy the secret's Value (not its Secret ID) from Microsoft Entra into the configuration, or create a new secret"
            }
            Self::UnknownApplication => {
                "check tenant_id and client_id in the configuration against the app registration's overview page"
            }
            Self::UnknownTenant => {
                "check tenant_id in the configuration (Directory (tenant) ID on the app registration's overview page)"
            }
            Self::BadCertificateAssertion | Self::CertificateNotRegistered => {
                "upload the certificate (public part) under Certificates & secrets of the app registration, and configure the matching private key"
            }
            Self::AssertionExpired => "synchronise the system clock (NTP) of the connector host",
            Self::InvalidScope => "use the scope https://graph.microsoft.com/.default",
            Self::ApplicationDisabled => "enable the enterprise application in Microsoft Entra",
            Self::TokenRejected => {
                "check that the token is issued for Microsoft Graph by the configured tenant"
            }
            Self::Other { .. } => "read the AADSTS code in the log and check the app registration",
        }
    }
}

impl fmt::Display for AuthCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other {
                code: Some(code), ..
            } => {
                write!(f, "{} (AADSTS{code})", self.explanation())
            }
            Self::Other { error: Some(e), .. } => write!(f, "{} ({e})", self.explanation()),
            _ => f.write_str(self.explanation()),
        }
    }
}

/// The application permissions (app roles on Microsoft Graph) the connector needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Calendars.ReadWrite
    CalendarsReadWrite,
    /// Contacts.ReadWrite
    ContactsReadWrite,
    /// Directory.Read.All
    DirectoryReadAll,
    /// Mail.ReadWrite
    MailReadWrite,
    /// Tasks.ReadWrite.All
    TasksReadWriteAll,
    /// User.ReadWrite.All
    UserReadWriteAll,
    /// Mail.Send (optional: notifications are created as messages without it)
    MailSend,
    /// MailboxSettings.ReadWrite (optional: needed to create master categories)
    MailboxSettingsReadWrite,
}

impl Permission {
    /// The six permissions `check` requires.
    pub const REQUIRED: [Permission; 6] = [
        Permission::CalendarsReadWrite,
        Permission::ContactsReadWrite,
        Permission::DirectoryReadAll,
        Permission::MailReadWrite,
        Permission::TasksReadWriteAll,
        Permission::UserReadWriteAll,
    ];

    /// Permissions that are useful but not required.
    pub const OPTIONAL: [Permission; 2] =
        [Permission::MailSend, Permission::MailboxSettingsReadWrite];

    /// The role name as it appears in the token's `roles` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CalendarsReadWrite => "Calendars.ReadWrite",
            Self::ContactsReadWrite => "Contacts.ReadWrite",
            Self::DirectoryReadAll => "Directory.Read.All",
            Self::MailReadWrite => "Mail.ReadWrite",
            Self::TasksReadWriteAll => "Tasks.ReadWrite.All",
            Self::UserReadWriteAll => "User.ReadWrite.All",
            Self::MailSend => "Mail.Send",
            Self::MailboxSettingsReadWrite => "MailboxSettings.ReadWrite",
        }
    }

    /// Whether a role list grants this permission (a broader role counts).
    pub fn granted_by(self, roles: &[String]) -> bool {
        let has = |r: &str| roles.iter().any(|x| x.eq_ignore_ascii_case(r));
        match self {
            Self::DirectoryReadAll => has("Directory.Read.All") || has("Directory.ReadWrite.All"),
            other => has(other.as_str()),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which family of Graph resource a request touches. It decides the `Prefer` headers, the
/// permission named when Graph answers 403, and the `resource` field of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/users`
    Users,
    /// mail folders, messages, attachments, sendMail
    Mail,
    /// events, calendarView, instances
    Calendar,
    /// contacts, contact folders
    Contacts,
    /// To Do lists and tasks
    Todo,
    /// master categories
    Categories,
    /// `$batch`
    Batch,
    /// anything else
    Other,
}

impl ResourceKind {
    /// Short label used in logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Mail => "mail",
            Self::Calendar => "calendar",
            Self::Contacts => "contacts",
            Self::Todo => "todo",
            Self::Categories => "categories",
            Self::Batch => "batch",
            Self::Other => "other",
        }
    }

    /// The permission whose absence explains a 403 on this resource.
    pub fn permission(self) -> Permission {
        match self {
            Self::Users | Self::Other | Self::Batch => Permission::UserReadWriteAll,
            Self::Mail => Permission::MailReadWrite,
            Self::Categories => Permission::MailboxSettingsReadWrite,
            Self::Calendar => Permission::CalendarsReadWrite,
            Self::Contacts => Permission::ContactsReadWrite,
            Self::Todo => Permission::TasksReadWriteAll,
        }
    }

    /// Outlook resources need `Prefer: IdType="ImmutableId"` on every request so ids survive moves.
    pub fn wants_immutable_ids(self) -> bool {
        matches!(
            self,
            Self::Mail | Self::Calendar | Self::Contacts | Self::Categories
        )
    }

    /// Guess the kind from a Graph path (used for `$batch` sub-requests and stored links): the
    /// segment after `/users/{id}` decides, so a mailbox named `calendar@...` cannot confuse it.
    pub fn from_path(path: &str) -> Self {
        let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let start = segs.iter().position(|s| *s == "users" || *s == "me");
        let Some(start) = start else {
            return if segs.contains(&"$batch") {
                Self::Batch
            } else {
                Self::Other
            };
        };
        let skip = if segs[start] == "me" { 1 } else { 2 };
        let Some(next) = segs.get(start + skip) else {
            return Self::Users;
        };
        // `mailFolders('inbox')` style segments.
        let next = next.split('(').next().unwrap_or(next);
        match next {
            "mailfolders" | "messages" | "sendmail" => Self::Mail,
            "events" | "calendar" | "calendars" | "calendarview" | "calendargroups" => {
                Self::Calendar
            }
            "contacts" | "contactfolders" => Self::Contacts,
            "todo" => Self::Todo,
            "outlook" => Self::Categories,
            _ => Self::Users,
        }
    }
}

/// An error answer from Microsoft Graph (`{"error":{"code","message","innerError":{...}}}`).
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Graph's `error.code` (empty if the body was not Graph's shape).
    pub code: String,
    /// Graph's `error.message`. Not localised, for humans only.
    pub message: String,
    /// `request-id` (header or `innerError`), for Microsoft support.
    pub request_id: Option<String>,
    /// What the request touched.
    pub resource: ResourceKind,
    /// Server-requested wait, if any.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Build from status, headers' request id and a response body.
    pub fn from_body(
        status: u16,
        body: &[u8],
        request_id: Option<String>,
        resource: ResourceKind,
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed = parse_graph_error_body(body);
        let (code, message, inner_id) = match parsed {
            Some(p) => (p.code, p.message, p.request_id),
            None => (
                String::new(),
                String::from_utf8_lossy(body).chars().take(300).collect(),
                None,
            ),
        };
        ApiError {
            status,
            code,
            message,
            request_id: request_id.or(inner_id),
            resource,
            retry_after,
        }
    }

    /// Classification of this answer.
    pub fn kind(&self) -> ErrorKind {
        let code = self.code.to_ascii_lowercase();
        if is_sync_state_code(&code) || self.status == 410 {
            return ErrorKind::SyncStateExpired;
        }
        if code == "mailboxnotenabledforrestapi" || code == "mailboxnotsupportedforrestapi" {
            return ErrorKind::MailboxNotEnabled;
        }
        match self.status {
            429 => ErrorKind::Throttled,
            500 | 502 | 503 | 504 => ErrorKind::Transient,
            401 => ErrorKind::Authentication(AuthCause::TokenRejected),
            403 => ErrorKind::ConsentMissing(self.resource.permission()),
            404 => ErrorKind::NotFound,
            _ if code == "erroritemnotfound" || code == "request_resourcenotfound" => {
                ErrorKind::NotFound
            }
            _ => ErrorKind::Permanent,
        }
    }
}

/// Codes that mean "the delta token is no longer valid".
pub(crate) fn is_sync_state_code(code_lower: &str) -> bool {
    matches!(
        code_lower,
        "syncstatenotfound" | "resyncrequired" | "syncstateinvalid" | "invaliddeltatoken"
    )
}

pub(crate) struct ParsedGraphError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Parse Graph's error envelope, tolerating `innerError`/`innererror` spellings.
pub(crate) fn parse_graph_error_body(body: &[u8]) -> Option<ParsedGraphError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    parse_graph_error_value(&v)
}

pub(crate) fn parse_graph_error_value(v: &serde_json::Value) -> Option<ParsedGraphError> {
    let err = v.get("error")?.as_object()?;
    let get = |k: &str| {
        err.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, val)| val)
    };
    let code = get("code")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_owned();
    let message = get("message")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_owned();
    let request_id = get("innerError")
        .and_then(|inner| inner.as_object())
        .and_then(|inner| {
            inner
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("request-id"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
        });
    Some(ParsedGraphError {
        code,
        message,
        request_id,
    })
}

/// A failure at the token endpoint.
#[derive(Debug, Clone)]
pub struct AuthError {
    /// What went wrong, classified.
    pub cause: AuthCause,
    /// HTTP status of the token endpoint (0 when no answer came).
    pub status: u16,
    /// AADSTS codes.
    pub codes: Vec<u32>,
    /// The first line of `error_description` (no secrets: Entra never echoes them).
    pub description: String,
    /// Entra's trace id for support.
    pub trace_id: Option<String>,
}

#[derive(Deserialize)]
struct AadErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
}

impl AuthError {
    /// Parse the token endpoint's error body (`{"error","error_description","error_codes",...}`).
    pub fn from_token_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<AadErrorBody>(body) {
            Ok(b) => {
                let mut codes = b.error_codes;
                let description = b.error_description.unwrap_or_default();
                if codes.is_empty() {
                    codes.extend(aadsts_code_in_text(&description));
                }
                let first_line = description
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                AuthError {
                    cause: AuthCause::from_codes(&codes, b.error.as_deref()),
                    status,
                    codes,
                    description: first_line,
                    trace_id: b.trace_id,
                }
            }
            Err(_) => AuthError {
                cause: AuthCause::Other {
                    code: None,
                    error: None,
                },
                status,
                codes: Vec::new(),
                description: format!("unexpected answer from the token endpoint (HTTP {status})"),
                trace_id: None,
            },
        }
    }

    /// Error raised locally (e.g. the assertion could not be signed).
    pub fn local(cause: AuthCause, description: impl Into<String>) -> Self {
        AuthError {
            cause,
            status: 0,
            codes: Vec::new(),
            description: description.into(),
            trace_id: None,
        }
    }

    /// Whether retrying the token request later may help (throttling or outage of Entra).
    pub fn is_transient(&self) -> bool {
        self.status == 429
            || self.status >= 500
            || self.status == 0 && matches!(self.cause, AuthCause::Other { .. })
            || self
                .codes
                .iter()
                .any(|c| matches!(c, 90_055 | 90_024 | 90_033 | 90_006))
    }
}

fn aadsts_code_in_text(text: &str) -> Option<u32> {
    let idx = text.find("AADSTS")?;
    let digits: String = text[idx + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cause)?;
        if !self.description.is_empty() {
            write!(f, ": {}", self.description)?;
        }
        if let Some(t) = &self.trace_id {
            write!(f, " (trace id {t})")?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn token_err(status: u16, err: &str, code: u32, text: &str) -> AuthError {
        let body = serde_json::json!({
            "error": err,
            "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-11-27 10:00:00Z"),
            "error_codes": [code],
            "timestamp": "2026-11-27 10:00:00Z",
            "trace_id": "trace-1",
            "correlation_id": "corr-1",
        });
        AuthError::from_token_response(status, body.to_string().as_bytes())
    }

    #[test]
    fn aadsts_codes_map_to_causes() {
        let table = [
            (401, "invalid_client", 7_000_222, AuthCause::ExpiredSecret),
            (401, "invalid_client", 7_000_215, AuthCause::InvalidSecret),
            (
                400,
                "unauthorized_client",
                700_016,
                AuthCause::UnknownApplication,
            ),
            (400, "invalid_request", 90_002, AuthCause::UnknownTenant),
            (
                401,
                "invalid_client",
                700_027,
                AuthCause::BadCertificateAssertion,
            ),
            (
                401,
                "invalid_client",
                50_012,
                AuthCause::CertificateNotRegistered,
            ),
            (400, "invalid_scope", 70_011, AuthCause::InvalidScope),
        ];
        for (status, err, code, want) in table {
            let e = token_err(status, err, code, "text");
            assert_eq!(e.cause, want, "AADSTS{code}");
            assert_eq!(
                GraphError::from(e.clone()).kind(),
                ErrorKind::Authentication(want)
            );
            assert_eq!(e.description, format!("AADSTS{code}: text"));
            assert_eq!(e.trace_id.as_deref(), Some("trace-1"));
        }
    }

    #[test]
    fn expired_secret_message_names_the_cause_not_the_secret() {
        let e = token_err(
            401,
            "invalid_client",
            7_000_222,
            "The provided client secret keys for app 'x' are expired.",
        );
        let text = GraphError::from(e).to_string();
        assert!(text.contains("the client secret has expired"), "{text}");
        assert!(text.contains("trace-1"));
        assert!(
            !text.contains("Correlation ID"),
            "only the first line is kept: {text}"
        );
    }

    #[test]
    fn code_found_in_text_when_error_codes_missing() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000222: expired"}"#;
        let e = AuthError::from_token_response(401, body.as_bytes());
        assert_eq!(e.cause, AuthCause::ExpiredSecret);
    }

    #[test]
    fn unknown_code_and_garbage_are_other() {
        let e = token_err(400, "invalid_request", 123_456, "x");
        assert_eq!(
            e.cause,
            AuthCause::Other {
                code: Some(123_456),
                error: Some("invalid_request".into())
            }
        );
        let g = AuthError::from_token_response(502, b"<html>bad gateway</html>");
        assert!(g.is_transient());
        assert_eq!(GraphError::from(g).kind(), ErrorKind::Transient);
        let throttled = token_err(429, "temporarily_unavailable", 90_055, "x");
        assert!(throttled.is_transient());
    }

    fn api(status: u16, code: &str, resource: ResourceKind) -> ApiError {
        let body = serde_json::json!({"error":{"code":code,"message":"m","innerError":{"request-id":"rid-1","date":"2024-07-15T14:30:00"}}});
        ApiError::from_body(status, body.to_string().as_bytes(), None, resource, None)
    }

    #[test]
    fn graph_errors_classify() {
        use ErrorKind::*;
        let table = [
            (429, "ApplicationThrottled", ResourceKind::Mail, Throttled),
            (503, "ServiceUnavailable", ResourceKind::Mail, Transient),
            (504, "", ResourceKind::Mail, Transient),
            (404, "ErrorItemNotFound", ResourceKind::Mail, NotFound),
            (
                404,
                "Request_ResourceNotFound",
                ResourceKind::Users,
                NotFound,
            ),
            (
                404,
                "MailboxNotEnabledForRESTAPI",
                ResourceKind::Mail,
                MailboxNotEnabled,
            ),
            (
                410,
                "SyncStateNotFound",
                ResourceKind::Mail,
                SyncStateExpired,
            ),
            (
                400,
                "syncStateNotFound",
                ResourceKind::Calendar,
                SyncStateExpired,
            ),
            (
                410,
                "resyncRequired",
                ResourceKind::Contacts,
                SyncStateExpired,
            ),
            (
                403,
                "ErrorAccessDenied",
                ResourceKind::Calendar,
                ConsentMissing(Permission::CalendarsReadWrite),
            ),
            (
                403,
                "Authorization_RequestDenied",
                ResourceKind::Users,
                ConsentMissing(Permission::UserReadWriteAll),
            ),
            (
                403,
                "Forbidden",
                ResourceKind::Todo,
                ConsentMissing(Permission::TasksReadWriteAll),
            ),
            (
                401,
                "InvalidAuthenticationToken",
                ResourceKind::Mail,
                Authentication(AuthCause::TokenRejected),
            ),
            (
                400,
                "ErrorInvalidIdMalformed",
                ResourceKind::Mail,
                Permanent,
            ),
            (409, "ErrorFolderExists", ResourceKind::Mail, Permanent),
        ];
        for (status, code, res, want) in table {
            let e = api(status, code, res);
            assert_eq!(e.kind(), want, "{status} {code}");
            assert_eq!(e.request_id.as_deref(), Some("rid-1"));
        }
    }

    #[test]
    fn lowercase_innererror_and_header_request_id() {
        let body = br#"{"error":{"code":"X","message":"m","innererror":{"request-id":"inner"}}}"#;
        let e = ApiError::from_body(400, body, None, ResourceKind::Mail, None);
        assert_eq!(e.request_id.as_deref(), Some("inner"));
        let e = ApiError::from_body(400, body, Some("hdr".into()), ResourceKind::Mail, None);
        assert_eq!(e.request_id.as_deref(), Some("hdr"));
        let g = GraphError::from(e);
        assert_eq!(g.code(), Some("X"));
        assert!(g.to_string().contains("request-id hdr"));
    }

    #[test]
    fn resource_kind_from_path() {
        assert_eq!(
            ResourceKind::from_path("/users/a/mailFolders/inbox/messages/delta"),
            ResourceKind::Mail
        );
        assert_eq!(
            ResourceKind::from_path("/users/a/calendarView/delta"),
            ResourceKind::Calendar
        );
        assert_eq!(
            ResourceKind::from_path("/users/a/todo/lists/b/tasks"),
            ResourceKind::Todo
        );
        assert_eq!(
            ResourceKind::from_path("/users/a/contactFolders/x/contacts"),
            ResourceKind::Contacts
        );
        assert_eq!(
            ResourceKind::from_path("/users/a/outlook/masterCategories"),
            ResourceKind::Categories
        );
        assert_eq!(
            ResourceKind::from_path("/users?$filter=x"),
            ResourceKind::Users
        );
    }
}
