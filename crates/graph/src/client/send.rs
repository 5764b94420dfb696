//! The request loop every call goes through: budgets, the mailbox's slot, the token, retries
//! that honour `Retry-After`, one log line and the metrics of each attempt, and the answer
//! read up to `max_response_bytes` or handed over as a download. The one place where a request
//! meets the wire, apart from what the request is (`request`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use tokio::time::Instant;

use super::GraphClient;
use super::request::{Body, Req, Resp};
use crate::auth::describe_reqwest;
use crate::download::Download;
use crate::error::{ApiError, GraphError, ResourceKind};
use crate::redact::redact_url;
use crate::retry;

impl GraphClient {
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
