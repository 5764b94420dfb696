//! The reprocess controls on the admin server (see `gc_sync::reprocess` for what each does):
//! resync or forget one item, reset a mailbox's kind. POST only, behind the admin guard (token
//! or session, CSRF for forms). Each is written to the ledger with who asked: the name typed
//! into the form's `by` field (or `?by=`), else `admin`, with how the request came (browser
//! session or bearer token) and from where; never the token or the session id.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::{Extension, Form};
use gc_store::Kind;
use gc_sync::reprocess::{self, Done, ReprocessError, Requester};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::AdminState;
use super::actions::Refused;
use super::auth::Access;

/// The fields of the reprocess forms and the `?…` of the API routes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReprocessForm {
    /// email, appointment, task, contact, absence.
    pub kind: Option<String>,
    /// The item: Graph id, iCalUId or internetMessageId, or CRM id (resync, forget).
    pub item: Option<String>,
    /// `YYYY-MM-DD` (reset).
    pub from: Option<String>,
    /// Who asks (recorded in the ledger); default `admin`.
    pub by: Option<String>,
    /// The page to return to (a local path).
    pub back: Option<String>,
}

/// Who asked, as the ledger records it.
fn requester(
    form: &ReprocessForm,
    access: &Access,
    peer: SocketAddr,
) -> Result<Requester, Refused> {
    let name = form
        .by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("admin");
    if name.len() > 100 || name.chars().any(char::is_control) {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            "the name in `by` must be a short line of text".into(),
        ));
    }
    let how = match access {
        Access::Bearer => "bearer token",
        Access::Session { .. } => "browser session",
    };
    Requester::new(format!("{name} ({how} from {})", peer.ip()), "admin")
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, e.to_string()))
}

fn kind(form: &ReprocessForm) -> Result<Kind, Refused> {
    let k = form.kind.as_deref().map(str::trim).unwrap_or_default();
    k.parse::<Kind>().map_err(|_| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("unknown kind {k:?}: email, appointment, task, contact or absence"),
        )
    })
}

fn item(form: &ReprocessForm) -> Result<&str, Refused> {
    form.item
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refused(StatusCode::BAD_REQUEST, "which item? (item=)".into()))
}

fn refused(e: ReprocessError) -> Refused {
    let status = match e {
        ReprocessError::NoMailbox(_) | ReprocessError::NoItem { .. } => StatusCode::NOT_FOUND,
        ReprocessError::Ambiguous { .. } | ReprocessError::Deleted { .. } => StatusCode::CONFLICT,
        ReprocessError::NoRequester => StatusCode::BAD_REQUEST,
        ReprocessError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Refused(status, e.to_string())
}

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Resync,
    Forget,
    Reset,
}

async fn apply(
    state: &AdminState,
    id: &str,
    op: Op,
    form: &ReprocessForm,
    who: &Requester,
) -> Result<Done, Refused> {
    let m = super::actions::find(state, id).await?;
    let k = kind(form)?;
    let store = state.store.as_ref();
    let done = match op {
        Op::Resync => reprocess::resync(store, &m.rep_id, k, item(form)?, who).await,
        Op::Forget => reprocess::forget(store, &m.rep_id, k, item(form)?, who).await,
        Op::Reset => {
            let from = match form
                .from
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                None => None,
                Some(d) => {
                    let day: jiff::civil::Date = d.parse().map_err(|_| {
                        Refused(
                            StatusCode::BAD_REQUEST,
                            format!("{d:?} is not a date (YYYY-MM-DD)"),
                        )
                    })?;
                    let tz = crate::wiring::time_zone(&state.config)
                        .map_err(|e| Refused(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                    Some(
                        day.to_zoned_datetime(tz)
                            .map_err(|e| Refused(StatusCode::BAD_REQUEST, e.to_string()))?
                            .timestamp(),
                    )
                }
            };
            reprocess::reset(store, &m.rep_id, k, from, who).await
        }
    }
    .map_err(refused)?;
    tracing::info!(mailbox = m.address, kind = %k, ?op, by = who.who, "reprocess (admin)");
    // The next look at the schedule picks the change up; make it now.
    let _ = state
        .store
        .set_due_in(&m.rep_id, k, std::time::Duration::ZERO)
        .await;
    state.status.wake();
    Ok(done)
}

fn back(form: &ReprocessForm, rep: &str) -> Redirect {
    let to = form
        .back
        .as_deref()
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("/mailboxes/{rep}"));
    Redirect::to(&to)
}

async fn form_op(
    state: Arc<AdminState>,
    access: Access,
    peer: SocketAddr,
    id: String,
    form: ReprocessForm,
    op: Op,
) -> Result<Redirect, Refused> {
    let who = requester(&form, &access, peer)?;
    let done = apply(&state, &id, op, &form, &who).await?;
    Ok(back(&form, &done.mailbox))
}

async fn api_op(
    state: Arc<AdminState>,
    access: Access,
    peer: SocketAddr,
    id: String,
    q: ReprocessForm,
    op: Op,
) -> Result<Json<serde_json::Value>, Refused> {
    let who = requester(&q, &access, peer)?;
    let d = apply(&state, &id, op, &q, &who).await?;
    Ok(Json(json!({
        "ok": true,
        "rep_id": d.mailbox,
        "item": d.item,
        "crm_id": d.crm_id.map(|c| c.to_string()),
        "cursors_dropped": d.cursors_dropped,
        "summary": d.summary,
        "requested_by": who.who,
    })))
}

/// POST /mailboxes/{id}/items/resync
pub async fn resync_form(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Form(f): Form<ReprocessForm>,
) -> Result<Redirect, Refused> {
    form_op(s, a, peer, id, f, Op::Resync).await
}

/// POST /mailboxes/{id}/items/forget
pub async fn forget_form(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Form(f): Form<ReprocessForm>,
) -> Result<Redirect, Refused> {
    form_op(s, a, peer, id, f, Op::Forget).await
}

/// POST /mailboxes/{id}/reset
pub async fn reset_form(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Form(f): Form<ReprocessForm>,
) -> Result<Redirect, Refused> {
    form_op(s, a, peer, id, f, Op::Reset).await
}

/// POST /api/mailboxes/{id}/items/resync?kind=&item=[&by=]
pub async fn resync_api(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<ReprocessForm>,
) -> Result<Json<serde_json::Value>, Refused> {
    api_op(s, a, peer, id, q, Op::Resync).await
}

/// POST /api/mailboxes/{id}/items/forget?kind=&item=[&by=]
pub async fn forget_api(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<ReprocessForm>,
) -> Result<Json<serde_json::Value>, Refused> {
    api_op(s, a, peer, id, q, Op::Forget).await
}

/// POST /api/mailboxes/{id}/reset?kind=[&from=YYYY-MM-DD][&by=]
pub async fn reset_api(
    State(s): State<Arc<AdminState>>,
    Extension(a): Extension<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(q): Query<ReprocessForm>,
) -> Result<Json<serde_json::Value>, Refused> {
    api_op(s, a, peer, id, q, Op::Reset).await
}

/// The "Reprocess" section of a mailbox page: the three forms.
pub fn section(access: &Access, rep_id: &str, kinds: &[Kind]) -> Markup {
    let back = format!("/mailboxes/{rep_id}");
    let kind_select = html! {
        select name="kind" {
            @for k in kinds { option value=(k.as_str()) { (k.as_str()) } }
        }
    };
    html! {
        h2 { "Reprocess" }
        div.box #reprocess {
            p.muted {
                "Resync: the next run compares the item with its record and writes what differs (the record is found through the link, never written twice). "
                "Forget: the link is dropped; the item is treated as new (adopted) when it is met again. "
                "Reset: the kind is walked again from the start at the next run, links kept. "
                "Every action is written to the ledger with who asked."
            }
            @for (action, label) in [("resync", "resync item"), ("forget", "forget item")] {
                form.inline method="post" action={ "/mailboxes/" (rep_id) "/items/" (action) } {
                    input type="hidden" name="csrf" value=(access.csrf());
                    input type="hidden" name="back" value=(back);
                    (kind_select)
                    " " input name="item" size="28" placeholder="Graph id, iCalUId, internetMessageId or CRM id" required;
                    " " input name="by" size="10" placeholder="your name";
                    " " button type="submit" { (label) }
                }
                br;
            }
            form.inline method="post" action={ "/mailboxes/" (rep_id) "/reset" } {
                input type="hidden" name="csrf" value=(access.csrf());
                input type="hidden" name="back" value=(back);
                (kind_select)
                " from " input name="from" size="10" placeholder="YYYY-MM-DD (optional)";
                " " input name="by" size="10" placeholder="your name";
                " " button type="submit" { "reset (walk again)" }
            }
        }
    }
}
