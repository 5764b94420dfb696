//! State-changing requests (all POST; CSRF checked by the guard): sync now, pause, resume,
//! refresh the mailbox list, re-run the `check` list. Each exists as a form target (answers
//! with a redirect back to the page) and under `/api/…` (answers JSON).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gc_store::{Kind, MailboxRecord};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use super::views::enabled_kinds;

/// Form fields of the action buttons.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    /// One kind, or empty for all.
    pub kind: Option<String>,
    /// The page to return to (a local path).
    pub back: Option<String>,
}

/// `?kind=` of the API actions.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KindQuery {
    /// One kind, or none for all.
    pub kind: Option<String>,
}

/// An error for the user, with its status.
pub struct Refused(pub StatusCode, pub String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// The mailbox by rep id or address.
pub async fn find(state: &AdminState, id: &str) -> Result<MailboxRecord, Refused> {
    if let Ok(Some(m)) = state.store.get_mailbox(id).await {
        return Ok(m);
    }
    let all = state
        .store
        .list_mailboxes()
        .await
        .map_err(|e| Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    all.into_iter()
        .find(|m| m.address.eq_ignore_ascii_case(id))
        .ok_or_else(|| Refused(StatusCode::NOT_FOUND, format!("no mailbox {id}")))
}

fn kind(s: Option<&str>) -> Result<Option<Kind>, Refused> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(k) => k
            .parse::<Kind>()
            .map(Some)
            .map_err(|_| Refused(StatusCode::BAD_REQUEST, format!("unknown kind {k:?}"))),
    }
}

fn store_err(e: gc_store::StoreError) -> Refused {
    Refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// Make the mailbox (one kind, or every kind) due now, end an exclusion, wake the scheduler.
pub async fn sync_now(state: &AdminState, id: &str, k: Option<Kind>) -> Result<String, Refused> {
    let m = find(state, id).await?;
    let kinds = match k {
        Some(k) => vec![k],
        None => enabled_kinds(state),
    };
    for k in kinds {
        state
            .store
            .set_due_in(&m.rep_id, k, std::time::Duration::ZERO)
            .await
            .map_err(store_err)?;
    }
    if m.excluded_until.is_some() {
        state
            .store
            .clear_exclusion(&m.rep_id)
            .await
            .map_err(store_err)?;
    }
    tracing::info!(mailbox = m.address, kind = ?k, "sync now (admin)");
    state.status.wake();
    Ok(m.rep_id)
}

/// Pause or resume locally.
pub async fn set_paused(
    state: &AdminState,
    id: &str,
    k: Option<Kind>,
    paused: bool,
) -> Result<String, Refused> {
    let m = find(state, id).await?;
    state
        .store
        .set_paused(&m.rep_id, k, paused)
        .await
        .map_err(store_err)?;
    if paused {
        state.status.stop_runs(&m.rep_id, k);
    }
    tracing::info!(mailbox = m.address, kind = ?k, paused, "pause changed (admin)");
    state.status.wake();
    Ok(m.rep_id)
}

/// Run the `check` list again and keep its report.
pub async fn recheck(state: &AdminState) {
    let report = crate::commands::check::report(&state.config, false, None).await;
    state.status.set_check(report);
}

fn back(form: &ActionForm, default: String) -> Redirect {
    // Only local paths: never an open redirect.
    let to = form
        .back
        .as_deref()
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(str::to_owned)
        .unwrap_or(default);
    Redirect::to(&to)
}

/// POST /mailboxes/{id}/sync
pub async fn sync_now_form(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Redirect, Refused> {
    let rep = sync_now(&state, &id, kind(form.kind.as_deref())?).await?;
    Ok(back(&form, format!("/mailboxes/{rep}")))
}

/// POST /mailboxes/{id}/pause
pub async fn pause_form(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Redirect, Refused> {
    let rep = set_paused(&state, &id, kind(form.kind.as_deref())?, true).await?;
    Ok(back(&form, format!("/mailboxes/{rep}")))
}

/// POST /mailboxes/{id}/resume
pub async fn resume_form(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Redirect, Refused> {
    let rep = set_paused(&state, &id, kind(form.kind.as_deref())?, false).await?;
    Ok(back(&form, format!("/mailboxes/{rep}")))
}

/// POST /refresh
pub async fn refresh_form(
    State(state): State<Arc<AdminState>>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Redirect {
    state.status.request_refresh();
    back(&form, "/".into())
}

/// POST /check
pub async fn recheck_form(State(state): State<Arc<AdminState>>) -> Redirect {
    recheck(&state).await;
    Redirect::to("/check")
}

/// POST /api/mailboxes/{id}/sync
pub async fn sync_now_api(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> Result<Json<serde_json::Value>, Refused> {
    let rep = sync_now(&state, &id, kind(q.kind.as_deref())?).await?;
    Ok(Json(json!({ "ok": true, "rep_id": rep })))
}

/// POST /api/mailboxes/{id}/pause
pub async fn pause_api(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> Result<Json<serde_json::Value>, Refused> {
    let rep = set_paused(&state, &id, kind(q.kind.as_deref())?, true).await?;
    Ok(Json(json!({ "ok": true, "rep_id": rep, "paused": true })))
}

/// POST /api/mailboxes/{id}/resume
pub async fn resume_api(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> Result<Json<serde_json::Value>, Refused> {
    let rep = set_paused(&state, &id, kind(q.kind.as_deref())?, false).await?;
    Ok(Json(json!({ "ok": true, "rep_id": rep, "paused": false })))
}

/// POST /api/refresh
pub async fn refresh_api(State(state): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    state.status.request_refresh();
    Json(json!({ "ok": true }))
}

/// POST /api/check
pub async fn recheck_api(State(state): State<Arc<AdminState>>) -> Response {
    recheck(&state).await;
    super::api::check(State(state)).await.into_response()
}
