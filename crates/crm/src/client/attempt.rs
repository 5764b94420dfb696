//! One attempt on the wire: the POST, whether it may have reached CRM.interface, and its
//! answer read into a response or the error it carries (status, `Retry-After`, the echoed
//! request id, session errors, a busy user). Apart from the retry loop (`execute`), which
//! decides from what this reports.

use std::time::Duration;

use super::CrmClient;
use super::payload::Payload;
use crate::codec::{self, Response};
use crate::error::CrmError;

/// Longest `Retry-After` honoured (seconds); longer values are capped.
const MAX_RETRY_AFTER_SECS: f64 = 120.0;

impl CrmClient {
    pub(super) async fn send_once(
        &self,
        body: &Payload,
        reqid: &str,
        rep_email: Option<&str>,
    ) -> (Result<Response, CrmError>, bool) {
        let sent = self
            .http
            .post(self.cfg.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body.body())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            // A connection that was never made carried nothing; any other failure may have
            // come after CRM.interface read (and executed) the request.
            Err(e) => {
                let reached = !e.is_connect();
                return (Err(CrmError::Transport(redact(&e.to_string()))), reached);
            }
        };
        let status = resp.status().as_u16();
        // Throttled or unavailable: refused before it was executed.
        let reached = status != 503 && status != 429;
        (self.read_answer(resp, reqid, rep_email).await, reached)
    }

    /// The answer to one attempt, as a response or the error it carries.
    async fn read_answer(
        &self,
        resp: reqwest::Response,
        reqid: &str,
        rep_email: Option<&str>,
    ) -> Result<Response, CrmError> {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(MAX_RETRY_AFTER_SECS)));
        if status.as_u16() == 503 || status.as_u16() == 429 {
            return Err(CrmError::Unavailable {
                status: status.as_u16(),
                retry_after,
            });
        }
        let text = resp
            .text()
            .await
            .map_err(|e| CrmError::Transport(redact(&e.to_string())))?;
        if !status.is_success() {
            let snippet: String = text.chars().take(200).collect();
            let code = status.as_u16();
            if code >= 500 || code == 429 || code == 408 {
                return Err(CrmError::Transport(format!("HTTP {code}: {snippet}")));
            }
            return Err(CrmError::Http {
                status: code,
                body: snippet,
            });
        }
        let parsed = codec::decode_response(&text)?;
        match parsed.attr("reqid") {
            Some(r) if r == reqid => {}
            other => {
                return Err(CrmError::MalformedResponse(format!(
                    "response does not echo request id (expected {reqid}, got {other:?})"
                )));
            }
        }
        if let Some(err) = parsed.returns.iter().find(|r| r.kind == "error") {
            return Err(self
                .cfg
                .dialect
                .session_error(err, &self.cfg.user, rep_email));
        }
        // A busy user can also be reported inside the first command.
        for r in &parsed.results {
            if r.error().is_some_and(|e| {
                e.text
                    .as_deref()
                    .is_some_and(|t| self.cfg.dialect.is_already_active(t))
            }) {
                return Err(CrmError::UserAlreadyActive);
            }
        }
        Ok(parsed)
    }
}

/// URLs in reqwest errors never carry our password (it is in the body), but a configured URL
/// could contain userinfo; strip anything that looks like it.
fn redact(s: &str) -> String {
    match (s.find("://"), s.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &s[..a], &s[b..]),
        _ => s.to_owned(),
    }
}
