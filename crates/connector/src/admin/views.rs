//! The data the admin page and the JSON API show, shaped once for both: tenant health, the
//! mailbox table (one row per mailbox and kind), ledger searches.

use std::time::Instant;

use gc_store::{Kind, LedgerAction, LedgerEntry, LedgerFilter, MailboxRecord};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AdminState;
use crate::daemon::scheduler::mailbox_state;

/// One line of `/api/health`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthCheck {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or what is wrong and what to do.
    pub detail: String,
}

/// `/api/health`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Every check passed.
    pub ok: bool,
    /// The checks.
    pub checks: Vec<HealthCheck>,
    /// Version of the service.
    pub version: &'static str,
    /// Git commit it was built from.
    pub commit: &'static str,
    /// When the service started.
    pub started_at: Option<Timestamp>,
}

/// Tenant health now: the token and its permissions, CRM.interface, the state store, the
/// mailbox list, and the tenant-level error that stops runs (if any).
pub async fn health(state: &AdminState) -> Health {
    let mut checks = Vec::new();
    let tenant = state.status.tenant();
    checks.push(HealthCheck {
        name: "tenant",
        ok: tenant.ok,
        detail: match (&tenant.error, tenant.checked_at) {
            (Some(e), _) => e.clone(),
            (None, Some(at)) => format!("token and CRM login accepted (checked {at})"),
            (None, None) => "not checked yet".into(),
        },
    });
    match state.graph.client().access_token().await {
        Ok(token) => {
            let roles = token.roles.clone().unwrap_or_default();
            let missing: Vec<&str> = gc_graph::Permission::REQUIRED
                .iter()
                .map(|p| p.as_str())
                .filter(|p| !roles.iter().any(|r| r == p))
                .collect();
            checks.push(HealthCheck {
                name: "token",
                ok: true,
                detail: format!("access token valid until {}", token.expires_on),
            });
            checks.push(HealthCheck {
                name: "permissions",
                ok: missing.is_empty(),
                detail: if missing.is_empty() {
                    format!("granted: {}", roles.join(", "))
                } else {
                    format!(
                        "missing application permission(s) {}: grant them to the app registration and give admin consent",
                        missing.join(", ")
                    )
                },
            });
        }
        Err(e) => checks.push(HealthCheck {
            name: "token",
            ok: false,
            detail: e.to_string(),
        }),
    }
    let crm_ok = tenant.ok || !tenant.error.as_deref().unwrap_or("").contains("CRM");
    checks.push(HealthCheck {
        name: "crm",
        ok: crm_ok && tenant.checked_at.is_some(),
        detail: if crm_ok {
            "the master user is accepted".into()
        } else {
            tenant.error.clone().unwrap_or_default()
        },
    });
    let started = Instant::now();
    checks.push(match state.store.now().await {
        Ok(_) => HealthCheck {
            name: "state_store",
            ok: true,
            detail: format!(
                "{} answers ({:.1} ms)",
                state.config.state.url,
                started.elapsed().as_secs_f64() * 1000.0
            ),
        },
        Err(e) => HealthCheck {
            name: "state_store",
            ok: false,
            detail: e.to_string(),
        },
    });
    let roster = state.status.roster();
    checks.push(HealthCheck {
        name: "mailbox_list",
        ok: roster.refreshed_at.is_some(),
        detail: match roster.refreshed_at {
            Some(at) => format!(
                "{} mailbox(es), {} rep(s) not synchronized, read {at}",
                roster.list.targets.len(),
                roster.list.unmatched.len()
            ),
            None => "not read yet".into(),
        },
    });
    Health {
        ok: checks.iter().all(|c| c.ok),
        checks,
        version: env!("CARGO_PKG_VERSION"),
        commit: crate::GIT_COMMIT,
        started_at: state.status.started_at(),
    }
}

/// One row of the mailbox table: a mailbox and one kind (`/api/mailboxes`).
#[derive(Debug, Clone, Serialize)]
pub struct MailboxRow {
    /// The mailbox's address.
    pub mailbox: String,
    /// The store's id of the mailbox (the rep's CRM id).
    pub rep_id: String,
    /// The kind.
    pub kind: Kind,
    /// ok, running, failing, excluded, paused (mailbox or kind), disabled, waiting (never run).
    pub state: &'static str,
    /// When a run of this kind last ended without error.
    pub last_success: Option<Timestamp>,
    /// When a run of this kind last ended.
    pub last_run: Option<Timestamp>,
    /// When it is due next (`None`: now).
    pub next_due: Option<Timestamp>,
    /// Items the last run left for later.
    pub backlog: Option<u64>,
    /// The last error of this kind, or of the mailbox.
    pub last_error: Option<String>,
    /// What to do about the last error.
    pub fix: Option<String>,
    /// Excluded after repeated access errors until then.
    pub excluded_until: Option<Timestamp>,
    /// Paused locally (the mailbox, or this kind).
    pub paused: bool,
    /// The process working it now (the holder of its unexpired lease), this one or another
    /// sharing the state store.
    pub holder: Option<String>,
    /// When that lease expires unless renewed.
    pub lease_expires: Option<Timestamp>,
}

/// The kinds the service runs with this configuration.
pub fn enabled_kinds(state: &AdminState) -> Vec<Kind> {
    crate::wiring::enabled_kinds(&state.config)
}

/// Rows for these mailboxes; `leases` (the store's lease table) tell which process works
/// which of them right now.
pub fn rows(
    state: &AdminState,
    mailboxes: &[MailboxRecord],
    leases: &[gc_store::Lease],
    now: Timestamp,
) -> Vec<MailboxRow> {
    let kinds = enabled_kinds(state);
    let holders = super::leases::mailbox_holders(leases, now);
    let roster = state.status.roster();
    // A mailbox of the current list shows the kinds its rep's flags switch on; one that is
    // not in it (not read yet, disabled, excluded) shows every enabled kind's state.
    let synced = |rep_id: &str, kind: Kind| {
        roster
            .list
            .targets
            .iter()
            .find(|t| t.mailbox() == rep_id)
            .is_none_or(|t| t.owner.kinds.has(kind))
    };
    let mut out = Vec::new();
    for m in mailboxes {
        for kind in kinds.iter().filter(|k| synced(&m.rep_id, **k)) {
            let k = m.kinds.get(kind).cloned().unwrap_or_default();
            let held = holders.get(&(m.rep_id.clone(), *kind));
            // Running here, or in another process sharing the store.
            let running = state.status.is_running(&m.rep_id, *kind) || held.is_some();
            let mut st = mailbox_state(m, running, now);
            if st == "ok" {
                if k.paused_at.is_some() {
                    st = "paused";
                } else if k.last_run_at.is_none() {
                    st = "waiting";
                } else if matches!(
                    k.last_outcome,
                    Some(gc_store::RunOutcome::Failed | gc_store::RunOutcome::Partial)
                ) {
                    st = "failing";
                }
            }
            let last_error = k.last_error.clone().or_else(|| {
                (m.consecutive_failures > 0)
                    .then(|| m.last_error_text.clone())
                    .flatten()
            });
            out.push(MailboxRow {
                mailbox: m.address.clone(),
                rep_id: m.rep_id.clone(),
                kind: *kind,
                state: st,
                last_success: k.last_success_at,
                last_run: k.last_run_at,
                next_due: m.next_due.get(kind).copied(),
                backlog: k.backlog,
                fix: last_error
                    .as_deref()
                    .map(|e| fix_for(m.last_error_kind.as_deref(), e)),
                last_error,
                excluded_until: m.excluded_until.filter(|u| *u > now),
                paused: m.is_paused(*kind),
                holder: held.map(|h| h.0.clone()),
                lease_expires: held.map(|h| h.1),
            });
        }
    }
    out
}

/// What an administrator can do about an error, from its kind and text.
pub fn fix_for(kind: Option<&str>, text: &str) -> String {
    let t = text.to_ascii_lowercase();
    if kind == Some("access_denied") || t.contains("access") && t.contains("denied") {
        "check that the mailbox exists, has an Exchange Online licence, and that the app's application access policy includes it; then press \"sync now\"".into()
    } else if t.contains("licen") || t.contains("refuses to act") {
        "check the rep's CRM licence, login and e-mail address in CRM".into()
    } else if t.contains("delayed") || t.contains("throttl") || t.contains("503") {
        "nothing to do: delayed messages are retried automatically".into()
    } else if t.contains("stop_after_errors") {
        "look at the failed items in the ledger below: something refuses every item (often CRM catalogs or rights); `graph-connector check` helps".into()
    } else if t.contains("not reachable") || t.contains("timed out") || t.contains("timeout") {
        "check the network path to the server named in the error; the service retries by itself"
            .into()
    } else {
        "see the ledger of this mailbox for the items concerned; `graph-connector check` tests the whole setup".into()
    }
}

/// A ledger search from the page's form or the API's query string.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LedgerQuery {
    /// Mailbox address or rep id.
    pub mailbox: Option<String>,
    /// email, appointment, task, contact, absence.
    pub kind: Option<String>,
    /// Item key (Graph id or internetMessageId).
    pub item: Option<String>,
    /// created, adopted, skipped, failed, …
    pub action: Option<String>,
    /// Words the reason must contain (case-insensitive).
    pub reason: Option<String>,
    /// At or after (date or time).
    pub since: Option<String>,
    /// Before (date or time).
    pub until: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A date (`2026-11-27`, UTC midnight) or a time (`2026-11-27T10:00:00Z`).
pub fn parse_when(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| {
        format!("{s:?} is neither a date (2026-11-27) nor a time (2026-11-27T10:00:00Z)")
    })?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| e.to_string())
}

/// Run a ledger search. Errors are for the user (bad date, unknown action or mailbox).
pub async fn ledger(state: &AdminState, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, String> {
    let mut filter = LedgerFilter::default();
    if let Some(m) = blank(&q.mailbox) {
        let mailboxes = state
            .store
            .list_mailboxes()
            .await
            .map_err(|e| e.to_string())?;
        let found = mailboxes
            .iter()
            .find(|x| x.rep_id == m || x.address.eq_ignore_ascii_case(m))
            .ok_or_else(|| format!("no mailbox {m}"))?;
        filter.mailbox = Some(found.rep_id.clone());
    }
    if let Some(k) = blank(&q.kind) {
        filter.kind = Some(
            k.parse::<Kind>()
                .map_err(|_| format!("unknown kind {k:?}"))?,
        );
    }
    filter.item_key = blank(&q.item).map(str::to_owned);
    if let Some(a) = blank(&q.action) {
        filter.action = Some(
            a.parse::<LedgerAction>()
                .map_err(|_| format!("unknown action {a:?}"))?,
        );
    }
    if let Some(s) = blank(&q.since) {
        filter.since = Some(parse_when(s)?);
    }
    if let Some(s) = blank(&q.until) {
        filter.until = Some(parse_when(s)?);
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let reason = blank(&q.reason).map(str::to_lowercase);
    // The reason filter is applied here: read in pages until enough entries match.
    let mut out = Vec::new();
    filter.limit = Some(if reason.is_some() { 500 } else { limit });
    for _ in 0..20 {
        let page = state
            .store
            .query_ledger(&filter)
            .await
            .map_err(|e| e.to_string())?;
        let last = page.last().map(|e| e.id);
        let full = page.len() as u32 == filter.limit.unwrap_or(0);
        out.extend(page.into_iter().filter(|e| {
            reason
                .as_deref()
                .is_none_or(|r| e.reason.to_lowercase().contains(r))
        }));
        if out.len() >= limit as usize || !full || reason.is_none() {
            break;
        }
        filter.before_id = last;
    }
    out.truncate(limit as usize);
    Ok(out)
}
