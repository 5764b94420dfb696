//! Graph's error answers: [`ApiError`], the error envelope parsed, and its classification into
//! an [`ErrorKind`].

use std::time::Duration;

use super::{AuthCause, ErrorKind, ResourceKind};

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
