//! The scheduler of `graph-connector run`.
//!
//! Each (mailbox, kind) is due per its `interval_minutes` (0: as often as possible, but not
//! more often than [`Settings::floor`]); due times live in the store (`mailbox_schedule`), so
//! they survive a restart and are shared by processes on one PostgreSQL store. A pass:
//!
//! 1. checks the tenant gate (token, CRM login): a failure stops every run, is shown on the
//!    admin page and raises an alert, and is never charged to a mailbox;
//! 2. reads the mailbox list again when `[mailboxes] refresh_interval_minutes` elapsed or the
//!    admin asked (a failure is tenant-level too: nothing runs);
//! 3. starts the most overdue (mailbox, kind) pairs, up to `[mailboxes] parallel` at once,
//!    skipping paused, disabled and excluded mailboxes and pairs already running; pairs whose
//!    probes (asked 20 at a time, see `KindRunner::idle`) say nothing changed are recorded as
//!    done without a run.
//!
//! With change notifications (`[notifications]`), a notification makes its pair due now and
//! starts it within [`Settings::gather`], together with the pairs notified meanwhile, in a
//! pass of the notified pairs only ([`notified`]); a notified pair is
//! never left out by its probe (Graph may notify before the delta shows the change), a
//! notification during a run makes the pair due again and starts it right after it, and an
//! e-mail pair with a live subscription is due again after the safety-net interval instead
//! of its kind's (the kinds that also read CRM keep theirs: CRM sends no notifications).
//!
//! Fairness: a run occupies one slot only; others keep being worked in the other slots, most
//! overdue first. A run is asked to stop taking new items after [`Settings::slice`] and a
//! mailbox that leaves a backlog is due again after [`Settings::soon`], behind mailboxes
//! that waited longer. The scheduler sleeps until the next due time, a finished run, or a
//! wake-up from the admin page (sync now, pause, resume, refresh) or a notification. While
//! nothing due waits for a slot, passes are spaced by nine times their own length (at most
//! 5 s): a big tenant's pairs then start up to a few seconds after they fall due, instead of
//! the whole schedule being read for each of them.

mod notified;
mod pacing;
mod pass;
mod runs;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_store::StateStore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::alerts::Alerter;
use super::runner::{Cycle, KindRunner, Tenant, TenantError};
use super::status::Status;
use gc_store::Kind;
use pacing::pass_gap;

pub use state::mailbox_state;

/// How the scheduler paces work.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Runs at once (`[mailboxes] parallel`).
    pub parallel: usize,
    /// Interval per kind (`[emails] interval_minutes`, …); kinds without an entry use `floor`.
    pub intervals: BTreeMap<Kind, Duration>,
    /// The shortest gap between two runs of one (mailbox, kind), also for interval 0.
    pub floor: Duration,
    /// Mailbox list refresh (`[mailboxes] refresh_interval_minutes`; `None`: at start and on
    /// demand only).
    pub refresh_every: Option<Duration>,
    /// A run is asked to stop taking new items after this long (its fair share).
    pub slice: Duration,
    /// A mailbox that left a backlog is due again after this long.
    pub soon: Duration,
    /// After a tenant-level error, try again after this long.
    pub tenant_retry: Duration,
    /// The longest sleep between two passes.
    pub idle_wake: Duration,
    /// With change notifications: the interval of a (mailbox, kind) whose subscription is
    /// live (`[notifications] safety_net_minutes`) instead of its kind's interval.
    pub safety_net: Option<Duration>,
    /// With change notifications: how long the first notification waits for others before
    /// the notified pairs start, together (`[notifications] gather_ms`; see
    /// [`notified`](self::notified)).
    pub gather: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            parallel: 8,
            intervals: BTreeMap::new(),
            floor: Duration::from_secs(5),
            refresh_every: Some(Duration::from_secs(24 * 3600)),
            slice: Duration::from_secs(300),
            soon: Duration::from_secs(30),
            tenant_retry: Duration::from_secs(30),
            idle_wake: Duration::from_secs(30),
            safety_net: None,
            gather: Duration::ZERO,
        }
    }
}

/// A finished run, as the task hands it back.
struct Done {
    mailbox: String,
    address: String,
    kind: Kind,
    started: Instant,
    sliced: bool,
    was_excluded: bool,
    result: Result<Result<Cycle, TenantError>, String>,
}

/// The scheduler.
pub struct Scheduler {
    tenant: Arc<dyn Tenant>,
    runners: Vec<Arc<dyn KindRunner>>,
    store: Arc<dyn StateStore>,
    status: Arc<Status>,
    alerts: Option<Arc<Alerter>>,
    settings: Settings,
}

impl Scheduler {
    /// A scheduler over these parts.
    pub fn new(
        tenant: Arc<dyn Tenant>,
        runners: Vec<Arc<dyn KindRunner>>,
        store: Arc<dyn StateStore>,
        status: Arc<Status>,
        alerts: Option<Arc<Alerter>>,
        settings: Settings,
    ) -> Self {
        Scheduler {
            tenant,
            runners,
            store,
            status,
            alerts,
            settings,
        }
    }

    /// Work until `shutdown` is cancelled; then ask running cycles to stop, wait for them up
    /// to `deadline`, and abandon the rest (safe: every write of the engine is idempotent and
    /// crash-safe; their leases are released by the caller).
    pub async fn run(self, shutdown: CancellationToken, deadline: Duration) {
        let mut tasks: JoinSet<Done> = JoinSet::new();
        let mut next_refresh = Instant::now();
        // When the next pass may start (the pacing below) and when one is wanted: at the
        // earliest due time the last pass saw, when woken, when a run's next due time may
        // have come (a run finished), or at once when a freed slot can take a waiting pair.
        let mut next_pass = Instant::now();
        let mut soon_pass = next_pass;
        let mut pass_at = next_pass;
        let mut waiting = false;
        // When the notified pairs gathered so far start (see `notified`).
        let mut notified_at: Option<Instant> = None;
        loop {
            let wake = if shutdown.is_cancelled() {
                Instant::now()
            } else if Instant::now() < pass_at.max(next_pass) {
                pass_at.max(next_pass)
            } else {
                let began = Instant::now();
                let (wake, w) = self.pass(&mut tasks, &mut next_refresh, &shutdown).await;
                // A pass reads every mailbox's schedule: with thousands of mailboxes, one
                // pass per finished run or per pair coming due would cost more than the runs.
                // While pairs wait for a slot, the next pass waits as long as this one took
                // (at most PASS_GAP_MAX), so freed slots are filled soon; runs that finish
                // meanwhile are recorded at once. Otherwise it waits longer (QUIET_GAP_*),
                // except when woken (the admin page; a notification starts its pair in a
                // pass of its own, `notified_pass`).
                let took = began.elapsed();
                let end = Instant::now();
                soon_pass = end + pass_gap(took, true);
                next_pass = end + pass_gap(took, w);
                waiting = w;
                pass_at = wake;
                pass_at.max(next_pass)
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let due_in = self.finished(joined).await;
                    // A finished run's pair is due again when `finished` stored (a notified
                    // one: at once, through `notified_pass`), so a pass by then sees it; a
                    // pass after every run would read the whole schedule once per run
                    // (docs/PERFORMANCE.md, "10,000 mailboxes"), and one within the floor
                    // after every run read it every few seconds while notified runs came
                    // one by one, each due again only after the safety net.
                    let now = Instant::now();
                    pass_at = if waiting {
                        now
                    } else {
                        pass_at.min(now + due_in)
                    };
                }
                _ = self.status.wakeup.notified() => {
                    pass_at = Instant::now();
                    next_pass = next_pass.min(soon_pass);
                }
                _ = self.status.notified_wakeup.notified(), if !shutdown.is_cancelled() => {
                    notified_at.get_or_insert_with(|| Instant::now() + self.settings.gather);
                }
                _ = tokio::time::sleep_until(notified_at.unwrap_or(wake).into()), if notified_at.is_some() => {
                    notified_at = None;
                    if !shutdown.is_cancelled() {
                        self.notified_pass(&mut tasks, &shutdown).await;
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        self.status.stop_all_runs();
        let until = Instant::now() + deadline;
        if !tasks.is_empty() {
            tracing::info!(
                runs = tasks.len(),
                deadline_s = deadline.as_secs_f64(),
                "stopping: waiting for running cycles"
            );
        }
        while !tasks.is_empty() {
            match tokio::time::timeout_at(until.into(), tasks.join_next()).await {
                Ok(Some(joined)) => {
                    self.finished(joined).await;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        runs = tasks.len(),
                        "stopping: abandoning the cycles still running (their items are picked up by the next start)"
                    );
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }

    /// How long after a complete run `mailbox`'s `kind` is due again: the kind's interval,
    /// or the safety-net interval while a change-notification subscription covers it and
    /// the kind reads nothing but Graph (a kind with a CRM source keeps its interval: CRM
    /// sends no notifications, so its changes are found by polling only).
    fn interval(&self, mailbox: &str, kind: Kind) -> Duration {
        let s = &self.settings;
        let interval = match s.safety_net {
            Some(net)
                if !crate::daemon::notifications::POLLED_FOR_CRM.contains(&kind)
                    && self.status.is_covered(mailbox, kind) =>
            {
                net
            }
            _ => s.intervals.get(&kind).copied().unwrap_or(s.floor),
        };
        interval.max(s.floor)
    }

    async fn tenant_down(&self, e: &TenantError) {
        tracing::warn!(error = %e, "tenant-level error: no mailbox runs until it is fixed");
        if self.status.set_tenant(Err(e.0.clone()))
            && let Some(alerts) = &self.alerts
        {
            alerts.tenant_error(&e.0).await;
        }
    }
}
