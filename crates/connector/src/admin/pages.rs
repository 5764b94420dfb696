//! The admin pages, rendered on the server with `maud` (every interpolated value is escaped;
//! no JavaScript). Forms post to the action routes with the session's CSRF token.

use std::sync::Arc;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use gc_store::Kind;
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::AdminState;
use super::actions::find;
use super::auth::{self, Access};
use super::views::{self, LedgerQuery, MailboxRow};

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff;text-decoration:none}header .brand{font-weight:600;margin-right:1rem}
main{padding:1rem 1.2rem;max-width:1400px}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5rem 0 1.2rem}
th,td{border-bottom:1px solid #e3e6ea;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#eef1f5}
.ok{color:#1b7f3b}.failed,.failing,.excluded{color:#b42318}.paused,.warning,.waiting{color:#9a6700}.running{color:#1d4ed8}
.box{background:#fff;border:1px solid #e3e6ea;padding:.6rem 1rem;margin:.5rem 0 1rem}
form.inline{display:inline;margin:0}button{cursor:pointer;padding:.2rem .6rem}
input,select{padding:.2rem}.muted{color:#6b7280;font-size:.85rem}.fix{color:#374151;font-size:.85rem}
pre{background:#fff;border:1px solid #e3e6ea;padding:.8rem;overflow:auto}
"#;

/// GET /static/admin.css
pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

pub(crate) fn when(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

pub(crate) fn page(title: &str, access: Option<&Access>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · graph-connector" }
                    link rel="stylesheet" href="/static/admin.css";
                }
                body {
                    header {
                        span.brand { "graph-connector" }
                        a href="/" { "Mailboxes" }
                        a href="/holds" { "Confirmations" }
                        a href="/alerts" { "Alerts" }
                        a href="/check" { "Check" }
                        a href="/config" { "Configuration" }
                        @if let Some(Access::Session { csrf, login: true, .. }) = access {
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A POST button with the CSRF token.
pub(crate) fn button(
    access: &Access,
    action: &str,
    label: &str,
    kind: Option<Kind>,
    back: &str,
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(access.csrf());
            input type="hidden" name="back" value=(back);
            @if let Some(k) = kind { input type="hidden" name="kind" value=(k.as_str()); }
            button type="submit" { (label) }
        }
    }
}

fn rows_table(access: &Access, rows: &[MailboxRow], back: &str) -> Markup {
    html! {
        table #mailboxes {
            thead { tr {
                th { "Mailbox" } th { "Kind" } th { "State" } th { "Last success" }
                th { "Next due" } th { "Backlog" } th { "Held by" } th { "Last error" }
                th { "Excluded until" } th { "Actions" }
            } }
            tbody {
                @for r in rows {
                    tr data-mailbox=(r.mailbox) data-kind=(r.kind.as_str()) {
                        td { a href={ "/mailboxes/" (r.rep_id) } { (r.mailbox) } }
                        td { (r.kind.as_str()) }
                        td class=(r.state) { (r.state) }
                        td { (when(r.last_success)) }
                        td { (r.next_due.map_or_else(|| "now".to_owned(), |t| when(Some(t)))) }
                        td { (r.backlog.map(|b| b.to_string()).unwrap_or_default()) }
                        td.holder {
                            @if let Some(h) = &r.holder {
                                (h) div.muted { "until " (when(r.lease_expires)) }
                            }
                        }
                        td {
                            @if let Some(e) = &r.last_error {
                                (e)
                                @if let Some(f) = &r.fix { div.fix { "Fix: " (f) } }
                            }
                        }
                        td { (r.excluded_until.map(|t| when(Some(t))).unwrap_or_default()) }
                        td {
                            (button(access, &format!("/mailboxes/{}/sync", r.rep_id), "sync now", Some(r.kind), back))
                            " "
                            @if r.paused {
                                (button(access, &format!("/mailboxes/{}/resume", r.rep_id), "resume", Some(r.kind), back))
                            } @else {
                                (button(access, &format!("/mailboxes/{}/pause", r.rep_id), "pause", Some(r.kind), back))
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Error",
            None,
            html! { p.failed { (message) } p { a href="/" { "Back" } } },
        ),
    )
        .into_response()
}

/// GET /: tenant health, the mailbox table, reps not synchronized, the latest alerts.
pub async fn dashboard(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Response {
    let health = views::health(&state).await;
    let (all, now) = match (state.store.list_mailboxes().await, state.store.now().await) {
        (Ok(a), Ok(n)) => (a, n),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    let leases = state.store.list_leases().await.unwrap_or_default();
    let rows = views::rows(&state, &all, &leases, now);
    let processes = super::leases::processes(&state.holder, &leases, &all, now);
    let roster = state.status.roster();
    let alerts = state.store.list_alerts(5).await.unwrap_or_default();
    let held: Vec<_> = super::holds::rows(&state)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.hold.waiting())
        .collect();
    page(
        "Mailboxes",
        Some(&access),
        html! {
            section.box #health {
                h2 { "Tenant health: " span class=(if health.ok { "ok" } else { "failed" }) { (if health.ok { "ok" } else { "attention needed" }) } }
                table { tbody {
                    @for c in &health.checks {
                        tr { td { (c.name) } td class=(if c.ok { "ok" } else { "failed" }) { (if c.ok { "ok" } else { "failed" }) } td { (c.detail) } }
                    }
                } }
                (button(&access, "/refresh", "refresh the mailbox list", None, "/"))
                " "
                form.inline method="post" action="/check" {
                    input type="hidden" name="csrf" value=(access.csrf());
                    button type="submit" { "re-check" }
                }
                span.muted { " version " (health.version) " (" (health.commit) "), started " (when(health.started_at)) }
            }
            h2 { "Processes" }
            (processes_table(&processes))
            @if !held.is_empty() {
                h2 { "Waiting for confirmation" }
                (super::holds::table(&access, &held, "/"))
            }
            h2 { "Mailboxes and kinds" }
            @if rows.is_empty() { p.muted { "No mailbox yet: the list is read from CRM when the service starts." } }
            (rows_table(&access, &rows, "/"))
            @if !roster.list.unmatched.is_empty() {
                h2 { "Reps not synchronized" }
                table { tbody { @for u in &roster.list.unmatched { tr { td { (u.email) } td { (u.reason) } } } } }
            }
            @if !alerts.is_empty() {
                h2 { "Latest alerts" }
                (alerts_table(&alerts))
                p { a href="/alerts" { "All alerts" } }
            }
        },
    )
    .into_response()
}

/// The live processes sharing the state store and what each holds.
fn processes_table(procs: &super::leases::Processes) -> Markup {
    html! {
        @if procs.processes.is_empty() {
            p.muted { "No live process registered (the state store is not shared by a running service)." }
        } @else {
            table #processes {
                thead { tr { th { "Process" } th { "Name" } th { "PID" } th { "Since" } th { "Alive until" } th { "Mailboxes held" } th { "Items held" } } }
                tbody { @for r in &procs.processes {
                    tr data-holder=(r.holder) {
                        td { code { (r.holder) } @if r.this { " " span.ok { "(this process)" } } }
                        td { (r.name) }
                        td { (r.pid.map(|p| p.to_string()).unwrap_or_default()) }
                        td { (when(Some(r.since))) }
                        td { (when(Some(r.expires_at))) }
                        td { (r.mailboxes) }
                        td { (r.items) }
                    }
                } }
            }
            p.muted { "Each process renews its leases; a process that stops renewing (killed, cut off from the state store) drops off this list after "
                "[state] lease_seconds, and another takes its mailboxes over. " a href="/api/processes" { "Every lease as JSON" } }
        }
    }
}

fn alerts_table(alerts: &[gc_store::Alert]) -> Markup {
    html! {
        table #alerts {
            thead { tr { th { "When" } th { "Alert" } th { "Subject" } th { "Delivery" } } }
            tbody { @for a in alerts {
                tr {
                    td { (when(Some(a.at))) }
                    td { (a.kind) }
                    td { details { summary { (a.subject) } pre { (a.body) } } }
                    td { (a.delivery.as_str()) @if let Some(e) = &a.delivery_error { div.fix { (e) } } }
                }
            } }
        }
    }
}

/// GET /mailboxes/{id}: the mailbox, its kinds, its runs and its ledger (searchable).
pub async fn mailbox(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    Query(mut q): Query<LedgerQuery>,
) -> Response {
    let m = match find(&state, &id).await {
        Ok(m) => m,
        Err(_) => return error_page(StatusCode::NOT_FOUND, &format!("no mailbox {id}")),
    };
    let now = state.store.now().await.unwrap_or_else(|_| Timestamp::now());
    let leases = state.store.list_leases().await.unwrap_or_default();
    let rows = views::rows(&state, std::slice::from_ref(&m), &leases, now);
    let runs = state
        .store
        .list_runs(Some(&m.rep_id), 10)
        .await
        .unwrap_or_default();
    q.mailbox = Some(m.rep_id.clone());
    let ledger = views::ledger(&state, &q).await;
    let back = format!("/mailboxes/{}", m.rep_id);
    let held: Vec<_> = super::holds::rows(&state)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|h| h.rep_id == m.rep_id)
        .collect();
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    page(
        &m.address,
        Some(&access),
        html! {
            div.box {
                "Store id " code { (m.rep_id) } " · "
                @if m.paused_at.is_some() { span.paused { "paused since " (when(m.paused_at)) } " " (button(&access, &format!("/mailboxes/{}/resume", m.rep_id), "resume mailbox", None, &back)) }
                @else { (button(&access, &format!("/mailboxes/{}/pause", m.rep_id), "pause mailbox", None, &back)) }
                " " (button(&access, &format!("/mailboxes/{}/sync", m.rep_id), "sync now (all kinds)", None, &back))
                " " a href={ "/mailboxes/" (m.rep_id) "/plan" } { "plan: what the next sync would do" }
                @if let Some(e) = &m.last_error_text { p { "Last mailbox error: " (e) } }
            }
            (rows_table(&access, &rows, &back))
            @if !held.is_empty() { h2 { "Waiting for confirmation" } (super::holds::table(&access, &held, &back)) }
            h2 { "Ledger" }
            form #ledger-search method="get" action=(back) {
                "Item " input name="item" value=(v(&q.item)) size="24";
                " Action " select name="action" {
                    option value="" { "any" }
                    @for a in gc_store::LedgerAction::ALL {
                        option value=(a.as_str()) selected[q.action.as_deref() == Some(a.as_str())] { (a.as_str()) }
                    }
                }
                " Reason contains " input name="reason" value=(v(&q.reason)) size="16";
                " Since " input name="since" value=(v(&q.since)) size="12" placeholder="2026-11-27";
                " Until " input name="until" value=(v(&q.until)) size="12";
                " " button type="submit" { "search" }
            }
            @match &ledger {
                Err(e) => p.failed { (e) },
                Ok(entries) => {
                    table #ledger {
                        thead { tr { th { "When" } th { "Kind" } th { "Action" } th { "Item" } th { "CRM id" } th { "Reason" } } }
                        tbody { @for e in entries {
                            tr {
                                td { (when(Some(e.at))) } td { (e.kind.as_str()) }
                                td class=(e.action.as_str()) { (e.action.as_str()) }
                                td { code { (e.item_key) }
                                    @if let Some(s) = e.detail.as_ref().and_then(|d| d.get("subject")).and_then(|s| s.as_str()) { div.muted { (s) } } }
                                td { (e.crm_id.map(|c| c.to_string()).unwrap_or_default()) }
                                td { (e.reason) }
                            }
                        } }
                    }
                    @if entries.is_empty() { p.muted { "No entry matches." } }
                }
            }
            (super::reprocess::section(&access, &m.rep_id, &views::enabled_kinds(&state)))
            h2 { "Latest runs" }
            table #runs {
                thead { tr { th { "Started" } th { "Kind" } th { "Outcome" } th { "Created" } th { "Adopted" } th { "Skipped" } th { "Failed" } th { "Warnings" } th { "Error" } } }
                tbody { @for r in &runs {
                    tr {
                        td { (when(Some(r.started_at))) } td { (r.kind.as_str()) }
                        td { (r.outcome.map(|o| o.as_str()).unwrap_or("running or abandoned")) }
                        td { (r.counts.created) } td { (r.counts.adopted) } td { (r.counts.skipped) }
                        td { (r.counts.failed) } td { (r.counts.warnings) } td { (r.error.clone().unwrap_or_default()) }
                    }
                } }
            }
        },
    )
    .into_response()
}

/// GET /alerts
pub async fn alerts(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Response {
    let alerts = state.store.list_alerts(200).await.unwrap_or_default();
    let e = &state.config.errors;
    page(
        "Alerts",
        Some(&access),
        html! {
            p.muted {
                "Sent to " (state.config.microsoft.admin_email) " when [errors] notify_admin is on (it is "
                (if e.notify_admin { "on" } else { "off" }) "); the same alert at most once every "
                (e.alert_repeat_hours) " hour(s)."
            }
            @if alerts.is_empty() { p { "No alert so far." } }
            (alerts_table(&alerts))
        },
    )
    .into_response()
}

/// GET /check: the last `check` report.
pub async fn check(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Response {
    let last = state.status.check();
    page(
        "Check",
        Some(&access),
        html! {
            form method="post" action="/check" {
                input type="hidden" name="csrf" value=(access.csrf());
                button type="submit" { "re-check" }
                span.muted { " runs the same checks as `graph-connector check` (takes a few seconds)" }
            }
            @match last {
                None => p.muted { "Not run yet in this service." },
                Some((at, report)) => {
                    p { "Run at " (when(Some(at))) ": " span class=(if report.ok { "ok" } else { "failed" }) { (if report.ok { "all passed" } else { "some failed" }) } }
                    table #checks {
                        thead { tr { th { "Area" } th { "Check" } th { "Status" } th { "Cause" } th { "Fix" } } }
                        tbody { @for l in &report.checks {
                            tr { td { (l.area) } td { (l.name) } td class=(l.status) { (l.status) }
                                 td { (l.cause.clone().unwrap_or_default()) } td { (l.fix.clone().unwrap_or_default()) } }
                        } }
                    }
                }
            }
        },
    )
    .into_response()
}

/// GET /config: the effective configuration, secrets redacted.
pub async fn config(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Response {
    page(
        "Configuration",
        Some(&access),
        html! {
            p.muted { "The effective configuration (file, environment overrides and *_file secrets); every secret is shown as [REDACTED]." }
            pre { (super::api::redacted_config(&state)) }
        },
    )
    .into_response()
}

/// GET /login: asks for the admin token once.
pub async fn login_form(State(state): State<Arc<AdminState>>) -> Response {
    if state.config.admin.token.is_none() {
        return Redirect::to("/").into_response();
    }
    page(
        "Log in",
        None,
        html! {
            form method="post" action="/login" {
                label { "Admin token " input type="password" name="token" autocomplete="current-password" autofocus; }
                " " button type="submit" { "log in" }
            }
            p.muted { "The token is [admin] token (or token_file) of the service's configuration." }
        },
    )
    .into_response()
}

/// The login form's field.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// POST /login: check the token, start a session.
pub async fn login(
    State(state): State<Arc<AdminState>>,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    if !auth::token_matches(&state, form.token.trim()) {
        tracing::warn!("admin login with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "Log in",
                None,
                html! { p.failed { "Wrong token." } p { a href="/login" { "Try again" } } },
            ),
        )
            .into_response();
    }
    let (id, _) = state.sessions.create();
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, auth::cookie(&id));
    (headers, Redirect::to("/")).into_response()
}

/// POST /logout
pub async fn logout(
    State(state): State<Arc<AdminState>>,
    Extension(access): Extension<Access>,
) -> Redirect {
    if let Access::Session { id, .. } = access {
        state.sessions.remove(&id);
    }
    Redirect::to("/login")
}
