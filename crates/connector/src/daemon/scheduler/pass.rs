//! One pass of the scheduler: the tenant gate, the mailbox list's refresh, and the due
//! (mailbox, kind) pairs started most overdue first or, when their probes say nothing
//! changed, recorded as done without a run. Kept apart from the loop that paces the passes
//! and from what happens to a run once it is started.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_store::ScheduleEntry;
use gc_sync::MailboxTarget;
use jiff::{SignedDuration, Timestamp};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Done, Scheduler};
use gc_store::Kind;

/// Due (mailbox, kind) pairs whose probes are asked together (one `$batch`).
const IDLE_PROBES: usize = 20;

impl Scheduler {
    /// One pass: refresh, gate, start what is due. Returns when to look again, and whether
    /// due pairs were left waiting for a free slot.
    pub(super) async fn pass(
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
}
