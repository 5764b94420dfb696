//! Request-layer behaviour against a tiny in-test Graph/login stand-in: retries and
//! `Retry-After`, token caching and 401 recovery, paging with empty pages, expired delta state,
//! per-mailbox concurrency and `$batch` with throttled sub-requests.
//!
//! One test binary, one module per area; the stand-in server and the client options are here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod limits;
mod paging;
mod retries;
mod tokens;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gc_graph::{Credential, GraphOptions};

#[derive(Default)]
struct State {
    token_calls: AtomicUsize,
    hits: Mutex<HashMap<String, usize>>,
    prefer: Mutex<Vec<(String, String)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// `/slow` requests wait until this many were in flight at once (0: no wait), so that
    /// the concurrency tests see overlap however slowly the machine starts their tasks.
    hold_until_in_flight: AtomicUsize,
    /// The peak of `in_flight` since the last reset, for the waiting requests.
    peak: Mutex<Option<tokio::sync::watch::Sender<usize>>>,
    flaky_times: Mutex<Vec<Instant>>,
    batch_bodies: Mutex<Vec<serde_json::Value>>,
    reject_next_token: Mutex<bool>,
    token_lifetime: Mutex<u64>,
}

fn jwt(roles: &[&str], n: usize) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::json!({"roles": roles, "tid": "tenant", "n": n});
    format!(
        "{}.{}.sig",
        b.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        b.encode(payload.to_string())
    )
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json"),
            ("request-id", "rid-42"),
        ],
        v.to_string(),
    )
        .into_response()
}

fn graph_error(status: StatusCode, code: &str) -> Response {
    json(
        status,
        serde_json::json!({"error": {"code": code, "message": "m", "innerError": {"request-id": "rid-42"}}}),
    )
}

async fn handle(
    state: Arc<State>,
    base: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let hit = {
        let mut h = state.hits.lock().unwrap();
        let e = h.entry(format!("{path}?{query}")).or_default();
        *e += 1;
        *e
    };
    if path.ends_with("/oauth2/v2.0/token") {
        let n = state.token_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let form = String::from_utf8_lossy(&body).to_string();
        if form.contains("client_secret=expired") {
            return json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({
                    "error": "invalid_client",
                    "error_description": "AADSTS7000222: The provided client secret keys for app 'x' are expired.\r\nTrace ID: t",
                    "error_codes": [7000222], "trace_id": "trace-9", "correlation_id": "c"
                }),
            );
        }
        let lifetime = *state.token_lifetime.lock().unwrap();
        return json(
            StatusCode::OK,
            serde_json::json!({
                "token_type": "Bearer", "expires_in": lifetime, "access_token": jwt(&["Mail.ReadWrite", "User.ReadWrite.All"], n)
            }),
        );
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !auth.starts_with("Bearer ") {
        return graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
    }
    {
        let mut reject = state.reject_next_token.lock().unwrap();
        if *reject {
            *reject = false;
            return graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken");
        }
    }
    if let Some(p) = headers.get("prefer").and_then(|v| v.to_str().ok()) {
        state
            .prefer
            .lock()
            .unwrap()
            .push((path.clone(), p.to_owned()));
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/v1.0/flaky") => {
            state.flaky_times.lock().unwrap().push(Instant::now());
            if hit <= 2 {
                return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0.2")], "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"x\"}}").into_response();
            }
            if hit == 3 {
                return graph_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
            }
            json(StatusCode::OK, serde_json::json!({"id": "u1", "mail": "a@x.com"}))
        }
        ("GET", "/v1.0/always429") => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0.01")], "{\"error\":{\"code\":\"ApplicationThrottled\",\"message\":\"over MailboxConcurrency\"}}").into_response()
        }
        ("POST", "/v1.0/users/u/sendMail") => graph_error(StatusCode::GATEWAY_TIMEOUT, "GatewayTimeout"),
        ("GET", p) if p.starts_with("/v1.0/users/") && p.ends_with("/slow") => {
            let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            state.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let peak = state
                .peak
                .lock()
                .unwrap()
                .get_or_insert_with(|| tokio::sync::watch::channel(0).0)
                .clone();
            peak.send_modify(|p| *p = (*p).max(now));
            let hold = state.hold_until_in_flight.load(Ordering::SeqCst);
            if hold > 0 {
                // A client that never has `hold` requests in flight waits here for ever: the
                // test hangs instead of passing.
                let _ = peak.subscribe().wait_for(|p| *p >= hold).await;
            }
            tokio::time::sleep(Duration::from_millis(60)).await;
            state.in_flight.fetch_sub(1, Ordering::SeqCst);
            json(StatusCode::OK, serde_json::json!({"id": "x"}))
        }
        ("GET", "/v1.0/users/u/mailFolders/inbox/messages/delta") => {
            if query.contains("deltatoken=old") {
                return graph_error(StatusCode::GONE, "SyncStateNotFound");
            }
            if query.contains("skiptoken=p2") {
                if hit == 1 {
                    return graph_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
                }
                return json(StatusCode::OK, serde_json::json!({"value": [], "@odata.nextLink": format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$skiptoken=p3")}));
            }
            if query.contains("skiptoken=p3") {
                return json(StatusCode::OK, serde_json::json!({
                    "value": [{"id": "m3", "subject": "three"}, {"id": "m1", "@removed": {"reason": "deleted"}}],
                    "@odata.deltaLink": format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$deltatoken=d1")
                }));
            }
            if query.contains("deltatoken=d1") {
                return json(StatusCode::OK, serde_json::json!({
                    "value": [{"id": "m4", "subject": "four"}],
                    "@odata.deltaLink": format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$deltatoken=d2")
                }));
            }
            json(StatusCode::OK, serde_json::json!({
                "value": [{"id": "m1", "subject": "one"}, {"id": "m2", "subject": {"bad": true}}],
                "@odata.nextLink": format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$skiptoken=p2")
            }))
        }
        // 300 KB of MIME sent in 30 chunks without a length, and 300 KB with one.
        ("GET", "/v1.0/users/u/messages/big/$value") => {
            let chunks = (0..30).map(|_| Ok::<_, std::io::Error>(vec![b'm'; 10 * 1024]));
            Response::builder()
                .header("content-type", "text/plain")
                .body(axum::body::Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        }
        ("GET", "/v1.0/users/u/messages/big/attachments/a1/$value") => {
            (StatusCode::OK, vec![b'a'; 300 * 1024]).into_response()
        }
        ("GET", "/v1.0/users/u/messages/big/attachments") => json(
            StatusCode::OK,
            serde_json::json!({"value": [{"@odata.type": "#microsoft.graph.fileAttachment", "id": "a1", "name": "x".repeat(4000), "size": 307200}]}),
        ),
        ("GET", "/v1.0/users/u/calendarView/delta") => json(StatusCode::OK, serde_json::json!({
            "value": [], "@odata.deltaLink": format!("{base}/v1.0/users/u/calendarView/delta?$deltatoken=e1")
        })),
        ("GET", "/v1.0/users/u/evil") => json(StatusCode::OK, serde_json::json!({
            "value": [], "@odata.nextLink": "https://attacker.example/steal?$skiptoken=x"
        })),
        ("POST", "/v1.0/$batch") => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            state.batch_bodies.lock().unwrap().push(v.clone());
            let round = state.batch_bodies.lock().unwrap().len();
            let mut responses = Vec::new();
            for r in v["requests"].as_array().unwrap() {
                let id = r["id"].as_str().unwrap().to_owned();
                let resp = match (id.as_str(), round) {
                    ("2", 1) => serde_json::json!({"id": id, "status": 429, "headers": {"Retry-After": "0.1"}, "body": {"error": {"code": "ApplicationThrottled", "message": "x"}}}),
                    ("3", 1) => serde_json::json!({"id": id, "status": 424, "body": {"error": {"code": "FailedDependency", "message": "x"}}}),
                    ("4", _) => serde_json::json!({"id": id, "status": 404, "body": {"error": {"code": "ErrorItemNotFound", "message": "x"}}}),
                    _ => serde_json::json!({"id": id, "status": 200, "headers": {"Content-Type": "application/json"}, "body": {"id": format!("item-{id}"), "round": round}}),
                };
                responses.push(resp);
            }
            responses.reverse(); // Graph answers in any order.
            json(StatusCode::OK, serde_json::json!({"responses": responses}))
        }
        _ => graph_error(StatusCode::NOT_FOUND, "ErrorItemNotFound"),
    }
}

async fn server() -> (Arc<State>, String) {
    let state = Arc::new(State::default());
    *state.token_lifetime.lock().unwrap() = 3599;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = state.clone();
    let b = base.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            let b = b.clone();
            async move { handle(s, b, method, uri, headers, body).await }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, base)
}

fn options(base: &str, secret: &str) -> GraphOptions {
    let mut o = GraphOptions::new("tenant", "client", Credential::secret(secret))
        .with_urls(format!("{base}/v1.0"), base.to_owned());
    o.base_backoff = Duration::from_millis(20);
    o.max_backoff = Duration::from_secs(2);
    o.max_retries = 5;
    o.max_retry_wait = Duration::from_secs(20);
    o
}
