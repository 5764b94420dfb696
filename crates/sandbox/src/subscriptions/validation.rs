//! The validation handshake Graph performs before it creates a subscription: a POST of
//! `?validationToken=…` that must be echoed as `text/plain` with 200 within 10 seconds. Apart
//! because it is the one request the sandbox sends and waits on while a client waits.

use super::Subscriptions;
use crate::error::{GResult, GraphError};
use axum::http::StatusCode;
use std::time::Duration;

/// How long the validation request may take.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);

impl Subscriptions {
    /// The validation handshake: POST `?validationToken=…`, expect 200 and the token as
    /// `text/plain` within 10 s.
    pub(super) async fn validate(&self, url: &str) -> GResult<()> {
        self.lock().knobs.validations += 1;
        let token = format!(
            "Validation: Testing client application reachability for subscription Request-Id: {}",
            uuid::Uuid::new_v4()
        );
        let failed = |why: String| {
            GraphError::bad_request(
                "ValidationError",
                format!(
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. ({why})"
                ),
            )
        };
        let resp = self
            .http
            .post(url)
            .query(&[("validationToken", token.as_str())])
            .header("content-type", "text/plain; charset=utf-8")
            .timeout(VALIDATION_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(format!("{url}: {e}")))?;
        if resp.status() != StatusCode::OK {
            return Err(failed(format!("{url} answered {}", resp.status())));
        }
        let plain = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
        let body = resp.text().await.unwrap_or_default();
        if !plain || body != token {
            return Err(failed(format!(
                "{url} did not echo the validation token as text/plain"
            )));
        }
        Ok(())
    }
}
