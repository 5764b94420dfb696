//! Request-layer behaviour against a tiny in-test Graph/login stand-in: retries and
//! `Retry-After`, token caching and 401 recovery, paging with empty pages, expired delta state,
//! per-mailbox concurrency and `$batch` with throttled sub-requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gc_graph::{
    BatchRequest, Credential, DeltaItem, ErrorKind, GraphClient, GraphOptions, MessageDeltaOptions,
};

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

#[tokio::test]
async fn retries_honour_retry_after_then_succeed() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let user: gc_graph::models::User = client.get(None, "/flaky").await.unwrap();
    assert_eq!(user.mail.as_deref(), Some("a@x.com"));
    let times = state.flaky_times.lock().unwrap().clone();
    assert_eq!(times.len(), 4, "two 429s, one 503, then success");
    assert!(
        times[1] - times[0] >= Duration::from_millis(190),
        "Retry-After 0.2 s honoured: {:?}",
        times[1] - times[0]
    );
    assert!(times[2] - times[1] >= Duration::from_millis(190));
    let stats = client.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.throttled, 2);
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        1,
        "token fetched once and cached"
    );
}

#[tokio::test]
async fn endless_throttling_ends_as_throttled_after_max_retries() {
    let (_state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let err = client
        .get::<serde_json::Value>(None, "/always429")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.code(), Some("ApplicationThrottled"));
    assert_eq!(client.stats().requests, 6, "first attempt + 5 retries");
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_on_504() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let msg = gc_graph::NewMessage {
        subject: "x".into(),
        ..Default::default()
    };
    let err = client.send_mail("u", &msg, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(state.hits.lock().unwrap()["/v1.0/users/u/sendMail?"], 1);
}

#[tokio::test]
async fn token_is_cached_shared_and_refetched_after_401() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let before = jiff::Timestamp::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.access_token().await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = jiff::Timestamp::now();
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        1,
        "single-flight: one fetch for 16 waiters"
    );
    let t = client.access_token().await.unwrap();
    assert_eq!(
        t.roles.as_deref().unwrap(),
        ["Mail.ReadWrite", "User.ReadWrite.All"]
    );
    // the lifetime the endpoint granted (3599 s), counted from the fetch
    let lifetime = jiff::SignedDuration::from_secs(3599);
    assert!(
        t.expires_on >= before + lifetime && t.expires_on <= after + lifetime,
        "{:?} not within [{before}, {after}] + 3599 s",
        t.expires_on
    );
    assert!(!format!("{t:?}").contains(t.expose()));

    *state.reject_next_token.lock().unwrap() = true;
    let v: serde_json::Value = client.get(None, "/users/u/slow").await.unwrap();
    assert_eq!(v["id"], "x");
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        2,
        "a 401 invalidates the token once"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_ahead_of_expiry() {
    // Every step holds however slow the machine is: a cached token is checked while it is
    // long-lived, and a refresh is asserted only where it happens at or after half-life
    // (a refresh after expiry gives the same observations).
    let (state, base) = server().await;
    *state.token_lifetime.lock().unwrap() = 3599;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let first = client.access_token().await.unwrap();
    let again = client.access_token().await.unwrap();
    assert_eq!(
        first.expose(),
        again.expose(),
        "cached while far from expiry"
    );
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 1);
    // A short-lived token (2 s) replaces it.
    *state.token_lifetime.lock().unwrap() = 2;
    client.tokens().invalidate(&first);
    let short = client.access_token().await.unwrap();
    assert_ne!(first.expose(), short.expose());
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 2);
    // Past half-life (still valid, unless the machine stalled): refreshed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = client.access_token().await.unwrap();
    assert_ne!(short.expose(), refreshed.expose());
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 3);
    // Fully expired: many waiters, one fetch (of a long-lived token, so that no waiter that
    // runs late finds it past half-life again).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    *state.token_lifetime.lock().unwrap() = 3599;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.access_token().await.unwrap().expose().to_owned()
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn expired_secret_is_a_typed_authentication_error() {
    let (_state, base) = server().await;
    let client = GraphClient::new(options(&base, "expired")).unwrap();
    let err = client
        .get::<serde_json::Value>(None, "/flaky")
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Authentication(gc_graph::AuthCause::ExpiredSecret)
    );
    let text = err.to_string();
    assert!(
        text.contains("client secret has expired") && text.contains("trace-9"),
        "{text}"
    );
    assert!(!text.contains("expired\""), "no secret echoed");
}

#[tokio::test]
async fn delta_pages_follow_empty_pages_retry_and_resume() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let mut stream = client.message_delta("u", "inbox", &MessageDeltaOptions::default());
    let p1 = stream.next_page().await.unwrap().unwrap();
    assert_eq!(p1.items.len(), 2);
    assert!(p1.items[0].is_ok());
    assert_eq!(
        p1.items[1].as_ref().unwrap_err().id.as_deref(),
        Some("m2"),
        "malformed item fails alone"
    );
    let checkpoint = p1.checkpoint().unwrap().to_owned();
    assert!(checkpoint.contains("skiptoken=p2"));
    // p2 answers 503 once (retried below us), then is empty with a nextLink → followed to p3.
    let p3 = stream.next_page().await.unwrap().unwrap();
    assert_eq!(p3.items.len(), 2);
    assert_eq!(
        p3.items[1].as_ref().unwrap(),
        &DeltaItem::Removed {
            id: "m1".into(),
            reason: gc_graph::RemovalReason::Deleted
        }
    );
    let delta_link = p3.delta_link.clone().unwrap();
    assert!(stream.next_page().await.is_none());
    assert_eq!(stream.pages_fetched(), 3);

    // Simulated restart: a new client resumes from the stored nextLink.
    let client2 = GraphClient::new(options(&base, "s")).unwrap();
    let mut resumed = client2.resume_message_delta("u", &checkpoint);
    let page = resumed.next_page().await.unwrap().unwrap();
    assert_eq!(page.delta_link.as_deref(), Some(delta_link.as_str()));
    // Next round from the deltaLink.
    let mut round2 = client2.resume_message_delta("u", &delta_link);
    let r2 = round2.next_page().await.unwrap().unwrap();
    assert_eq!(r2.items[0].as_ref().unwrap().changed().unwrap().id, "m4");

    // Immutable ids requested on every page.
    let prefer = state.prefer.lock().unwrap().clone();
    assert!(
        prefer
            .iter()
            .filter(|(p, _)| p.contains("/messages/delta"))
            .all(|(_, v)| v.contains("IdType=\"ImmutableId\""))
    );

    // Expired state is its own kind and ends the stream.
    let mut old = client2.resume_message_delta(
        "u",
        &format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$deltatoken=old"),
    );
    let err = old.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SyncStateExpired);
    assert_eq!(err.request_id(), Some("rid-42"));
    assert!(old.next_page().await.is_none());
}

#[tokio::test]
async fn event_reads_ask_for_utc_and_foreign_links_are_refused() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let end = "2024-02-01T00:00:00Z".parse().unwrap();
    let page = client
        .event_delta("u", start, end)
        .next_page()
        .await
        .unwrap()
        .unwrap();
    assert!(page.delta_link.is_some());
    let prefer = state.prefer.lock().unwrap().clone();
    let (_, v) = prefer
        .iter()
        .find(|(p, _)| p.contains("calendarView"))
        .unwrap();
    assert!(
        v.contains("outlook.timezone=\"UTC\"") && v.contains("ImmutableId"),
        "{v}"
    );

    let err = client
        .resume_message_delta("u", "https://attacker.example/x?$deltatoken=1")
        .next_page()
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, gc_graph::GraphError::Config(_)));
    assert!(
        !err.to_string().contains("deltatoken=1"),
        "link redacted in errors"
    );
    let mut evil =
        client.delta::<serde_json::Value>(Some("u"), gc_graph::ResourceKind::Mail, "/users/u/evil");
    assert!(
        evil.next_page().await.unwrap().is_err(),
        "a nextLink to another host is not followed"
    );
}

#[tokio::test]
async fn at_most_four_requests_in_flight_per_mailbox() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    client.access_token().await.unwrap();
    // Requests are held until four are in flight: the limit is reached on any machine, and a
    // fifth would have to get past the client to show up.
    state.hold_until_in_flight.store(4, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get::<serde_json::Value>(Some("same@x.com"), "/users/same/slow")
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(state.max_in_flight.load(Ordering::SeqCst), 4);

    state.max_in_flight.store(0, Ordering::SeqCst);
    *state.peak.lock().unwrap() = None;
    // Three mailboxes: held until five are in flight, which only a client that runs different
    // mailboxes in parallel reaches.
    state.hold_until_in_flight.store(5, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get::<serde_json::Value>(Some(&format!("m{}@x.com", i % 3)), "/users/other/slow")
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        state.max_in_flight.load(Ordering::SeqCst) > 4,
        "different mailboxes run in parallel"
    );
}

#[tokio::test]
async fn batch_retries_throttled_sub_requests_and_their_dependents() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let mut reqs = vec![
        BatchRequest::get("1", "/users/u/messages/a"),
        BatchRequest::get("2", "/users/u/messages/b"),
        BatchRequest::with_body(
            "3",
            "PATCH",
            "/users/u/messages/b",
            serde_json::json!({"isRead": true}),
        )
        .depends_on("2"),
        BatchRequest::get("4", "/users/u/messages/missing"),
    ];
    for i in 5..25 {
        reqs.push(BatchRequest::get(
            i.to_string(),
            format!("/users/u/events/{i}"),
        ));
    }
    let out = client.batch(Some("u"), reqs).await.unwrap();
    assert_eq!(out.len(), 24);
    assert_eq!(
        out.iter().map(|r| r.id.clone()).collect::<Vec<_>>()[..4],
        ["1", "2", "3", "4"]
    );
    assert_eq!(out[0].status, 200);
    assert_eq!(out[1].status, 200, "throttled sub-request retried");
    assert_eq!(out[1].attempts, 2);
    assert_eq!(out[2].status, 200, "its dependent retried too");
    assert_eq!(out[0].attempts, 1, "successful ones are not re-sent");
    assert_eq!(
        out[3].error(gc_graph::ResourceKind::Mail).unwrap().kind(),
        ErrorKind::NotFound
    );
    let v: serde_json::Value = out[1].json().unwrap();
    assert_eq!(v["id"], "item-2");

    let bodies = state.batch_bodies.lock().unwrap().clone();
    assert!(
        bodies
            .iter()
            .all(|b| b["requests"].as_array().unwrap().len() <= 20)
    );
    let retry = bodies.iter().find(|b| {
        let ids: Vec<&str> = b["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        ids == ["2", "3"]
    });
    let retry = retry.expect("a retry batch with only 2 and 3");
    assert_eq!(retry["requests"][1]["dependsOn"][0], "2");
    let first = &bodies[0]["requests"][0];
    assert_eq!(first["headers"]["Prefer"], "IdType=\"ImmutableId\"");
    let patch = bodies[0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "3")
        .unwrap();
    assert_eq!(patch["headers"]["Content-Type"], "application/json");
}

#[tokio::test]
async fn large_bodies_are_read_in_pieces_up_to_their_cap() {
    let (_state, base) = server().await;
    let mut o = options(&base, "s");
    o.max_response_bytes = 2000;
    let c = GraphClient::new(o).unwrap();
    async fn read_all(mut d: gc_graph::Download) -> Result<usize, gc_graph::GraphError> {
        let mut n = 0;
        while let Some(piece) = d.chunk().await? {
            n += piece.len();
        }
        Ok(n)
    }
    // Downloads have their own cap, whatever max_response_bytes says.
    let d = c
        .download_message_mime("u", "big", 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(read_all(d).await.unwrap(), 300 * 1024);
    let d = c
        .download_attachment_content("u", "big", "a1", 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(read_all(d).await.unwrap(), 300 * 1024);
    // Over the cap: refused up front when the length is announced, else once it is passed.
    let e = c
        .download_attachment_content("u", "big", "a1", 100 * 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(e, gc_graph::GraphError::TooLarge { limit: 102400, .. }),
        "{e}"
    );
    let d = c
        .download_message_mime("u", "big", 100 * 1024)
        .await
        .unwrap();
    let e = read_all(d).await.unwrap_err();
    assert!(matches!(e, gc_graph::GraphError::TooLarge { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::Permanent, "not retried for ever");
    // Any other answer is read into memory only up to max_response_bytes (here 2000 bytes).
    let e = c.list_attachment_metadata("u", "big").await.unwrap_err();
    assert!(
        matches!(e, gc_graph::GraphError::TooLarge { limit: 2000, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("larger than the limit of 2 KB"),
        "{e}"
    );
}
