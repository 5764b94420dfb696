//! `[errors]`: retries, timeouts, when to give up, alerts and the mass-delete guard. Separate
//! because it is read by every part of a run, not by one connection or kind.

use serde::Deserialize;

/// `[errors]`: retries, timeouts and when to give up.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Errors {
    pub max_retries: u32,
    /// The first backoff between two attempts of a request, doubled per attempt up to
    /// `max_backoff_seconds`; fractions are allowed (e.g. 0.2 for a CRM on the same network).
    pub initial_backoff_seconds: f64,
    pub max_backoff_seconds: f64,
    pub graph_timeout_seconds: u32,
    pub crm_timeout_seconds: u32,
    pub crm_error_codes: Vec<u32>,
    pub stop_after_errors: u32,
    pub exclude_after_access_errors: u32,
    pub exclusion_minutes: u32,
    pub item_retry_limit: u32,
    pub item_retry_minutes: u32,
    pub notify_admin: bool,
    /// Alert this many days before the client secret or certificate expires.
    pub expiry_warning_days: u32,
    /// The same alert is sent at most once per this many hours.
    pub alert_repeat_hours: u32,
    /// Alert when a mailbox's delta checkpoint expired this many times within a day.
    pub delta_resets_alert: u32,
    /// The mass-delete guard: a run that would delete (or mark deleted) more than this
    /// fraction of a mailbox's linked items of one kind, or finds a side empty while links
    /// exist, deletes nothing and waits for the administrator's confirmation.
    pub max_delete_fraction: f64,
    /// Runs deleting fewer items than this are never held by the guard.
    pub delete_guard_min: u32,
}

impl Default for Errors {
    fn default() -> Self {
        Self {
            max_retries: 6,
            initial_backoff_seconds: 1.0,
            max_backoff_seconds: 300.0,
            graph_timeout_seconds: 100,
            crm_timeout_seconds: 120,
            crm_error_codes: vec![500, 511],
            stop_after_errors: 50,
            exclude_after_access_errors: 3,
            exclusion_minutes: 1440,
            item_retry_limit: 10,
            item_retry_minutes: 1,
            notify_admin: true,
            expiry_warning_days: 30,
            alert_repeat_hours: 24,
            delta_resets_alert: 3,
            max_delete_fraction: 0.2,
            delete_guard_min: 5,
        }
    }
}
