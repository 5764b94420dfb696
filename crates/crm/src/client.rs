//! HTTP transport: one reqwest client, POST `text/xml` to the configured CRM.interface URL,
//! timeouts, retries with backoff for transient failures and "User is already active", and
//! one request at a time per impersonated rep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use secrecy::SecretString;
use tracing::{debug, warn};

use crate::codec::{
    self, CatalogMode, Command, Query, Record, RecordData, Request, Response, SessionAttrs, Write,
    WriteKind,
};
use crate::codes::ReturnCode;
use crate::dialect::Dialect;
use crate::error::CrmError;
use gc_ids::CrmId;

/// Longest `Retry-After` honoured (seconds); longer values are capped.
const MAX_RETRY_AFTER_SECS: f64 = 120.0;

/// The documented batch size of Aurea's connectors: at most this many items per write request
/// (the default of [`CrmConfig::write_batch`]).
pub const WRITE_BATCH: usize = 10;

/// Retry behaviour.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts including the first one.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for every further retry.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct CrmConfig {
    /// Full URL of the CRM.interface endpoint (no path is standard; it is configuration).
    pub url: url::Url,
    /// Master user login (e.g. `OCSU`).
    pub user: String,
    /// Master user password.
    pub password: SecretString,
    /// Session language (`lang`), e.g. `en`.
    pub lang: Option<String>,
    /// HTTP timeout per request (the original's default is 60 s).
    pub timeout: Duration,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// CRM.interface error codes to watch (the original's "error codes to monitor", e.g.
    /// 500 and 511): they are logged at warning level and [`CrmClient::is_watched`] lets the
    /// caller count them towards "stop after N errors".
    pub watch_codes: Vec<u16>,
    /// Additional codes (besides 506/511) after which a request is retried.
    pub retry_codes: Vec<u16>,
    /// Table/field names and protocol conventions.
    pub dialect: Dialect,
    /// Time zone of the dates and times CRM stores (`[crm] time_zone`): activities are
    /// written in it and times read from CRM are interpreted in it.
    pub time_zone: jiff::tz::TimeZone,
    /// Extra CA certificates (PEM) to trust, e.g. a company CA in front of CRM.interface.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// At most this many records per write request (`[crm] batch_size`).
    pub write_batch: usize,
    /// At most this many requests in flight to CRM.interface from this client, all reps
    /// together (`[crm] concurrency`); each rep still sends one at a time.
    pub concurrency: usize,
    /// Whether CRM.interface has its documented protection against executing the same
    /// request twice (`[crm] duplicate_protection`, default on). Off, a write that may have
    /// reached CRM (its answer was lost, a timeout, a 5xx) is not re-sent: the error goes to
    /// the caller, whose next attempt finds what was written by its marker.
    pub duplicate_protection: bool,
}

impl CrmConfig {
    /// Settings with the defaults of the original connector.
    pub fn new(url: url::Url, user: impl Into<String>, password: SecretString) -> Self {
        Self {
            url,
            user: user.into(),
            password,
            lang: Some("en".into()),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            watch_codes: vec![500, 511],
            retry_codes: Vec::new(),
            dialect: Dialect::default(),
            time_zone: jiff::tz::TimeZone::UTC,
            extra_ca_pem: None,
            write_batch: WRITE_BATCH,
            concurrency: 4,
            duplicate_protection: true,
        }
    }
}

/// A CRM.interface client. Cheap to clone (the HTTP connection pool and the per-rep turns are
/// shared).
///
/// CRM.interface runs one request per user at a time and answers a second one with "User is
/// already active", so the client sends the requests made for one impersonated rep one after
/// the other, whoever makes them (every sync kind shares this); requests for different reps
/// and the master user's own requests run in parallel.
#[derive(Debug, Clone)]
pub struct CrmClient {
    http: reqwest::Client,
    cfg: Arc<CrmConfig>,
    turns: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Requests in flight, at most [`CrmConfig::concurrency`].
    slots: Arc<tokio::sync::Semaphore>,
    /// A nested insert was read back and found as the dialect says (see
    /// [`crate::nested`]): checked once per process.
    pub(crate) nested_confirmed: Arc<std::sync::atomic::AtomicBool>,
    /// Held while a nested insert is confirmed, so the first wave of concurrent inserts
    /// waits for one confirmation instead of each reading its key back.
    pub(crate) nested_confirming: Arc<tokio::sync::Mutex<()>>,
}

/// Who a request acts for: the master user itself, or a rep by e-mail (impersonation).
#[derive(Debug, Clone, Copy)]
pub struct CrmSession<'a> {
    pub(crate) client: &'a CrmClient,
    pub(crate) rep_email: Option<&'a str>,
}

impl CrmClient {
    /// Builds the client. A URL carrying a user name or password is refused: the master
    /// login goes in the request body, and credentials in a URL end up in logs.
    pub fn new(cfg: CrmConfig) -> Result<Self, CrmError> {
        if !cfg.url.username().is_empty() || cfg.url.password().is_some() {
            return Err(CrmError::InvalidRequest(
                "the CRM.interface URL must not carry a user name or password; give the master user and its password in the configuration".into(),
            ));
        }
        let mut builder = reqwest::Client::builder().timeout(cfg.timeout);
        if let Some(pem) = &cfg.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
                CrmError::InvalidRequest("the CA file is not a PEM certificate".into())
            })?;
            if certs.is_empty() {
                return Err(CrmError::InvalidRequest(
                    "the CA file holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| CrmError::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            slots: Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1))),
            cfg: Arc::new(cfg),
            turns: Arc::new(Mutex::new(HashMap::new())),
            nested_confirmed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            nested_confirming: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Waits until no other request for `rep` is running; the guard is its turn.
    async fn turn(&self, rep: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self
                .turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(rep.trim().to_ascii_lowercase())
                .or_default()
                .clone()
        };
        m.lock_owned().await
    }

    /// The time zone of CRM dates and times.
    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.cfg.time_zone
    }

    /// The configuration.
    pub fn config(&self) -> &CrmConfig {
        &self.cfg
    }

    /// The protocol dialect in use.
    pub fn dialect(&self) -> &Dialect {
        &self.cfg.dialect
    }

    /// Acts as the master user (rep lists, catalogs, diagnostics).
    pub fn master(&self) -> CrmSession<'_> {
        CrmSession {
            client: self,
            rep_email: None,
        }
    }

    /// Acts for the rep with this e-mail address (`impersonate="email=…"`).
    pub fn as_rep<'a>(&'a self, email: &'a str) -> CrmSession<'a> {
        CrmSession {
            client: self,
            rep_email: Some(email),
        }
    }

    /// Whether the error carries one of the configured codes to watch.
    pub fn is_watched(&self, err: &CrmError) -> bool {
        err.code()
            .is_some_and(|c| self.cfg.watch_codes.contains(&c.code()))
    }

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

    async fn send_once(
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

/// Content that goes into a request as base64 without being held in memory: a big document
/// (read back from a temporary file) is read, encoded and sent piece by piece, and read anew
/// for every attempt.
pub trait ContentSource: Send + Sync + std::fmt::Debug {
    /// Bytes of content.
    fn len(&self) -> u64;
    /// Whether there is no content.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A reader from the first byte.
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>>;
}

/// One field of a request whose value is `source` in base64: the request is encoded with
/// `placeholder` as that value, then sent as the text before it, the streamed base64 and the
/// text after it.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub placeholder: String,
    pub source: Arc<dyn ContentSource>,
}

/// Raw bytes read (and encoded) at a time: a multiple of 3, so the pieces of base64 join up
/// without padding in between.
const STREAM_PIECE: usize = 48 * 1024;

/// A request body as it is (re-)sent.
enum Payload {
    Whole(bytes::Bytes),
    Spliced {
        before: bytes::Bytes,
        after: bytes::Bytes,
        source: Arc<dyn ContentSource>,
    },
}

impl Payload {
    fn new(encoded: String, content: Option<Streamed>) -> Result<Self, CrmError> {
        let Some(c) = content else {
            return Ok(Payload::Whole(encoded.into()));
        };
        let at = encoded.find(&c.placeholder).ok_or_else(|| {
            CrmError::InvalidRequest("the streamed field is not part of the request".into())
        })?;
        let bytes = bytes::Bytes::from(encoded);
        Ok(Payload::Spliced {
            before: bytes.slice(..at),
            after: bytes.slice(at + c.placeholder.len()..),
            source: c.source,
        })
    }

    /// Bytes on the wire.
    fn len(&self) -> u64 {
        match self {
            Payload::Whole(b) => b.len() as u64,
            Payload::Spliced {
                before,
                after,
                source,
            } => before.len() as u64 + source.len().div_ceil(3) * 4 + after.len() as u64,
        }
    }

    fn body(&self) -> reqwest::Body {
        match self {
            Payload::Whole(b) => reqwest::Body::from(b.clone()),
            Payload::Spliced {
                before,
                after,
                source,
            } => {
                use futures::StreamExt as _;
                let source = source.clone();
                let pieces = futures::stream::unfold(Some(None), move |state| {
                    let source = source.clone();
                    async move {
                        let mut reader: Box<dyn std::io::Read + Send> = match state? {
                            Some(r) => r,
                            None => match source.open() {
                                Ok(r) => r,
                                Err(e) => return Some((Err(e), None)),
                            },
                        };
                        match read_piece(&mut *reader) {
                            Ok(piece) if piece.is_empty() => None,
                            Ok(piece) => {
                                let text = base64::engine::general_purpose::STANDARD.encode(piece);
                                Some((Ok(bytes::Bytes::from(text)), Some(Some(reader))))
                            }
                            Err(e) => Some((Err(e), None)),
                        }
                    }
                });
                let stream = futures::stream::once(futures::future::ready(Ok(before.clone())))
                    .chain(pieces)
                    .chain(futures::stream::once(futures::future::ready(Ok(
                        after.clone()
                    ))));
                reqwest::Body::wrap_stream(stream)
            }
        }
    }
}

/// Up to [`STREAM_PIECE`] bytes (fewer only at the end).
fn read_piece(r: &mut dyn std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; STREAM_PIECE];
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
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

/// URLs in reqwest errors never carry our password (it is in the body), but a configured URL
/// could contain userinfo; strip anything that looks like it.
fn redact(s: &str) -> String {
    match (s.find("://"), s.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &s[..a], &s[b..]),
        _ => s.to_owned(),
    }
}

impl<'a> CrmSession<'a> {
    /// The client.
    pub fn client(&self) -> &'a CrmClient {
        self.client
    }

    /// The impersonated rep, if any.
    pub fn rep_email(&self) -> Option<&'a str> {
        self.rep_email
    }

    pub(crate) fn dialect(&self) -> &'a Dialect {
        &self.client.cfg.dialect
    }

    /// Sends a `<nop/>`: proves CRM.interface answers and the login (and impersonation)
    /// works.
    pub async fn ping(&self) -> Result<(), CrmError> {
        self.client
            .execute(self.rep_email, vec![Command::Nop])
            .await
            .map(|_| ())
    }

    /// Runs one query and returns its records.
    pub async fn query(&self, q: Query) -> Result<Vec<Record>, CrmError> {
        let mut all = self.queries(vec![q]).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Runs several queries in one request; one record list per query.
    pub async fn queries(&self, qs: Vec<Query>) -> Result<Vec<Vec<Record>>, CrmError> {
        let n = qs.len();
        let resp = self
            .client
            .execute(self.rep_email, qs.into_iter().map(Command::Query).collect())
            .await?;
        if resp.results.len() != n {
            return Err(CrmError::MalformedResponse(format!(
                "{n} queries sent, {} results received",
                resp.results.len()
            )));
        }
        let mut out = Vec::with_capacity(n);
        for r in resp.results {
            if let Some(e) = r.error() {
                return Err(self.dialect().item_error(e));
            }
            out.push(r.records);
        }
        Ok(out)
    }

    /// Writes records, one command per record and at most [`CrmConfig::write_batch`] per
    /// request.
    /// Returns one result per record (the record id for insert/update/import).
    pub async fn write(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        records: Vec<RecordData>,
    ) -> Result<Vec<Result<CrmId, CrmError>>, CrmError> {
        let mut out = Vec::with_capacity(records.len());
        let mut iter = records.into_iter().peekable();
        while iter.peek().is_some() {
            let batch = self.client.cfg.write_batch.max(1);
            let chunk: Vec<RecordData> = iter.by_ref().take(batch).collect();
            let ids: Vec<Option<CrmId>> = chunk.iter().map(|r| r.id).collect();
            let commands: Vec<Command> = chunk
                .into_iter()
                .map(|r| {
                    Command::Write(Write {
                        kind,
                        catalogs,
                        records: vec![r],
                    })
                })
                .collect();
            let n = commands.len();
            let resp = self.client.execute(self.rep_email, commands).await?;
            if resp.results.len() != n {
                return Err(CrmError::MalformedResponse(format!(
                    "{n} write commands sent, {} results received",
                    resp.results.len()
                )));
            }
            for (res, sent_id) in resp.results.iter().zip(ids) {
                out.push(self.written_id(res, sent_id));
            }
        }
        Ok(out)
    }

    /// The id a write command's result names (the record's own id for an update), or the
    /// command's error.
    fn written_id(
        &self,
        res: &crate::codec::CommandResult,
        sent_id: Option<CrmId>,
    ) -> Result<CrmId, CrmError> {
        if let Some(e) = res.error() {
            return Err(self.dialect().item_error(e));
        }
        res.returns
            .iter()
            .find_map(|r| r.id)
            .or(sent_id)
            .ok_or_else(|| {
                CrmError::MalformedResponse(format!("{} result without record id", res.command))
            })
    }

    /// Writes one record whose field value `streamed.placeholder` is replaced, on the wire,
    /// by `streamed.source` in base64; returns its id.
    pub(crate) async fn write_one_streamed(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        record: RecordData,
        streamed: Streamed,
    ) -> Result<CrmId, CrmError> {
        let sent_id = record.id;
        let command = Command::Write(Write {
            kind,
            catalogs,
            records: vec![record],
        });
        let resp = self
            .client
            .execute_with(self.rep_email, vec![command], Some(streamed))
            .await?;
        let res = resp
            .results
            .first()
            .ok_or_else(|| CrmError::MalformedResponse("empty write result".into()))?;
        self.written_id(res, sent_id)
    }

    /// Writes one record and returns its id.
    pub async fn write_one(
        &self,
        kind: WriteKind,
        catalogs: CatalogMode,
        record: RecordData,
    ) -> Result<CrmId, CrmError> {
        self.write(kind, catalogs, vec![record])
            .await?
            .pop()
            .unwrap_or_else(|| Err(CrmError::MalformedResponse("empty write result".into())))
    }

    /// Deletes a record.
    pub async fn delete(&self, table: &str, id: CrmId) -> Result<(), CrmError> {
        let mut r = RecordData::new(table);
        r.id = Some(id);
        self.write_one(WriteKind::Delete, CatalogMode::Text, r)
            .await
            .map(|_| ())
    }
}

/// The return code of a per-item error, if it was one.
pub fn item_code(r: &Result<CrmId, CrmError>) -> Option<ReturnCode> {
    r.as_ref().err().and_then(CrmError::code)
}
