//! The JSON API (`/api/…`) and `/metrics`. Every answer is the same data the pages show.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use super::actions::{Refused, find};
use super::auth::Access;
use super::views::{self, LedgerQuery};

/// GET /metrics: Prometheus text format.
pub async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::render(),
    )
        .into_response()
}

/// GET /api/health: `{"ok": bool, "checks": [...]}`; HTTP 503 when not ok.
pub async fn health(State(state): State<Arc<AdminState>>) -> Response {
    let h = views::health(&state).await;
    let status = if h.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(h)).into_response()
}

/// GET /api/session: the CSRF token of this browser session (for scripts on loopback
/// without a token: keep the cookie and send the token as `X-CSRF-Token`).
pub async fn session(Extension(access): Extension<Access>) -> Json<serde_json::Value> {
    Json(json!({ "csrf": access.csrf() }))
}

/// GET /api/mailboxes: one object per mailbox and kind.
pub async fn mailboxes(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<views::MailboxRow>>, Refused> {
    let all = state.store.list_mailboxes().await.map_err(unavailable)?;
    let leases = state.store.list_leases().await.map_err(unavailable)?;
    let now = state.store.now().await.map_err(unavailable)?;
    Ok(Json(views::rows(&state, &all, &leases, now)))
}

/// GET /api/processes: the processes sharing the state store (live ones: their presence
/// lease is unexpired), which of them serves this answer, and every lease with its holder
/// and expiry.
pub async fn processes(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<super::leases::Processes>, Refused> {
    let all = state.store.list_mailboxes().await.map_err(unavailable)?;
    let leases = state.store.list_leases().await.map_err(unavailable)?;
    let now = state.store.now().await.map_err(unavailable)?;
    Ok(Json(super::leases::processes(
        &state.holder,
        &leases,
        &all,
        now,
    )))
}

fn unavailable(e: gc_store::StoreError) -> Refused {
    Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// GET /api/mailboxes/{id}: the mailbox (by rep id or address), its rows and its last runs.
pub async fn mailbox(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Refused> {
    let m = find(&state, &id).await?;
    let now = state.store.now().await.map_err(unavailable)?;
    let runs = state
        .store
        .list_runs(Some(&m.rep_id), 50)
        .await
        .map_err(unavailable)?;
    let leases = state.store.list_leases().await.map_err(unavailable)?;
    let rows = views::rows(&state, std::slice::from_ref(&m), &leases, now);
    Ok(Json(json!({
        "mailbox": m.address,
        "rep_id": m.rep_id,
        "enabled": m.enabled,
        "paused_at": m.paused_at,
        "excluded_until": m.excluded_until,
        "consecutive_failures": m.consecutive_failures,
        "last_error": m.last_error_text,
        "kinds": rows,
        "runs": runs,
    })))
}

/// GET /api/ledger?mailbox=&kind=&item=&action=&reason=&since=&until=&limit=
pub async fn ledger(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<Vec<gc_store::LedgerEntry>>, Refused> {
    views::ledger(&state, &q)
        .await
        .map(Json)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, e))
}

/// `?mailbox=&limit=`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Mailbox address or rep id.
    pub mailbox: Option<String>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<u32>,
}

/// GET /api/runs?mailbox=&limit=
pub async fn runs(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<gc_store::Run>>, Refused> {
    let mailbox = match q.mailbox.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(find(&state, m).await?.rep_id),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    state
        .store
        .list_runs(mailbox.as_deref(), limit)
        .await
        .map(Json)
        .map_err(unavailable)
}

/// GET /api/alerts?limit=
pub async fn alerts(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<gc_store::Alert>>, Refused> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    state
        .store
        .list_alerts(limit)
        .await
        .map(Json)
        .map_err(unavailable)
}

/// GET /api/config: the effective configuration with every secret redacted.
pub async fn config(State(state): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    Json(json!({ "text": redacted_config(&state) }))
}

/// The effective configuration as text. Secrets are `SecretString` (their `Debug` prints
/// `[REDACTED]`) and database URLs hide their credentials, so this never shows a secret.
pub fn redacted_config(state: &AdminState) -> String {
    format!("{:#?}", state.config)
}

/// GET /api/check: the last `check` report (`null` before the first "re-check").
pub async fn check(State(state): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    Json(match state.status.check() {
        Some((at, report)) => json!({ "at": at, "ok": report.ok, "checks": report.checks }),
        None => serde_json::Value::Null,
    })
}
