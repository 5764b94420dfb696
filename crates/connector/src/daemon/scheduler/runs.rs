//! A run of one (mailbox, kind): started in a task of its own with its time slice, and once
//! finished, its outcome counted, logged and stored with the pair's next due time, and the
//! alerts it calls for raised. Separate from the pass that decides which pairs start.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use gc_store::{KindRun, RunOutcome};
use gc_sync::{MailboxOutcome, MailboxTarget};
use jiff::Timestamp;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Done, Scheduler};
use crate::daemon::runner::{Cycle, Roster};

impl Scheduler {
    pub(super) fn spawn(
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

    /// Record a finished run. Returns how soon its pair may be due again: the gap stored as
    /// its next due time, or the floor when that is not known (the run was aborted, stopped by
    /// a tenant-level error, or its schedule could not be stored) or is sooner (a pair
    /// notified during its run, which the notified pass starts; another process's run).
    /// The loop needs no regular pass before then for this pair's sake.
    pub(super) async fn finished(&self, joined: Result<Done, tokio::task::JoinError>) -> Duration {
        let floor = self.settings.floor;
        let done = match joined {
            Ok(d) => d,
            // Only aborted tasks end here (panics are caught inside the task).
            Err(e) => {
                tracing::debug!(error = %e, "run task ended without a result");
                return floor;
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
                return floor;
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
        // A notification that arrived during the run may name a change the run missed: the
        // pair is due again now, keeps its mark (no probe leaves it out) and is started by a
        // pass of the notified pairs once this is stored.
        let notified = self.status.was_notified(&done.mailbox, kind);
        let gap = if notified {
            Duration::ZERO
        } else if more {
            s.soon.max(s.floor)
        } else {
            interval
        };
        let stored = if r.outcome == MailboxOutcome::Busy {
            // Another process works it and keeps its schedule; look again after the floor.
            self.store.set_due_in(&done.mailbox, kind, s.floor).await
        } else {
            self.store
                .record_kind_run(
                    &done.mailbox,
                    kind,
                    &KindRun {
                        outcome,
                        error: r.error.clone(),
                        backlog: Some(cycle.backlog),
                        // From the store's clock as it records the run: no read of it first.
                        due_in: gap,
                    },
                )
                .await
        };
        let due_in = match stored {
            Err(e) => {
                tracing::warn!(mailbox = done.address, %kind, error = %e, "cannot store the schedule");
                floor
            }
            Ok(_) if r.outcome == MailboxOutcome::Busy => floor,
            Ok(_) => gap.max(floor),
        };
        if notified {
            self.status.notified_wakeup.notify_one();
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
            && let Some(until) = m.excluded_until
            && until > self.store.now().await.unwrap_or_else(|_| Timestamp::now())
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
        due_in
    }
}
