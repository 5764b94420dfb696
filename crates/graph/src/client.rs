//! [`GraphClient`] and the one request layer every call goes through.
//!
//! The layer owns: the shared reqwest client (rustls), the token, `Prefer` headers, the
//! per-mailbox concurrency limit (Outlook allows 4 requests in flight per mailbox), the
//! tenant-wide and per-mailbox request budgets (`budgets`), retries that honour `Retry-After`,
//! and one log line per attempt with mailbox, resource and Graph's `request-id` (never a token,
//! a secret or the query string of a skip/delta link).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::auth::{AccessToken, TokenProvider, describe_reqwest};
use crate::budgets::Budgets;
use crate::download::Download;
use crate::error::{ApiError, GraphError, ResourceKind};
use crate::options::GraphOptions;
use crate::redact::redact_url;
use crate::retry;
use crate::slots::{Lane, Slots};

/// Counters of what the client did (for metrics, tests and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts sent to Graph (retries included, token requests excluded).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Answers with status 429.
    pub throttled: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) options: GraphOptions,
    graph_url: String,
    origin: String,
    tokens: TokenProvider,
    mailbox_slots: DashMap<String, Slots>,
    budgets: Budgets,
    counters: Counters,
}

/// A typed Microsoft Graph client for one tenant. Cheap to clone (shared inner state), so one
/// instance serves all mailboxes and tasks.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_url", &self.inner.graph_url)
            .field("tenant_id", &self.inner.options.tenant_id)
            .field("client_id", &self.inner.options.client_id)
            .finish_non_exhaustive()
    }
}

/// Request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(serde_json::Value),
}

/// One logical request (retries re-send it).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    pub mailbox: Option<String>,
    pub resource: ResourceKind,
    pub body: Option<Body>,
    pub prefer: Vec<String>,
    pub idempotent: bool,
    /// Which waiting request of the mailbox a free slot goes to first (see [`crate::slots`]).
    pub lane: Lane,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Resp {
    pub body: Bytes,
}

impl Resp {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| GraphError::Decode(format!("cannot read the answer as JSON: {e}")))
    }
}

/// Percent-encode one path segment (Graph ids may contain `/`, `+` and `=`).
pub(crate) fn seg(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'@')
        .remove(b'=');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Percent-encode a query value.
pub(crate) fn qv(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b',')
        .remove(b'$')
        .remove(b'/')
        .remove(b'(')
        .remove(b')')
        .remove(b'@')
        .remove(b':');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

impl GraphClient {
    /// Build a client (no network I/O happens here; the first call fetches a token).
    pub fn new(options: GraphOptions) -> Result<Self, GraphError> {
        let mut graph_url = options.graph_url.trim_end_matches('/').to_owned();
        // A bare host (`https://graph.microsoft.com`, the sandbox's base URL) means v1.0.
        if url::Url::parse(&graph_url).is_ok_and(|u| u.path().trim_matches('/').is_empty()) {
            graph_url.push_str("/v1.0");
        }
        let origin = origin_of(&graph_url)
            .ok_or_else(|| GraphError::Config(format!("graph_url is not a URL: {graph_url}")))?;
        if url::Url::parse(&options.login_url).is_err() {
            return Err(GraphError::Config(format!(
                "login_url is not a URL: {}",
                options.login_url
            )));
        }
        if options.mailbox_concurrency == 0 {
            return Err(GraphError::Config(
                "mailbox concurrency must be at least 1".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .pool_max_idle_per_host(64)
            .gzip(true);
        if let Some(pem) = &options.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| GraphError::Config("extra CA file is not PEM".into()))?;
            if certs.is_empty() {
                return Err(GraphError::Config(
                    "extra CA file holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| GraphError::Config(format!("cannot build the HTTP client: {e}")))?;
        let tokens = TokenProvider::new(http.clone(), &options);
        let budgets = Budgets::new(options.tenant_budget, options.mailbox_budget);
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                graph_url,
                origin,
                tokens,
                mailbox_slots: DashMap::new(),
                budgets,
                counters: Counters::default(),
                options,
            }),
        })
    }

    /// The options this client was built from.
    pub fn options(&self) -> &GraphOptions {
        &self.inner.options
    }

    /// The token provider (roles, expiry, fetch count).
    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// A valid access token (cached). Its `roles` list the granted application permissions.
    pub async fn access_token(&self) -> Result<Arc<AccessToken>, GraphError> {
        self.inner.tokens.token().await.map_err(GraphError::from)
    }

    /// What the client has done so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }

    /// Absolute URL for a path relative to the Graph base (`/users/...`).
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.inner.graph_url, path)
        } else {
            format!("{}/{}", self.inner.graph_url, path)
        }
    }

    /// The Graph base URL (with version), without trailing slash.
    pub fn graph_url(&self) -> &str {
        &self.inner.graph_url
    }

    /// Check that a link handed back by a caller (a stored nextLink/deltaLink) points at our
    /// Graph host, so the bearer token never goes anywhere else.
    pub(crate) fn check_link(&self, link: &str) -> Result<(), GraphError> {
        match origin_of(link) {
            Some(o) if o.eq_ignore_ascii_case(&self.inner.origin) => Ok(()),
            _ => Err(GraphError::Config(format!(
                "link {} does not point at the configured Graph host",
                redact_url(link)
            ))),
        }
    }

    fn mailbox_slot(&self, mailbox: &str) -> Slots {
        let key = mailbox.to_ascii_lowercase();
        self.inner
            .mailbox_slots
            .entry(key)
            .or_insert_with(|| Slots::new(self.inner.options.mailbox_concurrency))
            .clone()
    }

    /// GET any JSON resource by path relative to the Graph base (`/users/{id}/...`), through the
    /// same request layer as the typed operations. `mailbox` enables per-mailbox limits.
    pub async fn get<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        path: &str,
    ) -> Result<T, GraphError> {
        let kind = ResourceKind::from_path(path.split('?').next().unwrap_or(path));
        self.get_json(mailbox, kind, path).await
    }

    /// GET a JSON resource by path.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Result<T, GraphError> {
        self.send(self.plain_req(Method::GET, mailbox, resource, path))
            .await?
            .json()
    }

    /// Send a JSON body and read a JSON answer.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, GraphError> {
        self.send(self.json_req(method, mailbox, resource, path, body, idempotent)?)
            .await?
            .json()
    }

    /// A request of `path` with `body` as JSON, in the item lane.
    pub(crate) fn json_req<B: Serialize + ?Sized>(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<Req, GraphError> {
        let value = serde_json::to_value(body)
            .map_err(|e| GraphError::Config(format!("cannot serialise the request body: {e}")))?;
        Ok(Req {
            method,
            url: self.url(path),
            mailbox: mailbox.map(str::to_owned),
            resource,
            body: Some(Body::Json(value)),
            prefer: Vec::new(),
            idempotent,
            lane: Lane::Item,
        })
    }

    /// DELETE a resource.
    pub(crate) async fn delete(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Result<(), GraphError> {
        self.send(self.plain_req(Method::DELETE, mailbox, resource, path))
            .await
            .map(|_| ())
    }

    /// A request of `path` without a body, that may be repeated.
    fn plain_req(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Req {
        Req {
            method,
            url: self.url(path),
            mailbox: mailbox.map(str::to_owned),
            resource,
            body: None,
            prefer: Vec::new(),
            idempotent: true,
            lane: Lane::Item,
        }
    }

    fn prefer_header(&self, req: &Req) -> Option<HeaderValue> {
        let mut parts: Vec<String> = Vec::new();
        if req.resource.wants_immutable_ids() {
            parts.push("IdType=\"ImmutableId\"".into());
        }
        if req.resource == ResourceKind::Calendar && req.method == Method::GET {
            parts.push("outlook.timezone=\"UTC\"".into());
        }
        parts.extend(req.prefer.iter().cloned());
        if parts.is_empty() {
            return None;
        }
        HeaderValue::from_str(&parts.join(", ")).ok()
    }

    /// The request layer: limits, token, retries, logging. The answer is read into memory,
    /// up to `max_response_bytes`.
    pub(crate) async fn send(&self, req: Req) -> Result<Resp, GraphError> {
        match self.send_inner(req, None).await? {
            Answer::Body(body) => Ok(Resp { body }),
            Answer::Stream(_) => Err(GraphError::Decode("a download where none was asked".into())),
        }
    }

    /// GET a body that may be large (MIME, attachment content) as a [`Download`]: the request
    /// goes through the same layer (limits, token, retries of the status), and the body is
    /// then read chunk by chunk by the caller, never more than `max_bytes` of it. The
    /// mailbox's request slot is held until the download is dropped.
    pub(crate) async fn download(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
        max_bytes: u64,
    ) -> Result<Download, GraphError> {
        let req = self.plain_req(Method::GET, mailbox, resource, path);
        match self.send_inner(req, Some(max_bytes)).await? {
            Answer::Stream(d) => Ok(d),
            Answer::Body(_) => Err(GraphError::Decode("no download where one was asked".into())),
        }
    }

    async fn send_inner(&self, req: Req, stream: Option<u64>) -> Result<Answer, GraphError> {
        let inner = &*self.inner;
        let opts = &inner.options;
        let started = Instant::now();
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let shown_url = redact_url(&req.url);
        let mailbox = req.mailbox.as_deref().unwrap_or("-");
        let resource = req.resource.label();
        let prefer = self.prefer_header(&req);
        let slot = req.mailbox.as_deref().map(|m| self.mailbox_slot(m));
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            let asked = Instant::now();
            inner.budgets.take(req.mailbox.as_deref()).await;
            let permit = match &slot {
                Some(s) => Some(s.acquire(req.lane).await),
                None => None,
            };
            let token = inner.tokens.token().await.map_err(GraphError::from)?;
            let mut rb = inner
                .http
                .request(req.method.clone(), &req.url)
                .bearer_auth(token.expose())
                .header("client-request-id", &client_request_id);
            if let Some(p) = &prefer {
                rb = rb.header("Prefer", p.clone());
            }
            match &req.body {
                Some(Body::Json(v)) => rb = rb.json(v),
                None if req.method == Method::POST => {
                    rb = rb.header("Content-Length", "0");
                }
                None => {}
            }
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            if attempt > 0 {
                inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let sent = Instant::now();
            let outcome = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if let Some(limit) = stream
                        && (200..300).contains(&status)
                    {
                        record_request(
                            resource,
                            Ok::<u16, &()>(status),
                            sent.elapsed().as_secs_f64(),
                        );
                        tracing::debug!(method = %req.method, mailbox, resource, url = %shown_url, status, attempt, "Graph download");
                        if resp.content_length().is_some_and(|n| n > limit) {
                            return Err(GraphError::TooLarge { limit, resource });
                        }
                        return Ok(Answer::Stream(Download {
                            resp,
                            limit,
                            read: 0,
                            resource,
                            _permit: permit,
                        }));
                    }
                    let headers = resp.headers().clone();
                    match read_capped(resp, opts.max_response_bytes).await {
                        Ok(body) => Ok((status, headers, body)),
                        Err(ReadError::TooLarge) => {
                            return Err(GraphError::TooLarge {
                                limit: opts.max_response_bytes,
                                resource,
                            });
                        }
                        Err(ReadError::Http(e)) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            drop(permit);
            let elapsed_ms = sent.elapsed().as_millis() as u64;
            record_request(
                resource,
                outcome.as_ref().map(|o| o.0),
                sent.elapsed().as_secs_f64(),
            );
            let (status, headers, body) = match outcome {
                Ok(ok) => ok,
                Err(e) => {
                    let retryable = e.is_connect() || req.idempotent;
                    let message = describe_reqwest(&e);
                    let wait = retry::backoff(attempt + 1, opts.base_backoff, opts.max_backoff);
                    if retryable
                        && attempt < opts.max_retries
                        && started.elapsed() + wait <= opts.max_retry_wait
                    {
                        attempt += 1;
                        tracing::info!(method = %req.method, mailbox, resource, url = %shown_url, attempt, error = %message, wait_ms = wait.as_millis() as u64, "Graph request failed, retrying");
                        record_wait("error", wait);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    tracing::warn!(method = %req.method, mailbox, resource, url = %shown_url, attempt, error = %message, "Graph request failed");
                    return Err(GraphError::Transport {
                        message,
                        resource,
                        timeout: e.is_timeout(),
                    });
                }
            };
            let request_id = headers
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let rid = request_id.as_deref().unwrap_or("-");
            if (200..300).contains(&status) {
                // `queued_ms`: the wait for the tenant's budget, the mailbox's slot and the token.
                let queued_ms = sent.duration_since(asked).as_millis() as u64;
                tracing::debug!(method = %req.method, mailbox, resource, url = %shown_url, status, request_id = rid, attempt, queued_ms, elapsed_ms, "Graph request");
                return Ok(Answer::Body(body));
            }
            if status == 429 {
                inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            if status == 401 && !reauthenticated {
                // The token may have been revoked or expired early: fetch a new one once.
                reauthenticated = true;
                inner.tokens.invalidate(&token);
                tracing::info!(method = %req.method, mailbox, resource, url = %shown_url, status, request_id = rid, "Graph rejected the token, fetching a new one");
                continue;
            }
            let retry_after = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(retry::parse_retry_after);
            if let Some(ra) = retry_after {
                metrics::histogram!("graph_connector_retry_after_seconds", "side" => "graph")
                    .record(ra.as_secs_f64());
            }
            if retry::is_retryable_status(status, req.idempotent) {
                let wait = retry::delay(
                    attempt + 1,
                    retry_after,
                    opts.base_backoff,
                    opts.max_backoff,
                );
                if attempt < opts.max_retries && started.elapsed() + wait <= opts.max_retry_wait {
                    attempt += 1;
                    tracing::info!(method = %req.method, mailbox, resource, url = %shown_url, status, request_id = rid, attempt, wait_ms = wait.as_millis() as u64, "Graph asked to retry");
                    record_wait(if status == 429 { "throttled" } else { "error" }, wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let err =
                ApiError::from_body(status, &body, request_id.clone(), req.resource, retry_after);
            tracing::info!(method = %req.method, mailbox, resource, url = %shown_url, status, code = %err.code, request_id = err.request_id.as_deref().unwrap_or("-"), attempt, elapsed_ms, "Graph request failed");
            return Err(GraphError::from(err));
        }
    }
}

/// What [`GraphClient::send_inner`] hands back: a body read into memory, or an open download.
enum Answer {
    Body(Bytes),
    Stream(Download),
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// Reads a whole body, refusing (without reading further) one bigger than `limit`.
async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Bytes, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ReadError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Metrics of one attempt (`metrics` facade: a no-op unless the binary installs a recorder).
/// `status` is the HTTP status, or the transport error.
fn record_request<E>(resource: &'static str, status: Result<u16, &E>, seconds: f64) {
    let status = match status {
        Ok(s) => s.to_string(),
        Err(_) => "error".to_owned(),
    };
    metrics::counter!("graph_connector_requests_total", "side" => "graph", "resource" => resource, "status" => status)
        .increment(1);
    metrics::histogram!("graph_connector_request_duration_seconds", "side" => "graph", "resource" => resource)
        .record(seconds);
}

/// Time spent waiting before a retry, by why (`throttled`: 429; `error`: 5xx or network).
fn record_wait(reason: &'static str, wait: Duration) {
    metrics::histogram!("graph_connector_retry_wait_seconds", "side" => "graph", "reason" => reason)
        .record(wait.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_query_values_are_encoded() {
        assert_eq!(seg("AAMk+a/b=="), "AAMk%2Ba%2Fb==");
        assert_eq!(seg("user@contoso.com"), "user@contoso.com");
        assert_eq!(qv("mail eq 'a@b.c'"), "mail%20eq%20%27a@b.c%27");
    }

    #[test]
    fn bare_graph_host_means_v1() {
        let o = GraphOptions::new("t", "c", crate::Credential::secret("s"))
            .with_urls("http://127.0.0.1:9/", "http://127.0.0.1:9");
        assert_eq!(
            GraphClient::new(o.clone()).unwrap().graph_url(),
            "http://127.0.0.1:9/v1.0"
        );
        let o = o.with_urls(
            "https://graph.microsoft.com/beta",
            "https://login.microsoftonline.com",
        );
        assert_eq!(
            GraphClient::new(o).unwrap().graph_url(),
            "https://graph.microsoft.com/beta"
        );
    }
}
