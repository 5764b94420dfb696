//! Prometheus metrics: the recorder behind the `metrics` facade, and every metric the service
//! exports with its help text. The Graph and CRM clients record through the same facade
//! (`graph_connector_requests_total`, `…_request_duration_seconds`, `…_retry_wait_seconds`,
//! `…_retry_after_seconds`); without a recorder (one-shot commands) those calls cost nothing.
//!
//! Names follow Prometheus conventions: a `graph_connector_` prefix, `_total` for counters,
//! base units (`_seconds`, `_timestamp_seconds`). docs/ADMIN.md lists them.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of every `_seconds` histogram: from a fast store write to a long mailbox run.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder once and return the handle that renders `/metrics`.
/// `None` if another recorder was installed first (only possible in tests).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            keep_histograms_drained(handle.clone());
            Some(handle)
        })
        .clone()
}

/// How often recorded histogram samples are folded into their buckets. Each upkeep walks
/// every histogram series (about 40 in a service run), sampled or not, at about 6,000
/// instructions each: every 5 s that was 2 % of a notified message's instructions. The queue
/// it bounds grows by about 30 KB a second at 10,000 mailboxes, so 15 s keep it under 0.5 MB.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// The exporter keeps every histogram sample in a queue until its upkeep folds them into the
/// buckets, and upkeep otherwise only happens when `/metrics` is scraped: a service nobody
/// scrapes grew by every request's duration (about 5 MB in three minutes at 10,000 mailboxes),
/// without bound. A thread of its own does it, whatever runtime (or none) the caller has.
fn keep_histograms_drained(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started: histogram samples wait for /metrics scrapes");
    }
}

/// The rendered text of every metric (Prometheus text format 0.0.4).
pub fn render() -> String {
    match HANDLE.get() {
        Some(Some(h)) => {
            h.run_upkeep();
            h.render()
        }
        _ => String::new(),
    }
}

fn describe() {
    describe_counter!(
        "graph_connector_requests_total",
        "HTTP requests sent, by side (graph, crm), resource or command, and status (HTTP status for Graph; ok or the error class for CRM.interface). Retries count as requests."
    );
    describe_histogram!(
        "graph_connector_request_duration_seconds",
        Unit::Seconds,
        "Duration of one HTTP request, by side and resource."
    );
    describe_histogram!(
        "graph_connector_retry_wait_seconds",
        Unit::Seconds,
        "Waits before a retry, by side and reason (throttled: HTTP 429; error: 5xx, network, CRM busy)."
    );
    describe_histogram!(
        "graph_connector_retry_after_seconds",
        Unit::Seconds,
        "Retry-After values received, by side."
    );
    describe_counter!(
        "graph_connector_items_total",
        "Items handled by scheduled runs, by kind and action (created, adopted, updated, deleted, unchanged, skipped, failed, delayed)."
    );
    describe_counter!(
        "graph_connector_notifications_total",
        "Requests and entries at the change-notification endpoint, by outcome: validation, accepted, ignored (a change type that cannot give its kind anything to do), lifecycle, forged (wrong clientState), unknown (no such subscription), malformed."
    );
    describe_gauge!(
        "graph_connector_subscriptions",
        "Live change-notification subscriptions (mailbox and kind pairs polled at the safety-net interval only)."
    );
    describe_counter!(
        "graph_connector_runs_total",
        "Scheduled runs of one mailbox and kind, by kind and outcome."
    );
    describe_histogram!(
        "graph_connector_run_duration_seconds",
        Unit::Seconds,
        "Duration of one scheduled run of one mailbox and kind."
    );
    describe_gauge!(
        "graph_connector_backlog_items",
        "Items left for later by the last run of each mailbox, summed per kind."
    );
    describe_gauge!(
        "graph_connector_lag_seconds",
        Unit::Seconds,
        "How long the most overdue mailbox of each kind has been waiting past its due time (0: none overdue)."
    );
    describe_gauge!(
        "graph_connector_mailboxes",
        "Mailboxes by state (ok, failing, excluded, paused, disabled, running)."
    );
    describe_gauge!(
        "graph_connector_credential_expiry_timestamp_seconds",
        Unit::Seconds,
        "When the client secret ([microsoft] client_secret_expires) or the certificate expires, as a Unix time. Days left: (value - time()) / 86400."
    );
    describe_histogram!(
        "graph_connector_store_operation_duration_seconds",
        Unit::Seconds,
        "Duration of state store operations, by operation."
    );
    describe_counter!(
        "graph_connector_store_errors_total",
        "Failed state store operations, by operation."
    );
    describe_counter!(
        "graph_connector_delta_resets_total",
        "Delta checkpoints that expired and were re-enumerated, by kind."
    );
    describe_counter!(
        "graph_connector_alerts_total",
        "Alerts raised to the administrator, by alert kind."
    );
    describe_counter!(
        "graph_connector_admin_sends_refused_total",
        "Notices (to=\"user\") and alerts (to=\"admin\") held back because the administrator's mailbox reached a sending limit ([microsoft] admin_sends_per_minute or admin_recipients_per_day, by limit); a notice waits for its mailbox's next run."
    );
    describe_gauge!(
        "graph_connector_tenant_up",
        "1 while the tenant-level checks pass (token, CRM login, mailbox list); 0 while a tenant-level error stops every run."
    );
    describe_gauge!(
        "graph_connector_build_info",
        "Always 1; the labels carry the version and the git commit."
    );
}
