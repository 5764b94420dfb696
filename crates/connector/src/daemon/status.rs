//! What the running service knows beyond the store, shared by the scheduler and the admin
//! server: tenant health, the last mailbox list, the runs in flight, the last `check`, and the
//! requests the admin page makes of the scheduler (wake up, refresh the list).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use gc_store::Kind;
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::runner::Roster;
use crate::commands::check::CheckReport;

/// Tenant-level health: the last gate or refresh result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantHealth {
    /// Everything passed at the last attempt.
    pub ok: bool,
    /// The tenant-level error that stops every run, if any.
    pub error: Option<String>,
    /// Since when the current state holds.
    pub since: Option<Timestamp>,
    /// When the token and the CRM login were last checked.
    pub checked_at: Option<Timestamp>,
}

/// A run in flight.
#[derive(Debug, Clone)]
pub struct Running {
    /// When it started.
    pub started_at: Timestamp,
    /// Asks it to take no new items.
    pub stop: CancellationToken,
}

/// Shared state of the service.
#[derive(Debug, Default)]
pub struct Status {
    started_at: Mutex<Option<Timestamp>>,
    tenant: Mutex<TenantHealth>,
    roster: Mutex<Arc<Roster>>,
    running: Mutex<BTreeMap<(String, Kind), Running>>,
    check: Mutex<Option<(Timestamp, Arc<CheckReport>)>>,
    refresh_requested: AtomicBool,
    /// (mailbox, kind) pairs with a live change-notification subscription: polled at the
    /// safety-net interval only.
    covered: Mutex<HashSet<(String, Kind)>>,
    /// (mailbox, kind) pairs a notification said changed since their last run started.
    notified: Mutex<HashSet<(String, Kind)>>,
    /// Wakes the scheduler (sync now, pause, resume, refresh).
    pub wakeup: Notify,
    /// Wakes the scheduler for the pairs in `notified` only (see [`Status::notify_change`]).
    pub notified_wakeup: Notify,
    /// The service is stopping.
    pub stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Status {
    /// A fresh status for a service started now.
    pub fn new() -> Arc<Self> {
        let s = Status::default();
        *lock(&s.started_at) = Some(Timestamp::now());
        Arc::new(s)
    }

    /// When the service started.
    pub fn started_at(&self) -> Option<Timestamp> {
        *lock(&self.started_at)
    }

    /// Tenant health.
    pub fn tenant(&self) -> TenantHealth {
        lock(&self.tenant).clone()
    }

    /// Record a tenant-level result; returns true when the state changed (for alerts).
    pub fn set_tenant(&self, result: Result<(), String>) -> bool {
        let mut t = lock(&self.tenant);
        let now = Timestamp::now();
        let (ok, error) = match result {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e)),
        };
        let changed = t.ok != ok || t.since.is_none();
        if changed {
            t.since = Some(now);
        }
        t.ok = ok;
        t.error = error;
        t.checked_at = Some(now);
        metrics::gauge!("graph_connector_tenant_up").set(if ok { 1.0 } else { 0.0 });
        changed
    }

    /// The last mailbox list.
    pub fn roster(&self) -> Arc<Roster> {
        lock(&self.roster).clone()
    }

    /// Store a new mailbox list.
    pub fn set_roster(&self, roster: Arc<Roster>) {
        *lock(&self.roster) = roster;
    }

    /// Runs in flight.
    pub fn running(&self) -> BTreeMap<(String, Kind), Timestamp> {
        lock(&self.running)
            .iter()
            .map(|(k, r)| (k.clone(), r.started_at))
            .collect()
    }

    /// Whether `mailbox`/`kind` is running.
    pub fn is_running(&self, mailbox: &str, kind: Kind) -> bool {
        lock(&self.running).contains_key(&(mailbox.to_owned(), kind))
    }

    pub(crate) fn start_run(&self, mailbox: &str, kind: Kind, stop: CancellationToken) {
        lock(&self.running).insert(
            (mailbox.to_owned(), kind),
            Running {
                started_at: Timestamp::now(),
                stop,
            },
        );
    }

    pub(crate) fn end_run(&self, mailbox: &str, kind: Kind) {
        lock(&self.running).remove(&(mailbox.to_owned(), kind));
    }

    /// Ask the runs of `mailbox` (one kind, or all) to stop taking new items.
    pub fn stop_runs(&self, mailbox: &str, kind: Option<Kind>) {
        for ((m, k), r) in lock(&self.running).iter() {
            if m == mailbox && kind.is_none_or(|x| x == *k) {
                r.stop.cancel();
            }
        }
    }

    /// Ask every run to stop taking new items.
    pub fn stop_all_runs(&self) {
        for r in lock(&self.running).values() {
            r.stop.cancel();
        }
    }

    /// The last `check` report and when it ran.
    pub fn check(&self) -> Option<(Timestamp, Arc<CheckReport>)> {
        lock(&self.check).clone()
    }

    /// Store a `check` report.
    pub fn set_check(&self, report: CheckReport) {
        *lock(&self.check) = Some((Timestamp::now(), Arc::new(report)));
    }

    /// Ask the scheduler to read the mailbox list again now.
    pub fn request_refresh(&self) {
        self.refresh_requested.store(true, Ordering::SeqCst);
        self.wakeup.notify_one();
    }

    pub(crate) fn take_refresh_request(&self) -> bool {
        self.refresh_requested.swap(false, Ordering::SeqCst)
    }

    /// Wake the scheduler.
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    /// The pairs with a live subscription now (replacing the previous set).
    pub fn set_covered(&self, pairs: HashSet<(String, Kind)>) {
        *lock(&self.covered) = pairs;
    }

    /// One more pair with a live subscription, at once (the next `set_covered` reads them all
    /// from the store): a run made due by the subscription's creation may end before that,
    /// and must be given the safety-net interval, not its kind's.
    pub fn cover(&self, mailbox: &str, kind: Kind) {
        lock(&self.covered).insert((mailbox.to_owned(), kind));
    }

    /// Whether `mailbox`'s `kind` has a live subscription.
    pub fn is_covered(&self, mailbox: &str, kind: Kind) -> bool {
        lock(&self.covered).contains(&(mailbox.to_owned(), kind))
    }

    /// A notification said `mailbox`'s `kind` changed (the caller made it due and wakes the
    /// scheduler): its next run is not skipped by an idle probe, and a run under way when it
    /// arrived is followed by another at once.
    pub fn notify_change(&self, mailbox: &str, kind: Kind) {
        lock(&self.notified).insert((mailbox.to_owned(), kind));
        self.notified_wakeup.notify_one();
    }

    /// The pairs a notification said changed and that no run has started on since.
    pub fn notified_pairs(&self) -> Vec<(String, Kind)> {
        lock(&self.notified).iter().cloned().collect()
    }

    /// Whether a notification arrived for the pair since its last run started.
    pub fn was_notified(&self, mailbox: &str, kind: Kind) -> bool {
        lock(&self.notified).contains(&(mailbox.to_owned(), kind))
    }

    /// Clear the pair's notification mark (a run starts, and sees the change); returns
    /// whether it was set.
    pub fn take_notified(&self, mailbox: &str, kind: Kind) -> bool {
        lock(&self.notified).remove(&(mailbox.to_owned(), kind))
    }
}
