//! One item through the engine: identify, the retry gate, triage, the global-key lease,
//! gather, decide, apply, commit, finish; and what an error of any step means for the item.

use gc_store::{ItemRetry, LedgerAction, Link};

use crate::engine::commit::{clear_retry, commit_applied, record_retry};
use crate::engine::cx::{ItemCx, RunCx};
use crate::engine::kind::{Applied, SyncKind};
use crate::engine::progress::ItemOutcome;
use crate::error::{ErrorClass, PortError, store_error};
use crate::lease::{KeyGuard, LeaseGuard};

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Done {
    /// Its outcome.
    pub outcome: ItemOutcome,
    /// Warnings recorded for it.
    pub warnings: u64,
    /// Why it was delayed.
    pub delay: Option<String>,
    /// An error that stops the mailbox run or the whole run (tenant, mailbox, cancelled); the
    /// item is not charged for it.
    pub stop: Option<PortError>,
    /// Its deletion was held by the mass-delete guard: nothing was written or committed.
    pub held: bool,
}

impl Done {
    fn new(outcome: ItemOutcome, warnings: u64) -> Self {
        Done {
            outcome,
            warnings,
            delay: None,
            stop: None,
            held: false,
        }
    }

    fn held() -> Self {
        Done {
            held: true,
            ..Done::new(ItemOutcome::Delayed, 0)
        }
    }

    fn delayed(reason: impl Into<String>) -> Self {
        Done {
            delay: Some(reason.into()),
            ..Done::new(ItemOutcome::Delayed, 0)
        }
    }

    fn stopped(e: PortError) -> Self {
        Done {
            stop: Some(e),
            ..Done::new(ItemOutcome::Delayed, 0)
        }
    }
}

/// Work one change of a source (`first`: the source has not completed a round yet, so
/// `[mailboxes] sync_from` applies).
pub(crate) async fn work<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    change: &K::Change,
    first: bool,
) -> Done {
    let Some(identity) = kind.identify(cx, run, change) else {
        return Done::new(ItemOutcome::Ignored, 0);
    };
    if let Err(e) = cx.check_run() {
        return Done::stopped(e);
    }
    // Two changes of one item in flight at once (a page read twice, an item on two pages)
    // take turns from here: each reads the link the other committed, never a copy from
    // before it (a stale link would be written back over the newer one, or a record adopted
    // twice).
    let _item = cx.key_locks.lock(&item_lock(cx, &identity.item)).await;
    let read = async {
        let (link, retry) = cx
            .store
            .link_and_retry(cx.kind, cx.mailbox(), &identity.item)
            .await
            .map_err(store_error)?;
        // The store's clock only matters to an item waiting for its next attempt; on
        // PostgreSQL reading it is a round trip, which every item paid before.
        let waiting = match &retry {
            Some(r) => r.retry_at > cx.store.now().await.map_err(store_error)?,
            None => false,
        };
        Ok::<_, PortError>((retry, link, waiting))
    };
    let (retry, link, waiting) = match read.await {
        Ok(r) => r,
        Err(e) if e.class == ErrorClass::Transient => return Done::delayed(e.message),
        Err(e) => return Done::stopped(e),
    };
    if let Some(r) = &retry
        && waiting
    {
        return Done::delayed(format!(
            "attempt {} failed ({}); next attempt after {}",
            r.attempts, r.last_error, r.retry_at
        ));
    }
    let icx = ItemCx {
        run: cx,
        item: &identity.item,
        global_key: identity.global_key.as_deref(),
        link: link.as_ref(),
        may_have_retry: retry.is_some(),
        key: None,
    };
    if let Some(why) = before_sync_from(kind, cx, change, first, link.as_ref()) {
        icx.record(&icx.entry(None, LedgerAction::Skipped, &why))
            .await;
        return Done::new(ItemOutcome::Skipped, 0);
    }
    let applied = match attempt(kind, &icx, run, change).await {
        Ok(Some(a)) => a,
        Ok(None) => return Done::held(),
        Err(e) => return on_error(kind, &icx, run, change, retry.as_ref(), e).await,
    };
    tracing::debug!(
        mailbox = cx.mailbox(),
        kind = %cx.kind,
        item = icx.item,
        outcome = ?applied.outcome,
        "item committed"
    );
    match kind.finish(&icx, run, change, &applied).await {
        Ok(()) => {
            if retry.is_some() && applied.link.is_none() {
                clear_retry(&icx).await;
            }
            Done::new(applied.outcome, applied.warnings)
        }
        Err(e) => on_error(kind, &icx, run, change, retry.as_ref(), e).await,
    }
}

/// Work another change of the same kind from inside an item's gather (the appointments kind
/// writes a series' master record before the first of its occurrences): triage, or gather,
/// decide and apply under that change's own global-key lease, and commit, as [`work`] does.
/// Its errors are the calling item's (delayed or failed with them). Returns the change's link
/// as committed.
pub(crate) async fn work_nested<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    change: &K::Change,
) -> Result<Option<Link>, PortError> {
    let Some(identity) = kind.identify(cx, run, change) else {
        return Ok(None);
    };
    cx.check_run()?;
    // As in [`work`]: the change may be in flight as an item of its own too (a series'
    // master beside its occurrences); only occurrences nest a master, never the reverse, so
    // the two item locks are always taken in that order.
    let _item = cx.key_locks.lock(&item_lock(cx, &identity.item)).await;
    let link = cx
        .store
        .get_link(cx.kind, cx.mailbox(), &identity.item)
        .await
        .map_err(store_error)?;
    if cx.planning {
        // A planning walk writes nothing: the nested change is not worked (nor counted).
        return Ok(link);
    }
    let icx = ItemCx {
        run: cx,
        item: &identity.item,
        global_key: identity.global_key.as_deref(),
        link: link.as_ref(),
        // Its retry state was not read.
        may_have_retry: true,
        key: None,
    };
    // `None`: the mass-delete guard held the decision; the link stays as it is.
    if let Some(applied) = attempt(kind, &icx, run, change).await?
        && let Some(reason) = applied
            .failure
            .filter(|_| applied.outcome == ItemOutcome::Failed)
    {
        return Err(PortError::new(ErrorClass::Item, reason));
    }
    cx.store
        .get_link(cx.kind, cx.mailbox(), &identity.item)
        .await
        .map_err(store_error)
}

/// The in-process lock of one item of one mailbox and kind (beside the global-key locks, which
/// hold `<kind>:<global key>`).
fn item_lock(cx: &RunCx<'_>, item: &str) -> String {
    format!("item/{}/{}/{item}", cx.kind, cx.mailbox())
}

/// Why an unlinked item is left alone on the first sync (`[mailboxes] sync_from`), if it is.
pub(crate) fn before_sync_from<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    change: &K::Change,
    first: bool,
    link: Option<&Link>,
) -> Option<String> {
    let from = cx.policy.sync_from?;
    if !first || link.is_some() {
        return None;
    }
    let dated = kind.dated(change)?;
    (dated < from).then(|| {
        format!(
            "dated {dated}, before [mailboxes] sync_from ({from}): left alone on the first sync"
        )
    })
}

/// Whether the mass-delete guard holds this decision (see [`super::guard`]).
fn held<K: SyncKind>(kind: &K, cx: &ItemCx<'_>, decision: &K::Decision) -> bool {
    cx.guard
        .is_some_and(|g| g.holds(cx.item, &kind.planned(decision)))
}

/// Triage, or gather, decide and apply under the global-key lease; then commit. `Ok(None)`:
/// the decision was a deletion the mass-delete guard holds, nothing was written.
async fn attempt<K: SyncKind>(
    kind: &K,
    cx: &ItemCx<'_>,
    run: &K::Run,
    change: &K::Change,
) -> Result<Option<Applied>, PortError> {
    if let Some(decision) = kind.triage(cx.run, run, change, cx.link) {
        tracing::debug!(mailbox = cx.mailbox(), item = cx.item, ?decision, "triage");
        if held(kind, cx, &decision) {
            return Ok(None);
        }
        let applied = kind.apply(cx, run, change, decision).await?;
        commit_applied(cx, &applied, None).await?;
        return Ok(Some(applied));
    }
    let key_name = cx.global_key.map(|k| format!("{}:{k}", cx.kind));
    // Sibling tasks of this process queue here first: the store lease below may lapse under
    // starvation, this lock cannot.
    let local = match &key_name {
        Some(k) => Some(cx.key_locks.lock(k).await),
        None => None,
    };
    let guard = match &local {
        Some(local) => Some(key_lease(cx, local).await?),
        None => None,
    };
    // Under the key lease every write is fenced by it too.
    let kcx = ItemCx {
        key: guard.as_ref(),
        ..*cx
    };
    let mut released = false;
    let result = async {
        let facts = kind.gather(&kcx, run, change).await?;
        let decision = kind.decide(cx.run, run, change, cx.link, &facts);
        tracing::debug!(
            mailbox = cx.mailbox(),
            item = cx.item,
            ?decision,
            "decision"
        );
        if held(kind, &kcx, &decision) {
            return Ok(None);
        }
        let applied = kind.apply(&kcx, run, change, decision).await?;
        // Committed while the key is still held, and the key given up with the commit:
        // another mailbox waiting for the key then finds this item's link.
        released = commit_applied(&kcx, &applied, guard.as_ref().map(LeaseGuard::fence)).await?;
        Ok(Some(applied))
    }
    .await;
    if let Some(g) = guard {
        if released {
            g.released_with_commit();
        } else {
            g.release().await;
        }
    }
    result
}

/// Take the item's global-key lease (`local` holds the in-process lock of `<kind>:<global
/// key>`); its holder is unique per attempt, so a stale attempt of the same process can never
/// pass for this one.
async fn key_lease(cx: &ItemCx<'_>, local: &KeyGuard) -> Result<LeaseGuard, PortError> {
    let holder = format!("{}/{}/{}", cx.holder, cx.mailbox(), cx.item);
    local
        .store_lease(cx.store, &holder, cx.policy.lease_ttl, cx.policy.key_wait)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            PortError::transient(format!(
                "another mailbox or process is working the same {} right now",
                cx.kind
            ))
        })
}

/// An error of any step, by its class.
async fn on_error<K: SyncKind>(
    kind: &K,
    cx: &ItemCx<'_>,
    run: &K::Run,
    change: &K::Change,
    retry: Option<&ItemRetry>,
    e: PortError,
) -> Done {
    match e.class {
        ErrorClass::Transient | ErrorClass::SyncStateExpired => {
            let attempts = retry.map_or(0, |r| r.attempts) + 1;
            if attempts >= cx.policy.item_retry_limit.max(1) {
                let reason = format!(
                    "gave up after {attempts} failed attempts ([errors] item_retry_limit); the last one: {}",
                    e.message
                );
                return fail(kind, cx, run, change, &reason).await;
            }
            tracing::debug!(mailbox = cx.mailbox(), kind = %cx.kind, item = cx.item, attempts, reason = e.message, "item delayed");
            match record_retry(cx, retry, &e.message).await {
                Ok(_) => Done::delayed(e.message),
                Err(s) if s.class == ErrorClass::Transient => Done::delayed(e.message),
                Err(s) => Done::stopped(s),
            }
        }
        ErrorClass::Item | ErrorClass::NotFound => fail(kind, cx, run, change, &e.message).await,
        ErrorClass::Tenant | ErrorClass::Mailbox | ErrorClass::Cancelled => Done::stopped(e),
    }
}

/// Fail the item: commit a failed link with the reason, then let the kind finish it (for
/// e-mails: tell the user, move the message to the failure folder).
async fn fail<K: SyncKind>(
    kind: &K,
    cx: &ItemCx<'_>,
    run: &K::Run,
    change: &K::Change,
    reason: &str,
) -> Done {
    let mut applied = failed(cx, reason);
    if let Some(entry) = applied.ledger.first_mut() {
        entry.detail = kind.describe(change);
    }
    if let Err(e) = commit_applied(cx, &applied, None).await {
        return match e.class {
            ErrorClass::Transient => Done::delayed(e.message),
            _ => Done::stopped(e),
        };
    }
    tracing::debug!(mailbox = cx.mailbox(), kind = %cx.kind, item = cx.item, reason, "item failed");
    match kind.finish(cx, run, change, &applied).await {
        Ok(()) => Done::new(ItemOutcome::Failed, 0),
        Err(e) => match e.class {
            ErrorClass::Tenant | ErrorClass::Mailbox | ErrorClass::Cancelled => Done::stopped(e),
            _ => Done::delayed(e.message),
        },
    }
}

/// A failed item as committed by the engine.
pub fn failed(cx: &ItemCx<'_>, reason: &str) -> Applied {
    let link: Link = cx.failed_link(reason, None);
    let crm_id = link.crm_id;
    Applied {
        outcome: ItemOutcome::Failed,
        link: Some(link),
        ledger: vec![cx.entry(crm_id, LedgerAction::Failed, reason)],
        warnings: 0,
        failure: Some(reason.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use gc_store::{Kind, LedgerAction, LedgerFilter, LinkState};
    use tokio_util::sync::CancellationToken;

    use crate::ErrorClass;
    use crate::engine::testkit::{Fault, TestKind, engine, target};
    use crate::engine::{ItemOutcome, MailboxOutcome, NoProgress, RunPolicy};

    fn quick_retries(limit: u32) -> RunPolicy {
        RunPolicy {
            item_retry_limit: limit,
            retry_backoff: std::time::Duration::ZERO,
            ..RunPolicy::default()
        }
    }

    #[tokio::test]
    async fn a_poison_item_fails_after_the_retry_limit_and_the_rest_goes_on() {
        let (e, store) = engine(quick_retries(3)).await;
        let k = TestKind::with_pages(&[&["a", "poison"], &["b"]]);
        k.fault("poison", Fault::Transient(u32::MAX));
        let c = CancellationToken::new();
        for run in 1..=2 {
            let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
            assert_eq!(
                (r.delayed, r.outcome),
                (1, MailboxOutcome::Delayed),
                "run {run}"
            );
            let retry = store
                .get_retry(Kind::Task, "1", "poison")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(retry.attempts, run);
            assert!(!k.applied().contains(&"b".to_owned()), "the page holds");
        }
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(
            (r.failed, r.created, r.outcome),
            (1, 1, MailboxOutcome::Complete),
            "{r:?}"
        );
        assert_eq!(k.finished()["poison"], ItemOutcome::Failed);
        assert_eq!(k.finished()["b"], ItemOutcome::Created);
        let link = store
            .get_link(Kind::Task, "1", "poison")
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(&link.state, LinkState::Failed { reason } if reason.contains("gave up after 3"))
        );
        assert!(
            store
                .get_retry(Kind::Task, "1", "poison")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_waiting_item_is_not_tried_before_its_time() {
        let policy = RunPolicy {
            retry_backoff: std::time::Duration::from_secs(3600),
            ..RunPolicy::default()
        };
        let (e, store) = engine(policy).await;
        let k = TestKind::with_pages(&[&["a"]]);
        k.fault("a", Fault::Transient(2));
        let c = CancellationToken::new();
        // 1st failure: retried by the next run at once; 2nd: waits an hour.
        e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.delayed, 1);
        assert!(r.error.unwrap().contains("next attempt after"));
        assert_eq!(
            *k.faults.lock().unwrap().get("a").unwrap(),
            Fault::Transient(0)
        );
        assert!(k.applied().is_empty());
        store.clear_retry(Kind::Task, "1", "a").await.unwrap();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.created, 1);
    }

    #[tokio::test]
    async fn an_item_error_fails_the_item_with_its_reason() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["bad", "ok"]]);
        k.fault("bad", Fault::Always(ErrorClass::Item));
        let r = e
            .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
            .await;
        assert_eq!(
            (r.failed, r.created, r.outcome),
            (1, 1, MailboxOutcome::Complete)
        );
        let ledger = store
            .query_ledger(&LedgerFilter {
                item_key: Some("bad".into()),
                ..LedgerFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(ledger[0].action, LedgerAction::Failed);
        assert!(ledger[0].reason.contains("bad: Item"));
    }

    /// The same item twice on one page (a delta reports an item again when it changed during
    /// the round): the second change waits for the first and reads the link it committed, so
    /// nothing is written twice from a link read before the first one's commit.
    #[tokio::test]
    async fn two_changes_of_one_item_at_once_take_turns_and_write_once() {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["x", "x", "y"]]);
        k.fault("x", Fault::Slow(std::time::Duration::from_millis(200)));
        let r = e
            .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
            .await;
        assert_eq!((r.created, r.unchanged), (2, 1), "{r:?}");
        let mut applied = k.applied();
        applied.sort();
        assert_eq!(applied, vec!["x", "y"], "x written once");
        let link = store.get_link(Kind::Task, "1", "x").await.unwrap().unwrap();
        assert_eq!(link.state, LinkState::Active);
    }

    #[tokio::test]
    async fn a_transient_finish_is_retried_without_writing_again() {
        let (e, _store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a"]]);
        k.fault("a", Fault::FinishTransient(1));
        let c = CancellationToken::new();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(r.delayed, 1);
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!((r.unchanged, r.outcome), (1, MailboxOutcome::Complete));
        assert_eq!(k.applied(), vec!["a"], "written once");
        assert_eq!(k.finished()["a"], ItemOutcome::Unchanged);
    }
}
