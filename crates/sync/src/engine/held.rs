//! What a walk does with the deletions the mass-delete guard (see [`super::guard`]) held: keep
//! them while the guard may still let them through, and judge them at the end of the round.

use crate::engine::batch::work_all;
use crate::engine::cx::RunCx;
use crate::engine::kind::SyncKind;
use crate::engine::progress::Progress;
use crate::engine::report::{MailboxOutcome, MailboxReport};
use crate::error::{PortError, store_error};

/// The changes whose deletions the guard held in this walk of a source.
pub(crate) struct Held<C> {
    /// Held deletions seen (kept or not).
    count: u64,
    /// The held changes, kept for the second pass while it may come.
    kept: Vec<C>,
    /// Some were dropped: the run will stop anyway.
    dropped: bool,
}

impl<C> Default for Held<C> {
    fn default() -> Self {
        Held {
            count: 0,
            kept: Vec::new(),
            dropped: false,
        }
    }
}

impl<C> Held<C> {
    pub fn any(&self) -> bool {
        self.count > 0
    }

    /// Keep the held changes of a batch while the guard might still let them through.
    pub async fn keep(&mut self, cx: &RunCx<'_>, held: Vec<C>) -> Result<(), PortError> {
        let (Some(g), false) = (cx.guard, held.is_empty()) else {
            return Ok(());
        };
        self.count += held.len() as u64;
        let links = g.links(cx).await?;
        if self.dropped || !g.worth_keeping(links) {
            self.dropped = true;
            self.kept = Vec::new();
            return Ok(());
        }
        self.kept.extend(held);
        Ok(())
    }
}

/// What the guard decided at the end of a source.
pub(crate) enum Judged {
    /// Within the limits: the held deletions were made.
    Through,
    /// Within the limits, but some of the held items were delayed in their second pass.
    Delayed(String),
    /// Beyond them: the run stops, nothing held is deleted, the hold is stored.
    Stop,
}

/// The end of a source with held deletions: let them through, or stop the run and hold the
/// mailbox and kind for the administrator.
pub(crate) async fn judge<K: SyncKind>(
    kind: &K,
    cx: &RunCx<'_>,
    run: &K::Run,
    report: &mut MailboxReport,
    progress: &dyn Progress,
    held: Held<K::Change>,
) -> Result<Judged, PortError> {
    let Some(g) = cx.guard else {
        return Ok(Judged::Through);
    };
    let links = g.links(cx).await?;
    if let (None, false) = (g.judge(links), held.dropped) {
        g.let_through(true);
        let batch = work_all(kind, cx, run, held.kept, false, report, progress).await;
        g.let_through(false);
        return Ok(match batch?.delayed {
            Some(reason) => Judged::Delayed(reason),
            None => Judged::Through,
        });
    }
    let why = g
        .judge(links)
        .unwrap_or_else(|| format!("{} deletion(s) of {links} linked item(s)", held.count));
    let hold = crate::engine::holds::Hold {
        reason: crate::engine::holds::HoldReason::MassDelete,
        summary: why.clone(),
        since: cx.store.now().await.map_err(store_error)?,
        plan: Some(serde_json::json!({
            "deletions_held": held.count,
            "links": links,
            "samples": g.samples(),
        })),
        confirmed_by: None,
    };
    cx.check_run()?;
    crate::engine::holds::put(&**cx.store, cx.mailbox(), cx.kind, &hold, Some(cx.run_id)).await?;
    tracing::warn!(mailbox = cx.rep(), kind = %cx.kind, reason = why, "mass-delete guard: run held");
    report.outcome = MailboxOutcome::Held;
    report.error = Some(format!(
        "mass-delete guard: {why}; nothing was deleted. Confirm with `graph-connector confirm --mailbox {} --kind {}` or on the admin page",
        cx.rep(),
        cx.kind
    ));
    Ok(Judged::Stop)
}
