//! A mailbox run of one kind from start to end: the mailbox lease, the exclusion check, the
//! run record, the kind's preparation and sources, then its end ([`super::run_end`]); and
//! several mailboxes at once, stopping them all on a tenant-level error.

use async_trait::async_trait;
use futures::StreamExt;
use gc_store::{Kind, lease_key};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::engine::backlog::Backlog;
use crate::engine::cx::RunCx;
use crate::engine::kept::Kept;
use crate::engine::kind::{Prepared, SyncKind};
use crate::engine::mailbox::MailboxTarget;
use crate::engine::policy::RunPolicy;
use crate::engine::progress::Progress;
use crate::engine::report::{MailboxOutcome, MailboxReport};
use crate::engine::review::{Reviewed, review_and_prepare};
use crate::engine::walk::walk;
use crate::error::{ErrorClass, PortError, store_error};
use crate::lease::LeaseGuard;

impl Engine {
    /// One full cycle of `kind` for one mailbox. Never fails: what went wrong is in the
    /// report's outcome and error. A [`MailboxOutcome::Stopped`] report means a tenant-level
    /// error: the caller stops the whole run.
    pub async fn run_mailbox<K: SyncKind>(
        &self,
        kind: &K,
        target: &MailboxTarget,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> MailboxReport {
        let k = kind.kind();
        let mailbox = target.mailbox();
        let mut report = MailboxReport::new(target.rep(), k);
        let lease = match LeaseGuard::acquire_within(
            &self.store,
            &lease_key(mailbox, k),
            &self.holder,
            self.policy.lease_ttl,
            self.policy.mailbox_wait,
        )
        .await
        {
            Ok(Some(l)) => l,
            Ok(None) => {
                report.outcome = MailboxOutcome::Busy;
                report.error = Some("another process is working this mailbox".into());
                progress.finish(&report);
                return report;
            }
            Err(e) => return stopped(report, store_error(e), progress),
        };
        match self.excluded_until(mailbox).await {
            Ok(None) => {}
            Ok(Some(text)) => {
                report.outcome = MailboxOutcome::Excluded;
                report.error = Some(text);
                lease.release().await;
                progress.finish(&report);
                return report;
            }
            Err(e) => {
                lease.release().await;
                return stopped(report, e, progress);
            }
        }
        // What the store keeps for the mailbox and kind (hold, reset date, folder ids): one
        // read for the whole run.
        let kept = match Kept::read(self.store.as_ref(), mailbox, k).await {
            Ok(kept) => kept,
            Err(e) => {
                lease.release().await;
                return stopped(report, store_error(e), progress);
            }
        };
        // Waiting for the administrator (first-sync review, mass-delete guard): nothing runs.
        let hold = match crate::engine::holds::of(&kept, mailbox, k) {
            Ok(h) => h,
            Err(e) => {
                lease.release().await;
                return stopped(report, e, progress);
            }
        };
        if let Some(h) = hold.as_ref().filter(|h| h.waiting()) {
            report.outcome = MailboxOutcome::Held;
            report.error = Some(format!(
                "{}: {}; waiting for confirmation (`graph-connector confirm --mailbox {} --kind {k}` or the admin page)",
                h.reason.text(),
                h.summary,
                target.rep()
            ));
            lease.release().await;
            progress.finish(&report);
            return report;
        }
        let run_id = match self.store.start_run(mailbox, k).await {
            Ok(r) => r.id,
            Err(e) => {
                lease.release().await;
                return stopped(report, store_error(e), progress);
            }
        };
        // Called off by the caller, or when the mailbox lease is lost (the renewal failed, or
        // the process was paused past the lease time): no further write is made under it.
        let run_cancel = cancel.child_token();
        let linker = {
            let (lost, run_cancel) = (lease.lost().clone(), run_cancel.clone());
            tokio::spawn(async move {
                lost.cancelled().await;
                run_cancel.cancel();
            })
        };
        // A confirmed mass-delete hold lets this run's deletions through.
        let released = hold
            .as_ref()
            .is_some_and(|h| h.reason == crate::engine::holds::HoldReason::MassDelete);
        let guard = self
            .policy
            .delete_guard
            .map(|limits| crate::engine::guard::DeleteGuard::new(limits, released));
        // An administrator's `mailbox reset --from DATE` stands in for `[mailboxes] sync_from`
        // until the walk it asked for completes.
        let reset_from = crate::reprocess::reset_from(&kept);
        let reset_policy = reset_from.map(|from| RunPolicy {
            sync_from: Some(from),
            ..(*self.policy).clone()
        });
        let cx = RunCx {
            target,
            kind: k,
            run_id,
            store: &self.store,
            policy: reset_policy.as_ref().unwrap_or(&self.policy),
            holder: &self.holder,
            cancel: &run_cancel,
            fence: lease.fence(),
            key_locks: &self.key_locks,
            budget: &self.budget,
            planning: false,
            guard: guard.as_ref(),
            kept: &kept,
        };
        let result = match review_and_prepare(kind, &cx, hold.is_some(), &mut report).await {
            Ok(Reviewed::Held) => Ok(()),
            Ok(Reviewed::Go(prepared)) => match self.backlog.as_deref() {
                Some(hint) => {
                    let told = Backlog::new(progress, hint, cx.user());
                    work(kind, &cx, prepared, &mut report, &told).await
                }
                None => work(kind, &cx, prepared, &mut report, progress).await,
            },
            Err(e) => Err(e),
        };
        linker.abort();
        let mut access_error = false;
        match result {
            Ok(()) if report.outcome == MailboxOutcome::Held => {}
            Ok(()) if report.delayed > 0 => report.outcome = MailboxOutcome::Delayed,
            Ok(()) => {
                if reset_from.is_some()
                    && let Err(e) = self
                        .store
                        .put_resolved(mailbox, k, crate::reprocess::RESET_FROM, None)
                        .await
                {
                    tracing::warn!(mailbox, kind = %k, error = %e, "cannot clear the reset date");
                }
            }
            Err(e) => {
                report.outcome = match e.class {
                    ErrorClass::Tenant => MailboxOutcome::Stopped,
                    ErrorClass::Cancelled => MailboxOutcome::Cancelled,
                    ErrorClass::Transient | ErrorClass::SyncStateExpired => MailboxOutcome::Delayed,
                    ErrorClass::Mailbox => {
                        access_error = true;
                        MailboxOutcome::Failed
                    }
                    ErrorClass::Item | ErrorClass::NotFound => MailboxOutcome::Failed,
                };
                report.error = Some(e.message);
            }
        }
        if hold.is_some()
            && report.outcome == MailboxOutcome::Complete
            && let Err(e) = crate::engine::holds::clear(self.store.as_ref(), mailbox, k).await
        {
            tracing::warn!(mailbox, kind = %k, error = %e.message, "cannot forget a confirmed hold");
        }
        self.end_run(run_id, mailbox, k, &report, access_error, lease)
            .await;
        // The caller logs the run at info (one line per run per mailbox); this is the detail.
        tracing::debug!(
            mailbox = target.rep(),
            kind = %k,
            outcome = ?report.outcome,
            created = report.created,
            adopted = report.adopted,
            updated = report.updated,
            deleted = report.deleted,
            unchanged = report.unchanged,
            skipped = report.skipped,
            failed = report.failed,
            delayed = report.delayed,
            error = report.error.as_deref().unwrap_or(""),
            "mailbox run"
        );
        progress.finish(&report);
        report
    }

    /// Several mailboxes, `parallel` at a time, in the order of `targets`. Mailboxes whose
    /// probes say nothing changed ([`Engine::idle`]) are reported complete without a run. A
    /// tenant-level error in one of them cancels the rest (those not started are not
    /// started; those running stop before their next item) and is reported once as
    /// [`MailboxOutcome::Stopped`] on the mailbox where it happened.
    pub async fn run_all<K: SyncKind>(
        &self,
        kind: &K,
        targets: &[MailboxTarget],
        parallel: usize,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Vec<MailboxReport> {
        let stop = cancel.child_token();
        let idle = self.idle(kind, targets).await;
        // Futures first, then the stream (see `batch::work_all` for why).
        let runs: Vec<_> = targets
            .iter()
            .zip(idle)
            .enumerate()
            .map(|(i, (t, idle))| self.run_one(kind, i, t, idle, progress, &stop))
            .collect();
        let mut reports: Vec<(usize, MailboxReport)> = futures::stream::iter(runs)
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }

    /// One mailbox of [`Engine::run_all`]: not started once the run was stopped; a stop here
    /// stops the others.
    async fn run_one<K: SyncKind>(
        &self,
        kind: &K,
        i: usize,
        target: &MailboxTarget,
        idle: bool,
        progress: &dyn Progress,
        stop: &CancellationToken,
    ) -> (usize, MailboxReport) {
        if stop.is_cancelled() {
            let mut r = MailboxReport::new(target.rep(), kind.kind());
            r.outcome = MailboxOutcome::Cancelled;
            r.error = Some("not started: the run was stopped".into());
            return (i, r);
        }
        if idle {
            let r = MailboxReport::new(target.rep(), kind.kind());
            progress.start(target.rep(), kind.kind(), Some(0));
            progress.finish(&r);
            return (i, r);
        }
        let r = self.run_mailbox(kind, target, progress, stop).await;
        if r.outcome == MailboxOutcome::Stopped {
            stop.cancel();
        }
        (i, r)
    }

    /// `Some(why)` while the mailbox is excluded (one read: the scheduler does not start an
    /// excluded mailbox, so this is the check under the lease, against another process's
    /// exclusion or a `sync --once` during one).
    async fn excluded_until(&self, mailbox: &str) -> Result<Option<String>, PortError> {
        let exclusion = self.store.exclusion(mailbox).await.map_err(store_error)?;
        Ok(exclusion.map(|e| {
            format!(
                "excluded until {} after repeated access errors: {}",
                e.until,
                e.last_error_text.unwrap_or_default()
            )
        }))
    }
}

/// Every source of the kind's preparation (`None`: nothing to do), in order, then the kind's
/// end of run ([`SyncKind::end_run`]) unless the walk stopped on a tenant error or was called
/// off: a page delayed for the next run, or a mailbox error, still lets the run's notices go.
async fn work<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    prepared: Option<Prepared<K::Run>>,
    report: &mut MailboxReport,
    progress: &dyn Progress,
) -> Result<(), PortError> {
    progress.start(
        cx.rep(),
        cx.kind,
        prepared.as_ref().map_or(Some(0), |p| p.total),
    );
    let mut walked = Ok(());
    if let Some(p) = &prepared {
        for source in &p.sources {
            walked = walk(kind, cx, &p.run, source, report, progress).await;
            if walked.is_err() || report.error.is_some() {
                // A delayed page: the later sources wait for the next run, in order.
                break;
            }
        }
    }
    if let Err(e) = &walked
        && matches!(e.class, ErrorClass::Tenant | ErrorClass::Cancelled)
    {
        return walked;
    }
    let ended = kind.end_run(cx, prepared.as_ref().map(|p| &p.run)).await;
    walked.and(ended)
}

fn stopped(mut report: MailboxReport, e: PortError, progress: &dyn Progress) -> MailboxReport {
    report.outcome = if e.class == ErrorClass::Transient {
        MailboxOutcome::Delayed
    } else {
        MailboxOutcome::Stopped
    };
    report.error = Some(e.message);
    progress.finish(&report);
    report
}

/// A kind behind a trait object, for callers that hold several kinds (the scheduler, `sync
/// --once`): every [`SyncKind`] is one.
#[async_trait]
pub trait KindRunner: Send + Sync {
    /// Which kind.
    fn kind(&self) -> Kind;

    /// One cycle of this kind for one mailbox ([`Engine::run_mailbox`]).
    async fn run_mailbox(
        &self,
        engine: &Engine,
        target: &MailboxTarget,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> MailboxReport;

    /// Several mailboxes ([`Engine::run_all`]).
    async fn run_all(
        &self,
        engine: &Engine,
        targets: &[MailboxTarget],
        parallel: usize,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Vec<MailboxReport>;

    /// What the next run would do for one mailbox, writing nothing ([`Engine::plan_mailbox`]).
    async fn plan_mailbox(
        &self,
        engine: &Engine,
        target: &MailboxTarget,
        keys: &crate::engine::PlannedKeys,
    ) -> crate::plan::MailboxPlan;
}

#[async_trait]
impl<K: SyncKind> KindRunner for K {
    fn kind(&self) -> Kind {
        SyncKind::kind(self)
    }

    async fn run_mailbox(
        &self,
        engine: &Engine,
        target: &MailboxTarget,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> MailboxReport {
        engine.run_mailbox(self, target, progress, cancel).await
    }

    async fn run_all(
        &self,
        engine: &Engine,
        targets: &[MailboxTarget],
        parallel: usize,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Vec<MailboxReport> {
        engine
            .run_all(self, targets, parallel, progress, cancel)
            .await
    }

    async fn plan_mailbox(
        &self,
        engine: &Engine,
        target: &MailboxTarget,
        keys: &crate::engine::PlannedKeys,
    ) -> crate::plan::MailboxPlan {
        engine.plan_mailbox(self, target, keys).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use gc_store::{Kind, LedgerFilter, lease_key};
    use tokio_util::sync::CancellationToken;

    use crate::ErrorClass;
    use crate::engine::testkit::{Fault, TestKind, engine, target};
    use crate::engine::{MailboxOutcome, NoProgress, RunPolicy};

    #[tokio::test]
    async fn a_tenant_error_stops_every_mailbox_and_charges_nobody() {
        let policy = RunPolicy {
            exclusion: Some(gc_store::ExclusionPolicy {
                after_failures: 1,
                exclude_for: Duration::from_secs(3600),
            }),
            ..RunPolicy::default()
        };
        let (e, store) = engine(policy).await;
        let k = TestKind::with_pages(&[&["a", "b", "c"]]);
        k.fault("b", Fault::Always(ErrorClass::Tenant));
        let targets: Vec<_> = (1..=3).map(target).collect();
        let reports = e
            .run_all(&k, &targets, 1, &NoProgress, &CancellationToken::new())
            .await;
        assert_eq!(reports[0].outcome, MailboxOutcome::Stopped, "{reports:?}");
        assert!(reports[0].error.as_deref().unwrap().contains("Tenant"));
        assert!(
            reports[1..]
                .iter()
                .all(|r| r.outcome == MailboxOutcome::Cancelled),
            "{reports:?}"
        );
        // "b" is neither failed nor finished; nothing after the stop was started, and no
        // run came to its end (no notices after a tenant error).
        assert!(!k.finished().contains_key("b"));
        assert_eq!(k.ended.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert!(
            store
                .get_link(Kind::Task, "1", "b")
                .await
                .unwrap()
                .is_none_or(|l| l.crm_id.is_none())
        );
        assert!(
            store
                .get_retry(Kind::Task, "1", "b")
                .await
                .unwrap()
                .is_none()
        );
        let failed = store
            .query_ledger(&LedgerFilter {
                action: Some(gc_store::LedgerAction::Failed),
                ..LedgerFilter::default()
            })
            .await
            .unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        for n in 1..=3 {
            let m = store.get_mailbox(&n.to_string()).await.unwrap().unwrap();
            assert_eq!(m.consecutive_failures, 0, "mailbox {n} was charged");
            assert!(m.excluded_until.is_none());
        }
    }

    #[tokio::test]
    async fn a_mailbox_error_counts_toward_exclusion() {
        let policy = RunPolicy {
            exclusion: Some(gc_store::ExclusionPolicy {
                after_failures: 2,
                exclude_for: Duration::from_secs(3600),
            }),
            ..RunPolicy::default()
        };
        let (e, store) = engine(policy).await;
        let k = TestKind::with_pages(&[&["a"]]);
        k.fault("a", Fault::Always(ErrorClass::Mailbox));
        let c = CancellationToken::new();
        for _ in 0..2 {
            let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
            assert_eq!(r.outcome, MailboxOutcome::Failed);
        }
        // A failed mailbox run still comes to its end (what it has to tell goes out); an
        // excluded mailbox does not run.
        assert_eq!(k.ended.load(std::sync::atomic::Ordering::Relaxed), 2);
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.outcome, MailboxOutcome::Excluded, "{r:?}");
        assert_eq!(k.ended.load(std::sync::atomic::Ordering::Relaxed), 2);
        let m = store.get_mailbox("1").await.unwrap().unwrap();
        assert_eq!(m.last_error_kind.as_deref(), Some("access_denied"));
    }

    #[tokio::test]
    async fn a_mailbox_held_by_another_process_is_busy() {
        let (e, store) = engine(RunPolicy::default()).await;
        store
            .try_acquire_lease(
                &lease_key("1", Kind::Task),
                "other",
                Duration::from_secs(60),
            )
            .await
            .unwrap()
            .unwrap();
        let k = TestKind::with_pages(&[&["a"]]);
        let r = e
            .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
            .await;
        assert_eq!(r.outcome, MailboxOutcome::Busy);
        assert!(k.applied().is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_run_starts_no_item_and_charges_nobody() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a"]]);
        let c = CancellationToken::new();
        c.cancel();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.outcome, MailboxOutcome::Cancelled);
        assert!(k.applied().is_empty());
        let runs = store.list_runs(Some("1"), 5).await.unwrap();
        assert_eq!(runs[0].outcome, Some(gc_store::RunOutcome::Cancelled));
        assert_eq!(
            store
                .get_mailbox("1")
                .await
                .unwrap()
                .unwrap()
                .consecutive_failures,
            0
        );
    }
}
