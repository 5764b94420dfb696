//! One request from commands to response: the impersonation check, unused names dropped, the
//! encoding, the rep's turn, a slot per attempt, retries with backoff and `Retry-After`, and
//! the metrics of every attempt. Apart from the single attempt (`attempt`) so that the retry
//! loop reads as one piece.

use tracing::{debug, warn};

use super::payload::Payload;
use super::{CrmClient, Streamed};
use crate::codec::{self, Command, Request, Response, SessionAttrs};
use crate::error::CrmError;

impl CrmClient {
    fn retryable(&self, err: &CrmError) -> bool {
        err.is_retryable()
            || err
                .code()
                .is_some_and(|c| self.cfg.retry_codes.contains(&c.code()))
    }

    /// Sends commands in one request and returns the parsed response. Session-level errors
    /// (login, impersonation, busy user) become `Err`; per-command errors are left in the
    /// response for the caller. Retries transient failures with exponential backoff; the
    /// request (and its `reqid`) is sent unchanged, relying on CRM.interface's documented
    /// protection against executing the same request twice.
    pub async fn execute(
        &self,
        rep_email: Option<&str>,
        commands: Vec<Command>,
    ) -> Result<Response, CrmError> {
        self.execute_with(rep_email, commands, None).await
    }

    /// [`Self::execute`] with one field value streamed from `content` (see [`Streamed`]).
    pub(crate) async fn execute_with(
        &self,
        rep_email: Option<&str>,
        commands: Vec<Command>,
        content: Option<Streamed>,
    ) -> Result<Response, CrmError> {
        if let Some(e) = rep_email
            && (e.contains(';') || e.trim().is_empty())
        {
            // `impersonate` is a `;`-separated list of `key=value` pairs: an address with a
            // `;` could smuggle in another identity
            return Err(CrmError::InvalidRequest(format!(
                "{e:?} cannot be used for impersonation"
            )));
        }
        let commands = without_unused_names(commands);
        let reqid = uuid::Uuid::new_v4().to_string();
        let impersonate = rep_email.map(|e| self.cfg.dialect.impersonate_value(e));
        let req = Request {
            session: SessionAttrs {
                user: self.cfg.user.clone(),
                pwd: self.cfg.password.clone(),
                impersonate,
                lang: self.cfg.lang.clone(),
                reqid: reqid.clone(),
            },
            commands,
        };
        let writes = req.commands.iter().any(|c| matches!(c, Command::Write(_)));
        let resource = match req.commands.first() {
            Some(Command::Query(_)) => "query",
            Some(Command::Write(w)) => w.kind.as_str(),
            Some(Command::Nop) | None => "nop",
        };
        // The request is sent as encoded, and re-sent as is: its parts are freed before it
        // goes out, and a retry shares the same bytes.
        let encoded = codec::encode_request(&req)?;
        drop(req);
        let body = Payload::new(encoded, content)?;
        let mut asked = std::time::Instant::now();
        let _turn = match rep_email {
            Some(rep) => Some(self.turn(rep).await),
            None => None,
        };
        let mut attempt = 1u32;
        let mut delay = self.cfg.retry.initial_backoff;
        loop {
            // A slot per attempt: a request waiting out its backoff does not hold one.
            let slot = self
                .slots
                .acquire()
                .await
                .map_err(|_| CrmError::InvalidRequest("the client is closed".into()))?;
            let sent = std::time::Instant::now();
            // The wait for the rep's turn and a slot (a retry's: for a slot after its backoff).
            let queued = sent.duration_since(asked);
            let (result, reached) = self.send_once(&body, &reqid, rep_email).await;
            drop(slot);
            let elapsed = sent.elapsed();
            record_request(resource, &result, elapsed.as_secs_f64());
            debug!(
                resource,
                rep = rep_email.unwrap_or("(master user)"),
                attempt,
                queued_ms = queued.as_millis() as u64,
                elapsed_ms = elapsed.as_millis() as u64,
                ok = result.is_ok(),
                "CRM.interface request"
            );
            match result {
                Ok(resp) => return Ok(resp),
                // Without duplicate protection, re-sending a write that may have been
                // executed could write it twice. (A coded answer, such as "User is already
                // active", says what happened; only a lost or garbled answer leaves it open.)
                Err(e @ CrmError::Transport(_))
                    if writes && reached && !self.cfg.duplicate_protection =>
                {
                    warn!(error = %e, "a CRM.interface write may have been executed without an answer; not re-sent (duplicate_protection is off)");
                    return Err(e);
                }
                Err(e) if self.retryable(&e) && attempt < self.cfg.retry.max_attempts => {
                    if self.is_watched(&e) {
                        warn!(attempt, error = %e, "CRM.interface watched error code, retrying");
                    } else {
                        debug!(attempt, error = %e, "CRM.interface request failed, retrying");
                    }
                    // honour Retry-After when the server sent one
                    let wait = e.retry_after().map_or(delay, |ra| ra.max(delay));
                    if let Some(ra) = e.retry_after() {
                        metrics::histogram!("graph_connector_retry_after_seconds", "side" => "crm")
                            .record(ra.as_secs_f64());
                    }
                    let reason = match e {
                        CrmError::Unavailable { status: 429, .. } => "throttled",
                        _ => "error",
                    };
                    metrics::histogram!("graph_connector_retry_wait_seconds", "side" => "crm", "reason" => reason)
                        .record(wait.as_secs_f64());
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(self.cfg.retry.max_backoff);
                    attempt += 1;
                    asked = std::time::Instant::now();
                }
                Err(e) => {
                    if self.is_watched(&e) {
                        warn!(error = %e, "CRM.interface watched error code");
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Optional dialect names set to `""` are not used: such fields are neither queried nor
/// written (required names cannot be empty, the configuration refuses that).
fn without_unused_names(mut commands: Vec<Command>) -> Vec<Command> {
    for c in &mut commands {
        match c {
            Command::Query(q) => {
                for fl in &mut q.fields {
                    fl.fields.retain(|f| !f.is_empty());
                }
            }
            Command::Write(w) => {
                for r in &mut w.records {
                    drop_unused_fields(r);
                }
            }
            Command::Nop => {}
        }
    }
    commands
}

/// A record's fields named `""`, and those of the records nested in it.
fn drop_unused_fields(r: &mut crate::codec::RecordData) {
    r.fields.retain(|f| !f.name.is_empty());
    for c in &mut r.children {
        drop_unused_fields(c);
    }
}

/// Metrics of one attempt (`metrics` facade: a no-op unless the binary installs a recorder):
/// requests by command and outcome (`ok` or the error's class), and their duration.
fn record_request(resource: &'static str, result: &Result<Response, CrmError>, seconds: f64) {
    let status = match result {
        Ok(_) => "ok",
        Err(CrmError::Transport(_)) => "transport",
        Err(CrmError::Unavailable { .. }) => "unavailable",
        Err(CrmError::Http { .. }) => "http",
        Err(CrmError::Auth { .. }) => "login_refused",
        Err(CrmError::ImpersonationRefused { .. }) => "impersonation_refused",
        Err(CrmError::NotFound { .. }) => "not_found",
        Err(CrmError::Rejected { .. }) => "rejected",
        Err(CrmError::Server { .. }) => "server_error",
        Err(CrmError::UserAlreadyActive) => "user_busy",
        Err(CrmError::MalformedResponse(_)) => "malformed",
        Err(CrmError::InvalidRequest(_)) => "invalid",
        Err(CrmError::Partial { .. }) => "partial",
        Err(CrmError::UnknownName { .. }) => "unknown_name",
        Err(CrmError::DialectMismatch { .. }) => "dialect_mismatch",
    };
    metrics::counter!("graph_connector_requests_total", "side" => "crm", "resource" => resource, "status" => status)
        .increment(1);
    metrics::histogram!("graph_connector_request_duration_seconds", "side" => "crm", "resource" => resource)
        .record(seconds);
}
