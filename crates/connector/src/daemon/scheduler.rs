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
//! wakes the scheduler; a notified pair is never left out by its probe (Graph may notify
//! before the delta shows the change), a notification during a run makes the pair due again
//! right after it, and an e-mail pair with a live subscription is due again after the
//! safety-net interval instead of its kind's (the kinds that also read CRM keep theirs: CRM
//! sends no notifications).
//!
//! Fairness: a run occupies one slot only; others keep being worked in the other slots, most
//! overdue first. A run is asked to stop taking new items after [`Settings::slice`] and a
//! mailbox that leaves a backlog is due again after [`Settings::soon`], behind mailboxes
//! that waited longer. The scheduler sleeps until the next due time, a finished run, or a
//! wake-up from the admin page (sync now, pause, resume, refresh) or a notification. While
//! nothing due waits for a slot, passes are spaced by nine times their own length (at most
//! 5 s): a big tenant's pairs then start up to a few seconds after they fall due, instead of
//! the whole schedule being read for each of them.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use gc_store::{KindRun, MailboxRecord, RunOutcome, ScheduleEntry, StateStore};
use gc_sync::{MailboxOutcome, MailboxTarget};
use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::alerts::Alerter;
use super::runner::{Cycle, KindRunner, Roster, Tenant, TenantError};
use super::status::Status;
use gc_store::Kind;

/// Due (mailbox, kind) pairs whose probes are asked together (one `$batch`).
const IDLE_PROBES: usize = 20;

/// The longest a pass waits after the previous one while due pairs wait for a free slot
/// (see `Scheduler::run`).
const PASS_GAP_MAX: Duration = Duration::from_secs(1);

/// While nothing due waits for a slot, a pass is followed by a gap of this many times its own
/// length (at most [`QUIET_GAP_MAX`]): the scheduler then spends at most a tenth of its time
/// reading the schedule. With 10,000 mailboxes on a five-minute interval some pair comes due
/// every few tens of milliseconds, and passes ran back to back, each reading the whole
/// schedule; spacing them cut the steady state's CPU by about a ninth (docs/PERFORMANCE.md,
/// "10,000 mailboxes"). A small tenant's pass takes a millisecond and is not delayed
/// noticeably.
const QUIET_GAP_FACTOR: u32 = 9;

/// The longest gap after a pass while nothing waits for a slot: how much later than its due
/// time a pair may start (well within the slack the intervals allow).
const QUIET_GAP_MAX: Duration = Duration::from_secs(5);

/// How long after a pass that took `took` the next one may start: as long as it took (at most
/// [`PASS_GAP_MAX`]) while due pairs wait for a slot, else [`QUIET_GAP_FACTOR`] times as long
/// (at most [`QUIET_GAP_MAX`]).
fn pass_gap(took: Duration, waiting: bool) -> Duration {
    if waiting {
        took.min(PASS_GAP_MAX)
    } else {
        (took * QUIET_GAP_FACTOR).min(QUIET_GAP_MAX)
    }
}

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
        let mut next_pass = Instant::now();
        let mut soon_pass = next_pass;
        loop {
            let wake = if shutdown.is_cancelled() {
                Instant::now()
            } else if Instant::now() < next_pass {
                next_pass
            } else {
                let began = Instant::now();
                let (wake, waiting) = self.pass(&mut tasks, &mut next_refresh, &shutdown).await;
                // A pass reads every mailbox's schedule: with thousands of mailboxes, one
                // pass per finished run or per pair coming due would cost more than the runs.
                // While pairs wait for a slot, the next pass waits as long as this one took
                // (at most PASS_GAP_MAX), so freed slots are filled soon; runs that finish
                // meanwhile are recorded at once. Otherwise it waits longer (QUIET_GAP_*),
                // except when woken (a notification, the admin page).
                let took = began.elapsed();
                let end = Instant::now();
                soon_pass = end + pass_gap(took, true);
                next_pass = end + pass_gap(took, waiting);
                wake
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => self.finished(joined).await,
                _ = self.status.wakeup.notified() => next_pass = next_pass.min(soon_pass),
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
                Ok(Some(joined)) => self.finished(joined).await,
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

    /// One pass: refresh, gate, start what is due. Returns when to look again, and whether
    /// due pairs were left waiting for a free slot.
    async fn pass(
        &self,
        tasks: &mut JoinSet<Done>,
        next_refresh: &mut Instant,
        shutdown: &CancellationToken,
    ) -> (Instant, bool) {
        let s = &self.settings;
        let now = Instant::now();
        let mut wake = now + s.idle_wake;
        // The gate first: with no token or no CRM login, a refresh would find no mailbox.
        if let Err(e) = self.tenant.gate().await {
            self.tenant_down(&e).await;
            return (now + s.tenant_retry, false);
        }
        self.status.set_tenant(Ok(()));
        let never_read = self.status.roster().refreshed_at.is_none();
        if self.status.take_refresh_request() || (never_read || *next_refresh <= now) {
            match self.tenant.refresh().await {
                Ok(roster) => {
                    tracing::info!(
                        mailboxes = roster.list.targets.len(),
                        not_synchronized = roster.list.unmatched.len(),
                        "mailbox list read"
                    );
                    self.status.set_roster(Arc::new(roster));
                    *next_refresh = match s.refresh_every {
                        Some(every) => now + every,
                        None => now + Duration::from_secs(365 * 24 * 3600),
                    };
                }
                Err(e) => {
                    self.tenant_down(&e).await;
                    *next_refresh = now + s.tenant_retry;
                    return (now + s.tenant_retry, false);
                }
            }
        }
        wake = wake.min(*next_refresh);
        let roster = self.status.roster();
        let (records, db_now) = match (self.store.schedule().await, self.store.now().await) {
            (Ok(r), Ok(t)) => (r, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the schedule from the state store");
                return (now + s.tenant_retry, false);
            }
        };
        let by_id: HashMap<&str, &ScheduleEntry> =
            records.iter().map(|m| (m.rep_id.as_str(), m)).collect();

        // Runs of mailboxes paused since they started: ask them to stop.
        for (mailbox, kind) in self.status.running().keys() {
            if by_id
                .get(mailbox.as_str())
                .is_some_and(|m| m.is_paused(*kind))
            {
                self.status.stop_runs(mailbox, Some(*kind));
            }
        }

        struct Candidate<'r> {
            due: Timestamp,
            since: Timestamp,
            runner: usize,
            target: &'r MailboxTarget,
            was_excluded: bool,
        }
        let mut due: Vec<Candidate> = Vec::new();
        for (i, runner) in self.runners.iter().enumerate() {
            let kind = runner.kind();
            for target in runner.mailboxes(&roster) {
                let Some(rec) = by_id.get(target.owner.mailbox.as_str()) else {
                    continue;
                };
                if !rec.enabled || rec.is_paused(kind) || self.status.is_running(&rec.rep_id, kind)
                {
                    continue;
                }
                let next = rec.next_due(kind);
                let mut earliest = next.unwrap_or(Timestamp::UNIX_EPOCH);
                if let Some(until) = rec.excluded_until
                    && until > db_now
                {
                    earliest = earliest.max(until);
                }
                if earliest <= db_now {
                    due.push(Candidate {
                        due: earliest,
                        since: next.unwrap_or(rec.created_at),
                        runner: i,
                        target,
                        was_excluded: rec.excluded_until.is_some(),
                    });
                } else {
                    let wait = db_now
                        .duration_until(earliest)
                        .unsigned_abs()
                        .min(s.idle_wake);
                    wake = wake.min(now + wait);
                }
            }
        }
        due.sort_by(|a, b| (a.due, &a.target.owner.mailbox).cmp(&(b.due, &b.target.owner.mailbox)));
        let free = s.parallel.saturating_sub(self.status.running().len());
        // Most overdue first, 20 at a time (one `$batch` of probes): those whose probes say
        // nothing changed are recorded as done without a run, until `free` runs are started.
        let mut started = 0;
        let mut left: Vec<Candidate> = Vec::new();
        let mut queue = due.into_iter().peekable();
        while started < free && queue.peek().is_some() {
            let chunk: Vec<Candidate> = queue.by_ref().take(IDLE_PROBES).collect();
            let mut idle = vec![false; chunk.len()];
            for (i, runner) in self.runners.iter().enumerate() {
                let at: Vec<usize> = (0..chunk.len()).filter(|&j| chunk[j].runner == i).collect();
                if at.is_empty() {
                    continue;
                }
                let targets: Vec<MailboxTarget> =
                    at.iter().map(|&j| chunk[j].target.clone()).collect();
                for (j, is_idle) in at.iter().zip(runner.idle(&roster, &targets).await) {
                    // A notification said it changed: run it even if the probe does not
                    // show the change yet.
                    idle[*j] = is_idle
                        && !self
                            .status
                            .was_notified(chunk[*j].target.mailbox(), runner.kind());
                }
            }
            let mut idle_ones: BTreeMap<Kind, Vec<&MailboxTarget>> = BTreeMap::new();
            for (c, is_idle) in chunk.into_iter().zip(idle) {
                if is_idle {
                    idle_ones
                        .entry(self.runners[c.runner].kind())
                        .or_default()
                        .push(c.target);
                } else if started < free {
                    started += 1;
                    self.spawn(
                        tasks,
                        shutdown,
                        &roster,
                        c.runner,
                        c.target.clone(),
                        c.was_excluded,
                    );
                } else {
                    left.push(c);
                }
            }
            for (kind, targets) in idle_ones {
                self.record_idle(&targets, kind, db_now).await;
            }
        }
        let waiting = !left.is_empty() || queue.peek().is_some();
        let due = left.into_iter().chain(queue);
        // Lag: how long the most overdue pair still waiting has been due.
        let mut lag: BTreeMap<Kind, f64> = self.runners.iter().map(|r| (r.kind(), 0.0)).collect();
        for c in due {
            let kind = self.runners[c.runner].kind();
            let waited = c.since.duration_until(db_now).as_secs_f64().max(0.0);
            if let Some(l) = lag.get_mut(&kind) {
                *l = l.max(waited);
            }
        }
        for (kind, seconds) in lag {
            metrics::gauge!("graph_connector_lag_seconds", "kind" => kind.as_str()).set(seconds);
        }
        self.gauges(&records, db_now);
        (wake, waiting)
    }

    fn spawn(
        &self,
        tasks: &mut JoinSet<Done>,
        shutdown: &CancellationToken,
        roster: &Arc<Roster>,
        runner: usize,
        target: MailboxTarget,
        was_excluded: bool,
    ) {
        let runner = self.runners[runner].clone();
        let kind = runner.kind();
        let stop = shutdown.child_token();
        let mailbox = target.owner.mailbox.clone();
        // The run reads Graph after this point, so it sees what was notified so far.
        self.status.take_notified(&mailbox, kind);
        self.status.start_run(&mailbox, kind, stop.clone());
        let roster = roster.clone();
        let slice = self.settings.slice;
        tracing::debug!(mailbox = target.owner.email, %kind, "run starts");
        tasks.spawn(async move {
            let started = Instant::now();
            let timer = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(slice).await;
                    stop.cancel();
                })
            };
            let result = AssertUnwindSafe(runner.run(&roster, &target, stop.clone()))
                .catch_unwind()
                .await
                .map_err(|p| {
                    p.downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "the run panicked".to_owned())
                });
            timer.abort();
            Done {
                mailbox,
                address: target.owner.email.clone(),
                kind,
                started,
                sliced: started.elapsed() >= slice,
                was_excluded,
                result,
            }
        });
    }

    async fn finished(&self, joined: Result<Done, tokio::task::JoinError>) {
        let done = match joined {
            Ok(d) => d,
            // Only aborted tasks end here (panics are caught inside the task).
            Err(e) => {
                tracing::debug!(error = %e, "run task ended without a result");
                return;
            }
        };
        self.status.end_run(&done.mailbox, done.kind);
        let kind = done.kind;
        let seconds = done.started.elapsed().as_secs_f64();
        let cycle = match done.result {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(mailbox = done.address, %kind, error = %e, "run stopped by a tenant-level error");
                self.tenant_down(&e).await;
                return;
            }
            Err(panic) => {
                tracing::error!(mailbox = done.address, %kind, panic, "run panicked");
                let mut report = gc_sync::MailboxReport::new(done.address.clone(), kind);
                report.outcome = MailboxOutcome::Failed;
                report.error = Some(format!("internal error: {panic}"));
                Cycle { report, backlog: 0 }
            }
        };
        let r = &cycle.report;
        let s = &self.settings;
        let now = self.store.now().await.unwrap_or_else(|_| Timestamp::now());
        let interval = self.interval(&done.mailbox, kind);
        let outcome = match r.outcome {
            MailboxOutcome::Complete if r.failed == 0 => RunOutcome::Success,
            MailboxOutcome::Complete | MailboxOutcome::Delayed => RunOutcome::Partial,
            MailboxOutcome::Failed | MailboxOutcome::Excluded => RunOutcome::Failed,
            MailboxOutcome::Busy
            | MailboxOutcome::Stopped
            | MailboxOutcome::Cancelled
            | MailboxOutcome::Held => RunOutcome::Cancelled,
        };
        let outcome_label = match r.outcome {
            MailboxOutcome::Busy => "busy",
            MailboxOutcome::Excluded => "excluded",
            MailboxOutcome::Held => "held",
            _ => outcome.as_str(),
        };
        metrics::counter!("graph_connector_runs_total", "kind" => kind.as_str(), "outcome" => outcome_label)
            .increment(1);
        metrics::histogram!("graph_connector_run_duration_seconds", "kind" => kind.as_str())
            .record(seconds);
        tracing::info!(
            mailbox = done.address,
            %kind,
            outcome = outcome_label,
            created = r.created,
            adopted = r.adopted,
            updated = r.updated,
            deleted = r.deleted,
            unchanged = r.unchanged,
            skipped = r.skipped,
            failed = r.failed,
            delayed = r.delayed,
            warnings = r.warnings,
            seconds,
            error = r.error.as_deref().unwrap_or(""),
            "run"
        );
        let more = cycle.backlog > 0 || done.sliced;
        // A notification that arrived during the run may name a change the run missed.
        let notified = self.status.take_notified(&done.mailbox, kind);
        let gap = if notified {
            Duration::ZERO
        } else if more {
            s.soon.max(s.floor)
        } else {
            interval
        };
        let next_due = now + SignedDuration::try_from(gap).unwrap_or(SignedDuration::MAX);
        let stored = if r.outcome == MailboxOutcome::Busy {
            // Another process works it and keeps its schedule; look again after the floor.
            self.store
                .set_next_due(
                    &done.mailbox,
                    kind,
                    now + SignedDuration::try_from(s.floor).unwrap_or_default(),
                )
                .await
        } else {
            self.store
                .record_kind_run(
                    &done.mailbox,
                    kind,
                    &KindRun {
                        outcome,
                        error: r.error.clone(),
                        backlog: Some(cycle.backlog),
                        next_due,
                    },
                )
                .await
        };
        if let Err(e) = stored {
            tracing::warn!(mailbox = done.address, %kind, error = %e, "cannot store the schedule");
        }
        if r.outcome == MailboxOutcome::Held
            && let Some(alerts) = &self.alerts
        {
            alerts
                .held(
                    &done.mailbox,
                    &done.address,
                    kind,
                    r.error.as_deref().unwrap_or_default(),
                )
                .await;
        }
        if r.outcome == MailboxOutcome::Failed
            && !done.was_excluded
            && let Some(alerts) = &self.alerts
            && let Ok(Some(m)) = self.store.get_mailbox(&done.mailbox).await
            && let Some(until) = m.excluded_until.filter(|u| *u > now)
        {
            alerts
                .mailbox_excluded(
                    &done.mailbox,
                    &done.address,
                    until,
                    m.last_error_text.as_deref().unwrap_or_default(),
                )
                .await;
        }
    }

    /// Due (mailbox, kind) pairs whose probes said nothing changed: done, each due again
    /// after its interval, without a run; recorded in one write (a pass of a large tenant
    /// finds hundreds of them).
    async fn record_idle(&self, targets: &[&MailboxTarget], kind: Kind, now: Timestamp) {
        metrics::counter!("graph_connector_runs_total", "kind" => kind.as_str(), "outcome" => "idle")
            .increment(targets.len() as u64);
        let idle: Vec<(String, Timestamp)> = targets
            .iter()
            .map(|t| {
                tracing::debug!(mailbox = t.owner.email, %kind, "nothing changed: no run");
                let interval = self.interval(t.mailbox(), kind);
                let next_due =
                    now + SignedDuration::try_from(interval).unwrap_or(SignedDuration::MAX);
                (t.owner.mailbox.clone(), next_due)
            })
            .collect();
        if let Err(e) = self.store.record_idle_runs(kind, &idle).await {
            tracing::warn!(%kind, mailboxes = idle.len(), error = %e, "cannot store the schedule");
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

    /// Mailboxes by state and backlog per kind.
    fn gauges(&self, records: &[ScheduleEntry], now: Timestamp) {
        let running: std::collections::HashSet<String> = self
            .status
            .running()
            .keys()
            .map(|(m, _)| m.clone())
            .collect();
        let mut states: BTreeMap<&str, f64> =
            ["ok", "failing", "excluded", "paused", "disabled", "running"]
                .into_iter()
                .map(|s| (s, 0.0))
                .collect();
        let mut backlog: BTreeMap<Kind, f64> =
            self.runners.iter().map(|r| (r.kind(), 0.0)).collect();
        for m in records {
            let state = state_of(
                Health {
                    enabled: m.enabled,
                    paused: m.paused,
                    excluded: m.is_excluded_at(now),
                    failing: m.consecutive_failures > 0,
                },
                running.contains(&m.rep_id),
            );
            *states.entry(state).or_default() += 1.0;
            for k in &m.kinds {
                if let (Some(b), Some(sum)) = (k.backlog, backlog.get_mut(&k.kind)) {
                    *sum += b as f64;
                }
            }
        }
        for (state, n) in states {
            metrics::gauge!("graph_connector_mailboxes", "state" => state).set(n);
        }
        for (kind, n) in backlog {
            metrics::gauge!("graph_connector_backlog_items", "kind" => kind.as_str()).set(n);
        }
    }
}

/// The state of a mailbox as the admin page and the metrics show it.
pub fn mailbox_state(m: &MailboxRecord, running: bool, now: Timestamp) -> &'static str {
    state_of(
        Health {
            enabled: m.enabled,
            paused: m.paused_at.is_some(),
            excluded: m.is_excluded_at(now),
            failing: m.consecutive_failures > 0,
        },
        running,
    )
}

/// What a mailbox's state is made of: a full record (admin page) and a schedule entry (the
/// scheduler's metrics) both carry it.
struct Health {
    enabled: bool,
    /// Paused as a whole.
    paused: bool,
    excluded: bool,
    failing: bool,
}

fn state_of(h: Health, running: bool) -> &'static str {
    if !h.enabled {
        "disabled"
    } else if h.paused {
        "paused"
    } else if h.excluded {
        "excluded"
    } else if running {
        "running"
    } else if h.failing {
        "failing"
    } else {
        "ok"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_spaced_more_while_nothing_waits_for_a_slot() {
        let ms = Duration::from_millis;
        // Work waits for slots: the next pass as soon as this one took, at most a second.
        assert_eq!(pass_gap(ms(40), true), ms(40));
        assert_eq!(pass_gap(ms(3000), true), PASS_GAP_MAX);
        // Nothing waits: a tenth of the time reading the schedule, at most QUIET_GAP_MAX.
        assert_eq!(pass_gap(ms(2), false), ms(18));
        assert_eq!(pass_gap(ms(300), false), ms(2700));
        assert_eq!(pass_gap(ms(3000), false), QUIET_GAP_MAX);
    }
}
