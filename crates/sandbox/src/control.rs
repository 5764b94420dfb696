//! The sandbox's control API under `/_sandbox/…` (no authentication: it is a local test bed).
//! Documented in docs/SANDBOX.md.

use crate::server::Shared;
use crate::store::{NewMessage, StateHandle};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

type S = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/health", get(|| async { "ok" }))
        .route("/_sandbox/info", get(info))
        .route(
            "/_sandbox/faults",
            get(get_faults).put(put_faults).post(put_faults),
        )
        .route("/_sandbox/auth", get(get_auth).post(post_auth))
        .route("/_sandbox/throttle", post(post_throttle))
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/sync-state/expire", post(expire_sync_state))
        .route(
            "/_sandbox/sync-state/resync-required",
            post(resync_required),
        )
        .route("/_sandbox/subscriptions", get(subscriptions))
        .route("/_sandbox/subscriptions/{id}/lifecycle", post(lifecycle))
        .route(
            "/_sandbox/notifications",
            get(get_notifications).post(post_notifications),
        )
        .route("/_sandbox/mailboxes/{user}/folders", get(folders))
        .route("/_sandbox/mailboxes/{user}/deliver", post(deliver))
        .route("/_sandbox/mailboxes/{user}/file", post(file))
        .route(
            "/_sandbox/mailboxes/{user}/events/generate",
            post(generate_events),
        )
        .route(
            "/_sandbox/users/{user}",
            axum::routing::patch(patch_user).delete(delete_user),
        )
}

async fn subscriptions(State(s): S) -> Json<Value> {
    Json(json!({ "value": s.subscriptions.list() }))
}

#[derive(Deserialize)]
struct LifecycleBody {
    event: String,
}

async fn lifecycle(State(s): S, Path(id): Path<String>, Json(b): Json<LifecycleBody>) -> Response {
    if !["reauthorizationRequired", "subscriptionRemoved", "missed"].contains(&b.event.as_str()) {
        return bad("event must be reauthorizationRequired, subscriptionRemoved or missed");
    }
    match s.subscriptions.lifecycle(&s, &id, &b.event).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => bad(e),
    }
}

async fn get_notifications(State(s): S) -> Json<Value> {
    Json(json!(s.subscriptions.knobs()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationsBody {
    drop_next: Option<u32>,
    delay_ms: Option<u64>,
}

async fn post_notifications(State(s): S, Json(b): Json<NotificationsBody>) -> Json<Value> {
    Json(json!(s.subscriptions.set_knobs(b.drop_next, b.delay_ms)))
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

async fn info(State(s): S) -> Json<Value> {
    let users: Vec<Value> = s
        .directory
        .users
        .iter()
        .map(|p| json!({"id": p.id, "email": p.email, "displayName": p.display_name, "kind": format!("{:?}", p.kind), "hasMailbox": p.has_mailbox()}))
        .collect();
    Json(json!({
        "url": s.base_url,
        "seed": s.opts.seed,
        "tenantId": s.creds.tenant_id,
        "clientId": s.creds.client_id,
        "domain": s.directory.domain,
        "tokenEndpoint": format!("{}/{}/oauth2/v2.0/token", s.base_url, s.creds.tenant_id),
        "graphBase": format!("{}/v1.0", s.base_url),
        "users": users,
        "externals": s.directory.externals.len(),
    }))
}

async fn get_faults(State(s): S) -> Json<Value> {
    Json(
        json!({"spec": s.faults.spec().to_string(), "latencyMs": s.faults.latency().as_millis() as u64, "hold": s.faults.holding()}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultsBody {
    spec: Option<String>,
    latency_ms: Option<u64>,
    hold: Option<bool>,
}

async fn put_faults(State(s): S, Json(b): Json<FaultsBody>) -> Response {
    if let Some(spec) = b.spec {
        match spec.parse() {
            Ok(spec) => s.faults.set_spec(spec),
            Err(e) => return bad(format!("{e}")),
        }
    }
    if let Some(ms) = b.latency_ms {
        s.faults.set_latency_ms(ms);
    }
    if let Some(on) = b.hold {
        s.faults.hold(on);
    }
    get_faults(State(s)).await.into_response()
}

async fn get_auth(State(s): S) -> Json<Value> {
    let a = s.lock_auth();
    Json(json!({
        "roles": a.roles,
        "secretExpired": a.secret_expired,
        "secretInvalid": a.secret_invalid,
        "appUnknown": a.app_unknown,
        "tenantUnknown": a.tenant_unknown,
        "certificateRegistered": a.certificate.is_some(),
        "tokenLifetimeSecs": a.token_lifetime.as_secs(),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AuthBody {
    reset: bool,
    secret_expired: Option<bool>,
    secret_invalid: Option<bool>,
    app_unknown: Option<bool>,
    tenant_unknown: Option<bool>,
    remove_roles: Vec<String>,
    grant_roles: Vec<String>,
    certificate_pem: Option<String>,
    token_lifetime_secs: Option<u64>,
    revoke_tokens: bool,
}

async fn post_auth(State(s): S, Json(b): Json<AuthBody>) -> Response {
    let handle = StateHandle { shared: &s };
    let ctl = handle.auth();
    if b.reset {
        ctl.reset();
    }
    if let Some(v) = b.secret_expired {
        ctl.set_secret_expired(v);
    }
    if let Some(v) = b.secret_invalid {
        ctl.set_secret_invalid(v);
    }
    if let Some(v) = b.app_unknown {
        ctl.set_app_unknown(v);
    }
    if let Some(v) = b.tenant_unknown {
        ctl.set_tenant_unknown(v);
    }
    for r in &b.remove_roles {
        ctl.remove_role(r);
    }
    for r in &b.grant_roles {
        ctl.grant_role(r);
    }
    if let Some(pem) = &b.certificate_pem
        && let Err(e) = ctl.register_certificate(pem)
    {
        return bad(e);
    }
    if let Some(secs) = b.token_lifetime_secs {
        ctl.set_token_lifetime(Duration::from_secs(secs));
    }
    if b.revoke_tokens {
        ctl.revoke_tokens();
    }
    get_auth(State(s.clone())).await.into_response()
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ThrottleBody {
    concurrency: Option<usize>,
    budget: Option<u32>,
    window_secs: Option<u64>,
    reset: bool,
}

async fn post_throttle(State(s): S, Json(b): Json<ThrottleBody>) -> Response {
    let mut l = s
        .throttle
        .limit
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = b.concurrency {
        l.concurrency = c.max(1);
    }
    if let Some(c) = b.budget {
        l.budget = c.max(1);
    }
    if let Some(w) = b.window_secs {
        l.window = Duration::from_secs(w.max(1));
    }
    let out =
        json!({"concurrency": l.concurrency, "budget": l.budget, "windowSecs": l.window.as_secs()});
    drop(l);
    if b.reset {
        s.throttle.reset();
    }
    Json(out).into_response()
}

async fn get_stats(State(s): S) -> Json<crate::monitor::RequestStats> {
    Json(s.monitor.stats())
}

async fn reset_stats(State(s): S) -> StatusCode {
    s.monitor.reset_stats();
    StatusCode::NO_CONTENT
}

async fn resync_required(State(s): S) -> StatusCode {
    s.lock_tokens().require_resync();
    StatusCode::NO_CONTENT
}

async fn expire_sync_state(State(s): S) -> StatusCode {
    s.lock_tokens().clear();
    StatusCode::NO_CONTENT
}

async fn folders(State(s): S, Path(user): Path<String>) -> Response {
    match (StateHandle { shared: &s }).folder_counts(&user) {
        Ok(v) => Json(
            v.into_iter()
                .map(|f| json!({"path": f.path, "total": f.total, "unread": f.unread}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e.0}))).into_response(),
    }
}

async fn deliver(State(s): S, Path(user): Path<String>, Json(m): Json<NewMessage>) -> Response {
    match (StateHandle { shared: &s }).deliver(&user, m) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => bad(e.0),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileBody {
    message_id: String,
    folder: String,
}

async fn file(State(s): S, Path(user): Path<String>, Json(b): Json<FileBody>) -> Response {
    match (StateHandle { shared: &s }).file_message(&user, &b.message_id, &b.folder) {
        Ok(id) => Json(json!({"id": id})).into_response(),
        Err(e) => bad(e.0),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateEventsBody {
    count: usize,
    #[serde(default = "seven")]
    days_past: u32,
    #[serde(default = "seven")]
    days_future: u32,
}

fn seven() -> u32 {
    7
}

async fn generate_events(
    State(s): S,
    Path(user): Path<String>,
    Json(b): Json<GenerateEventsBody>,
) -> Response {
    match (StateHandle { shared: &s }).generate_events(&user, b.count, b.days_past, b.days_future) {
        Ok(ids) => (StatusCode::CREATED, Json(json!({"ids": ids}))).into_response(),
        Err(e) => bad(e.0),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    account_enabled: bool,
}

async fn patch_user(State(s): S, Path(user): Path<String>, Json(b): Json<UserBody>) -> Response {
    match (StateHandle { shared: &s }).set_account_enabled(&user, b.account_enabled) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e.0}))).into_response(),
    }
}

async fn delete_user(State(s): S, Path(user): Path<String>) -> Response {
    match (StateHandle { shared: &s }).delete_user(&user) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({"error": e.0}))).into_response(),
    }
}
