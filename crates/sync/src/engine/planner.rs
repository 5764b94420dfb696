//! The planning walk: what the next run of a kind would do for a mailbox, without doing it.
//!
//! It walks the same sources from the same stored checkpoints as a run ([`super::walk`]) and
//! takes every change through the same steps up to the decision: identify, the retry gate,
//! `[mailboxes] sync_from`, triage, gather (reads) and decide; the decision is then counted
//! through [`SyncKind::planned`] instead of applied. It takes no lease, starts no run record
//! and writes no cursor, link, ledger entry or retry; the kinds' `prepare` and `page` write
//! nothing when [`RunCx::planning`] is set (no folder or list created, nothing kept).
//!
//! What one plan cannot see: the effect of one item's write on another's decision in the
//! same run. The one such effect every kind shares is handled here: two copies of the same
//! record (one tenant-wide key, e.g. a meeting in two reps' calendars, a message filed by
//! two reps) are written once; the first planned "create" of a key counts as a create, the
//! others as adoptions, as the run will report them. Which mailbox writes first is decided
//! by the run's order, so per mailbox the split of such copies may differ; the totals agree.

use std::collections::HashSet;
use std::sync::Mutex;

use futures::StreamExt;
use gc_store::LeaseFence;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::engine::Engine;
use crate::engine::commit::load_cursor;
use crate::engine::cx::{ItemCx, RunCx};
use crate::engine::item::before_sync_from;
use crate::engine::kept::Kept;
use crate::engine::kind::{Source, SyncKind};
use crate::engine::mailbox::MailboxTarget;
use crate::engine::progress::ItemOutcome;
use crate::error::{ErrorClass, PortError, store_error};
use crate::plan::{MailboxPlan, Planned};

/// Links read per request when reconciling.
const RECONCILE_PAGE: u32 = 500;

/// The tenant-wide keys a plan has counted as created, across the mailboxes of one plan.
#[derive(Debug, Default)]
pub struct PlannedKeys(Mutex<HashSet<String>>);

impl PlannedKeys {
    /// `true` the first time `key` is offered.
    fn first(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned())
    }
}

impl Engine {
    /// What the next run of `kind` would do for `target`, without writing anything. Never
    /// fails: an error that stops the reading is in the plan's `error`.
    pub async fn plan_mailbox<K: SyncKind>(
        &self,
        kind: &K,
        target: &MailboxTarget,
        keys: &PlannedKeys,
    ) -> MailboxPlan {
        // No lease is taken: the fence is never used, as nothing is written.
        let fence = LeaseFence {
            key: String::new(),
            holder: self.holder.clone(),
            generation: -1,
        };
        let cancel = CancellationToken::new();
        let mut plan = MailboxPlan::new(target.rep(), kind.kind());
        let kept = match Kept::read(self.store.as_ref(), target.mailbox(), kind.kind()).await {
            Ok(kept) => kept,
            Err(e) => {
                plan.error = Some(store_error(e).message);
                return plan;
            }
        };
        let cx = RunCx {
            target,
            kind: kind.kind(),
            run_id: Uuid::new_v4(),
            store: &self.store,
            policy: &self.policy,
            holder: &self.holder,
            cancel: &cancel,
            fence: &fence,
            key_locks: &self.key_locks,
            budget: &self.budget,
            planning: true,
            guard: None,
            kept: &kept,
        };
        if let Err(e) = plan_work(kind, &cx, &mut plan, keys).await {
            plan.error = Some(e.message);
        }
        plan
    }
}

/// Plan every source of the kind for the mailbox of `cx` (which must be a planning context).
pub(crate) async fn plan_work<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    plan: &mut MailboxPlan,
    keys: &PlannedKeys,
) -> Result<(), PortError> {
    debug_assert!(cx.planning);
    plan.first_sync = first_sync(cx).await?;
    let Some(prepared) = kind.prepare(cx).await? else {
        return Ok(());
    };
    for source in &prepared.sources {
        plan_source(kind, cx, &prepared.run, source, plan, keys).await?;
    }
    Ok(())
}

/// No round of the mailbox and kind has completed and nothing is linked: its first sync.
pub(crate) async fn first_sync(cx: &RunCx<'_>) -> Result<bool, PortError> {
    let cursors = cx
        .store
        .list_cursors(cx.mailbox(), Some(cx.kind))
        .await
        .map_err(store_error)?;
    if cursors.iter().any(|c| c.delta_link.is_some()) {
        return Ok(false);
    }
    Ok(cx
        .store
        .list_links(cx.mailbox(), cx.kind, None, 1)
        .await
        .map_err(store_error)?
        .is_empty())
}

async fn plan_source<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    source: &Source,
    plan: &mut MailboxPlan,
    keys: &PlannedKeys,
) -> Result<(), PortError> {
    let cursor = load_cursor(cx, &source.scope).await?;
    let whole = kind.reads_whole(source);
    let mut first = whole || cursor.delta_link.is_none();
    let mut checkpoint = if whole {
        None
    } else {
        cursor.next_link.or(cursor.delta_link)
    };
    let mut seen: Option<HashSet<String>> =
        (source.reconcile && checkpoint.is_none()).then(HashSet::new);
    let mut restarted = false;
    loop {
        let page = match kind.page(cx, run, source, checkpoint.as_deref()).await {
            Ok(p) => p,
            Err(e) if e.class == ErrorClass::SyncStateExpired && !restarted => {
                // As a run would: walk again from the start (the run also forgets the cursor).
                restarted = true;
                first = true;
                checkpoint = None;
                seen = source.reconcile.then(HashSet::new);
                continue;
            }
            Err(e) => return Err(e),
        };
        crate::engine::walk::see(seen.as_mut(), kind, cx, run, &page.changes);
        plan_all(kind, cx, run, &page.changes, first, plan, keys).await?;
        checkpoint = page.next;
        if checkpoint.is_some() {
            continue;
        }
        let Some(seen) = seen else {
            return Ok(());
        };
        // What a run from the start would reconcile: links whose item was not seen.
        let mut after: Option<String> = None;
        loop {
            let links = cx
                .store
                .list_links(cx.mailbox(), cx.kind, after.as_deref(), RECONCILE_PAGE)
                .await
                .map_err(store_error)?;
            let Some(last) = links.last() else {
                return Ok(());
            };
            after = Some(last.graph_id.clone());
            let full = links.len() as u32 == RECONCILE_PAGE;
            let changes: Vec<K::Change> = links
                .into_iter()
                .filter(|l| !seen.contains(&l.graph_id))
                .filter_map(|l| kind.vanished(run, source, l))
                .collect();
            plan_all(kind, cx, run, &changes, false, plan, keys).await?;
            if !full {
                return Ok(());
            }
        }
    }
}

/// Plan a batch of changes (as many at once as a run works).
async fn plan_all<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    changes: &[K::Change],
    first: bool,
    plan: &mut MailboxPlan,
    keys: &PlannedKeys,
) -> Result<(), PortError> {
    let items: Vec<_> = changes
        .iter()
        .map(|c| plan_one(kind, cx, run, c, first, keys))
        .collect();
    let results: Vec<Result<Option<(String, Planned)>, PortError>> = futures::stream::iter(items)
        .buffer_unordered(cx.policy.item_concurrency.max(1))
        .collect()
        .await;
    for r in results {
        if let Some((item, p)) = r? {
            plan.count(&item, &p);
        }
    }
    Ok(())
}

/// What the run would decide for one change (`None`: not this kind's business).
async fn plan_one<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    change: &K::Change,
    first: bool,
    keys: &PlannedKeys,
) -> Result<Option<(String, Planned)>, PortError> {
    let Some(identity) = kind.identify(cx, run, change) else {
        return Ok(None);
    };
    let retry = cx
        .store
        .get_retry(cx.kind, cx.mailbox(), &identity.item)
        .await
        .map_err(store_error)?;
    let link = cx
        .store
        .get_link(cx.kind, cx.mailbox(), &identity.item)
        .await
        .map_err(store_error)?;
    let now = cx.store.now().await.map_err(store_error)?;
    let item = identity.item.clone();
    if let Some(r) = &retry
        && r.retry_at > now
    {
        return Ok(Some((
            item,
            Planned::new(
                ItemOutcome::Delayed,
                None,
                format!(
                    "attempt {} failed ({}); next attempt after {}",
                    r.attempts, r.last_error, r.retry_at
                ),
            ),
        )));
    }
    if let Some(why) = before_sync_from(kind, cx, change, first, link.as_ref()) {
        return Ok(Some((item, Planned::new(ItemOutcome::Skipped, None, why))));
    }
    let decision = match kind.triage(cx, run, change, link.as_ref()) {
        Some(d) => d,
        None => {
            let icx = ItemCx {
                run: cx,
                item: &identity.item,
                global_key: identity.global_key.as_deref(),
                link: link.as_ref(),
                // A plan commits nothing.
                may_have_retry: true,
                key: None,
            };
            match kind.gather(&icx, run, change).await {
                Ok(facts) => kind.decide(cx, run, change, link.as_ref(), &facts),
                Err(e) => {
                    let outcome = match e.class {
                        ErrorClass::Transient | ErrorClass::SyncStateExpired => {
                            ItemOutcome::Delayed
                        }
                        ErrorClass::Item | ErrorClass::NotFound => ItemOutcome::Failed,
                        ErrorClass::Tenant | ErrorClass::Mailbox | ErrorClass::Cancelled => {
                            return Err(e);
                        }
                    };
                    return Ok(Some((item, Planned::new(outcome, None, e.message))));
                }
            }
        }
    };
    let mut p = kind.planned(&decision);
    if p.outcome == ItemOutcome::Created
        && let Some(key) = identity.global_key.as_deref()
        && !keys.first(&format!("{}:{key}", cx.kind))
    {
        p = Planned::new(
            ItemOutcome::Adopted,
            p.side,
            "another copy of the same item is written first in this plan: this one joins it",
        );
    }
    Ok(Some((item, p)))
}
