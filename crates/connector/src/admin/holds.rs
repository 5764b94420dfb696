//! What waits for the administrator, and the plan of a mailbox (docs/SAFETY.md): the
//! first-sync review (`[mailboxes] confirm_first_sync_above`) and the mass-delete guard
//! (`[errors] max_delete_fraction`) hold a mailbox and kind until it is confirmed here or with
//! `graph-connector confirm`. Every confirmation goes to the ledger with who asked (the
//! admin page's session or the API's bearer token, and the client's address).
//!
//! Routes: `GET /holds` (the waiting list with confirm buttons), `GET /mailboxes/{id}/plan`
//! (what the next sync of the mailbox would do, computed on request, writing nothing),
//! `POST /mailboxes/{id}/confirm` (form, CSRF-checked by the guard), and the same as JSON:
//! `GET /api/holds`, `GET /api/mailboxes/{id}/plan`, `POST /api/mailboxes/{id}/confirm?kind=`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gc_store::Kind;
use gc_sync::engine::{Hold, holds};
use gc_sync::plan::MailboxPlan;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AdminState;
use super::actions::{ActionForm, KindQuery, Refused, find};
use super::auth::Access;
use super::pages::{button, error_page, page, when};

/// One hold, as the page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct HoldRow {
    /// The mailbox's store id.
    pub rep_id: String,
    /// Its address.
    pub mailbox: String,
    /// The kind.
    pub kind: Kind,
    /// The hold.
    #[serde(flatten)]
    pub hold: Hold,
}

/// Who asked, for the ledger: how the request was authenticated and from where (never the
/// token or the session id).
pub fn who(access: &Access, from: SocketAddr) -> String {
    match access {
        Access::Bearer => format!("admin API (bearer token) from {}", from.ip()),
        Access::Session { login: true, .. } => {
            format!("admin page (signed-in session) from {}", from.ip())
        }
        Access::Session { .. } => format!("admin page (loopback) from {}", from.ip()),
    }
}

fn unavailable(message: String) -> Refused {
    Refused(StatusCode::SERVICE_UNAVAILABLE, message)
}

/// Every hold, with the mailboxes' addresses.
pub async fn rows(state: &AdminState) -> Result<Vec<HoldRow>, Refused> {
    let all = holds::list(state.store.as_ref())
        .await
        .map_err(|e| unavailable(e.message))?;
    let mailboxes = state
        .store
        .list_mailboxes()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(all
        .into_iter()
        .map(|(rep_id, kind, hold)| HoldRow {
            mailbox: mailboxes
                .iter()
                .find(|m| m.rep_id == rep_id)
                .map_or_else(|| rep_id.clone(), |m| m.address.clone()),
            rep_id,
            kind,
            hold,
        })
        .collect())
}

fn kind_of(s: Option<&str>) -> Result<Kind, Refused> {
    let k = s.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
        Refused(
            StatusCode::BAD_REQUEST,
            "name the kind to confirm".to_owned(),
        )
    })?;
    k.parse::<Kind>()
        .map_err(|_| Refused(StatusCode::BAD_REQUEST, format!("unknown kind {k:?}")))
}

/// Confirm the hold of a mailbox and kind; `who` goes to the ledger.
pub async fn confirm(
    state: &AdminState,
    id: &str,
    kind: Kind,
    who: &str,
) -> Result<(String, Hold), Refused> {
    let m = find(state, id).await?;
    let hold = holds::confirm(state.store.as_ref(), &m.rep_id, kind, who)
        .await
        .map_err(|e| unavailable(e.message))?
        .ok_or_else(|| {
            Refused(
                StatusCode::NOT_FOUND,
                format!("nothing of {} {kind} waits for confirmation", m.address),
            )
        })?;
    tracing::info!(mailbox = m.address, %kind, who, "hold confirmed (admin)");
    // The run goes ahead at once.
    if let Err(e) = state
        .store
        .set_due_in(&m.rep_id, kind, std::time::Duration::ZERO)
        .await
    {
        tracing::warn!(mailbox = m.address, error = %e, "cannot make the mailbox due");
    }
    state.status.wake();
    Ok((m.rep_id, hold))
}

/// The plan of one mailbox (all its enabled kinds, or one), computed now.
pub async fn plan(
    state: &AdminState,
    id: &str,
    kind: Option<Kind>,
) -> Result<Vec<MailboxPlan>, Refused> {
    let m = find(state, id).await?;
    let rt = crate::commands::sync::Runtime::build_with_store(&state.config, state.store.clone())
        .map_err(|e| unavailable(format!("{e:#}")))?;
    crate::commands::plan::plan(&rt, Some(&m.address), kind)
        .await
        .map(|p| p.plans)
        .map_err(|e| unavailable(format!("{e:#}")))
}

/// The waiting list (also on the dashboard).
pub fn table(access: &Access, rows: &[HoldRow], back: &str) -> Markup {
    html! {
        table #holds {
            thead { tr { th { "Mailbox" } th { "Kind" } th { "Why" } th { "Since" } th { "What was held" } th { "State" } th { "Actions" } } }
            tbody { @for r in rows {
                tr data-mailbox=(r.mailbox) data-kind=(r.kind.as_str()) {
                    td { a href={ "/mailboxes/" (r.rep_id) } { (r.mailbox) } }
                    td { (r.kind.as_str()) }
                    td { (r.hold.reason.text()) }
                    td { (when(Some(r.hold.since))) }
                    td {
                        (r.hold.summary)
                        @if let Some(p) = &r.hold.plan {
                            details { summary { "details" } pre { (serde_json::to_string_pretty(p).unwrap_or_default()) } }
                        }
                    }
                    td {
                        @match &r.hold.confirmed_by {
                            None => span.waiting { "waiting" },
                            Some(who) => span.ok { "confirmed by " (who) },
                        }
                    }
                    td {
                        @if r.hold.waiting() {
                            (button(access, &format!("/mailboxes/{}/confirm", r.rep_id), "confirm", Some(r.kind), back))
                        }
                        " " a href={ "/mailboxes/" (r.rep_id) "/plan?kind=" (r.kind.as_str()) } { "plan" }
                    }
                }
            } }
        }
    }
}

/// GET /holds
pub async fn page_holds(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Response {
    let rows = match rows(&state).await {
        Ok(r) => r,
        Err(e) => return error_page(e.0, &e.1),
    };
    page(
        "Waiting for confirmation",
        Some(&access),
        html! {
            p.muted { "A mailbox and kind held here writes nothing until it is confirmed: its first sync was larger than [mailboxes] confirm_first_sync_above, or the mass-delete guard ([errors] max_delete_fraction) stopped a run before its deletions. Confirming lets the next run go ahead (at once); it is recorded in the ledger with who confirmed." }
            @if rows.is_empty() { p { "Nothing waits." } }
            @else { (table(&access, &rows, "/holds")) }
        },
    )
    .into_response()
}

/// `?kind=` of the plan.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PlanQuery {
    /// One kind, or every enabled kind.
    pub kind: Option<String>,
}

fn optional_kind(s: Option<&str>) -> Result<Option<Kind>, Refused> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(k) => kind_of(Some(k)).map(Some),
    }
}

/// GET /mailboxes/{id}/plan
pub async fn page_plan(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> Response {
    let kind = match optional_kind(q.kind.as_deref()) {
        Ok(k) => k,
        Err(e) => return error_page(e.0, &e.1),
    };
    let m = match find(&state, &id).await {
        Ok(m) => m,
        Err(e) => return error_page(e.0, &e.1),
    };
    let plans = match plan(&state, &m.rep_id, kind).await {
        Ok(p) => p,
        Err(e) => return error_page(e.0, &e.1),
    };
    let held = rows(&state)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.rep_id == m.rep_id)
        .collect::<Vec<_>>();
    let back = format!("/mailboxes/{}/plan", m.rep_id);
    page(
        &format!("Plan of {}", m.address),
        Some(&access),
        html! {
            p.muted { "What the next sync would do, computed now from the stored checkpoints; nothing was written to Microsoft 365, CRM or the state store." }
            @if !held.is_empty() { h2 { "Waiting for confirmation" } (table(&access, &held, &back)) }
            table #plan {
                thead { tr { th { "Kind" } th { "Create" } th { "Adopt" } th { "Update" } th { "Delete" } th { "Skip" } th { "Fail" } th { "Delay" } th { "CRM: new / updated / deleted" } th { "Microsoft 365: new / updated / deleted" } th { "Examples" } } }
                tbody { @for p in &plans {
                    tr data-kind=(p.kind.as_str()) {
                        td { (p.kind.as_str()) @if p.first_sync { div.muted { "first sync" } } @if let Some(e) = &p.error { div.failed { (e) } } }
                        td.create { (p.create) } td.adopt { (p.adopt) } td.update { (p.update) } td.delete { (p.delete) }
                        td.skip { (p.skip) } td { (p.fail) } td { (p.delay) }
                        td { (p.sides.crm.create + p.sides.crm.adopt) " / " (p.sides.crm.update) " / " (p.sides.crm.delete) }
                        td { (p.sides.microsoft365.create + p.sides.microsoft365.adopt) " / " (p.sides.microsoft365.update) " / " (p.sides.microsoft365.delete) }
                        td { ul { @for s in &p.samples { li { strong { (s.action) } " " code { (s.item) } ": " (s.reason) } } }
                            @if p.expected_copies > 0 { div.muted.copies { (p.expected_copies) " cop" @if p.expected_copies == 1 { "y" } @else { "ies" } " in other synced calendars, adopted by their runs (this one or the next):" } }
                            ul { @for c in &p.copies { li { strong { "copy" } " " code { (c.item) } ": " (c.reason) } } } }
                    }
                } }
            }
            p { a href={ "/mailboxes/" (m.rep_id) } { "Back to the mailbox" } }
        },
    )
    .into_response()
}

/// POST /mailboxes/{id}/confirm (form: `kind`, `csrf`, `back`)
pub async fn confirm_form(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ActionForm>,
) -> Result<Redirect, Refused> {
    let kind = kind_of(form.kind.as_deref())?;
    let (rep, _) = confirm(&state, &id, kind, &who(&access, from)).await?;
    let to = form
        .back
        .as_deref()
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("/mailboxes/{rep}"));
    Ok(Redirect::to(&to))
}

/// POST /api/mailboxes/{id}/confirm?kind=K
pub async fn confirm_api(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<KindQuery>,
) -> Result<Json<serde_json::Value>, Refused> {
    let kind = kind_of(q.kind.as_deref())?;
    let (rep, hold) = confirm(&state, &id, kind, &who(&access, from)).await?;
    Ok(Json(
        json!({ "ok": true, "rep_id": rep, "kind": kind, "hold": hold }),
    ))
}

/// GET /api/holds
pub async fn holds_api(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<HoldRow>>, Refused> {
    rows(&state).await.map(Json)
}

/// GET /api/mailboxes/{id}/plan?kind=K: `{"plans": [...]}` as `graph-connector plan --json`.
pub async fn plan_api(
    State(state): State<Arc<AdminState>>,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> Result<Json<serde_json::Value>, Refused> {
    let kind = optional_kind(q.kind.as_deref())?;
    let plans = plan(&state, &id, kind).await?;
    Ok(Json(json!({ "plans": plans })))
}
