//! The review of a first sync (`[mailboxes] confirm_first_sync_above`): before a mailbox's
//! first run of a kind writes anything, what it would do is planned, and a first sync that
//! would create more records than the threshold, or delete any, waits for an administrator
//! (a hold, see [`super::holds`]) instead of running. A run's preparation
//! ([`SyncKind::prepare`]) is made here, once, whether or not there is a review.

use crate::engine::cx::RunCx;
use crate::engine::kind::{Prepared, SyncKind};
use crate::engine::report::{MailboxOutcome, MailboxReport};
use crate::error::{PortError, store_error};

/// What the first-sync review lets a run do.
pub(crate) enum Reviewed<R> {
    /// A hold was stored: the run does nothing more.
    Held,
    /// Go on with the run's preparation (the kind's [`SyncKind::prepare`] answer, made once).
    Go(Option<Prepared<R>>),
}

/// Prepare a run, reviewing a first sync before it (`[mailboxes]
/// confirm_first_sync_above`): on a first sync (nothing linked, no round completed) without
/// a hold the administrator confirmed, plan the run first; when it would create more than
/// the threshold or delete anything, store a hold instead of running (and prepare nothing
/// for real). A kind whose [`SyncKind::total_bounds_first_sync`] is prepared first, and not
/// planned when its total is within the threshold.
pub(crate) async fn review_and_prepare<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    confirmed: bool,
    report: &mut MailboxReport,
) -> Result<Reviewed<K::Run>, PortError> {
    let above = match cx.policy.confirm_first_sync_above {
        Some(above) if !confirmed && crate::engine::planner::first_sync(cx).await? => above,
        _ => return Ok(Reviewed::Go(kind.prepare(cx).await?)),
    };
    let ready = if kind.total_bounds_first_sync() {
        let prepared = kind.prepare(cx).await?;
        let within = prepared
            .as_ref()
            .is_none_or(|p| p.total.is_some_and(|total| total <= above));
        if within {
            return Ok(Reviewed::Go(prepared));
        }
        Some(prepared)
    } else {
        None
    };
    let pcx = RunCx {
        planning: true,
        guard: None,
        ..*cx
    };
    let mut plan = crate::plan::MailboxPlan::new(cx.rep(), cx.kind);
    let keys = crate::engine::PlannedKeys::default();
    crate::engine::planner::plan_work(kind, &pcx, &mut plan, &keys).await?;
    if plan.create <= above && plan.delete == 0 {
        return Ok(Reviewed::Go(match ready {
            Some(prepared) => prepared,
            None => kind.prepare(cx).await?,
        }));
    }
    let summary = format!(
        "its first sync would create {}, adopt {}, update {} and delete {} record(s) (more than [mailboxes] confirm_first_sync_above = {above}, or deletions)",
        plan.create, plan.adopt, plan.update, plan.delete
    );
    let hold = crate::engine::holds::Hold {
        reason: crate::engine::holds::HoldReason::FirstSync,
        summary: summary.clone(),
        since: cx.store.now().await.map_err(store_error)?,
        plan: serde_json::to_value(&plan).ok(),
        confirmed_by: None,
    };
    cx.check_run()?;
    crate::engine::holds::put(&**cx.store, cx.mailbox(), cx.kind, &hold, Some(cx.run_id)).await?;
    tracing::info!(mailbox = cx.rep(), kind = %cx.kind, "first sync held for review: {summary}");
    report.outcome = MailboxOutcome::Held;
    report.error = Some(format!(
        "first sync waits for review: {summary}. Confirm with `graph-connector confirm --mailbox {} --kind {}` or on the admin page",
        cx.rep(),
        cx.kind
    ));
    Ok(Reviewed::Held)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::Ordering;

    use tokio_util::sync::CancellationToken;

    use crate::engine::testkit::{TestKind, engine, target};
    use crate::engine::{MailboxOutcome, NoProgress, RunPolicy};

    /// A first sync of `pages` (3 items) under `confirm_first_sync_above = above`: the
    /// report, the pages read (planning walks included) and the `prepare` calls.
    async fn first_sync(
        above: u64,
        total: Option<u64>,
        bounded: bool,
    ) -> (crate::engine::MailboxReport, usize, u32) {
        let (e, _store) = engine(RunPolicy {
            confirm_first_sync_above: Some(above),
            ..RunPolicy::default()
        })
        .await;
        let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
        {
            let mut s = k.script.lock().unwrap();
            s.total = total;
            s.total_bounds_first_sync = bounded;
        }
        let r = e
            .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
            .await;
        let reads = k.reads.lock().unwrap().len();
        (r, reads, k.prepares.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn a_first_sync_whose_total_is_within_the_threshold_is_not_planned() {
        let (r, reads, prepares) = first_sync(3, Some(3), true).await;
        assert_eq!(
            (r.created, r.outcome),
            (3, MailboxOutcome::Complete),
            "{r:?}"
        );
        // The run's two pages only, prepared once.
        assert_eq!((reads, prepares), (2, 1));
    }

    #[tokio::test]
    async fn a_first_sync_is_planned_when_its_total_is_above_the_threshold_or_unknown() {
        // Above: planned, and held as the plan says (3 creates > 2).
        let (r, reads, prepares) = first_sync(2, Some(3), true).await;
        assert_eq!((r.created, r.outcome), (0, MailboxOutcome::Held), "{r:?}");
        assert_eq!((reads, prepares), (2, 2));
        // A total that overstates: planned, and run with the preparation made before.
        let (r, reads, prepares) = first_sync(3, Some(9), true).await;
        assert_eq!(
            (r.created, r.outcome),
            (3, MailboxOutcome::Complete),
            "{r:?}"
        );
        assert_eq!((reads, prepares), (4, 2));
        // Unknown total: planned.
        let (r, reads, _) = first_sync(3, None, true).await;
        assert_eq!(
            (r.created, r.outcome),
            (3, MailboxOutcome::Complete),
            "{r:?}"
        );
        assert_eq!(reads, 4);
    }

    #[tokio::test]
    async fn a_kind_whose_total_is_no_bound_is_always_planned() {
        let (r, reads, prepares) = first_sync(3, Some(3), false).await;
        assert_eq!(
            (r.created, r.outcome),
            (3, MailboxOutcome::Complete),
            "{r:?}"
        );
        // The planning walk and the run: each prepares and reads both pages.
        assert_eq!((reads, prepares), (4, 2));
    }
}
