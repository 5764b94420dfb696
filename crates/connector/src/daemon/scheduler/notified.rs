//! The pass a change notification starts: only the notified pairs, their mailboxes' schedule
//! read in one statement (`MailboxStore::schedule_of`), instead of every mailbox's.
//!
//! Why: a regular pass reads the whole schedule (7.7 ms at 2,000 mailboxes on the bench
//! machine). With notifications on, changes come one by one (a delivered message, a moved
//! event), and a regular pass per notification cost more than the runs it started. In the
//! 2,000-mailbox bench's steady state this pass ran 248 times in 50 s while the whole
//! schedule was read 9 times (docs/PERFORMANCE.md, "10,000 mailboxes"). The regular passes
//! go on at their own pace and still see every pair, notified or not.
//!
//! The pass waits `Settings::gather` (`[notifications] gather_ms`, 1 s by default) after the
//! first notification of a quiet moment, and starts every pair notified by then together.
//! Why: on the machine measured, the same work costs several times the CPU when it comes
//! in pieces spread out in time than back to back (cold caches after every gap: a SQLite
//! write and read 25–32 µs back to back, 132–211 µs each when 10 ms or more apart), and a
//! run mostly waits for Graph and CRM, so runs started one by one each run cold from step to
//! step, while runs started together take their steps in turn. With notifications, changes
//! arrive one by one; one run per notification cost 8.0 ms of CPU per filed message against
//! polling's 5.7–6.5 ms, and 7.2 ms with a 1-s gathering, 5.9 ms with 3 s (2,000 mailboxes,
//! docs/PERFORMANCE.md, "10,000 mailboxes").

use std::collections::BTreeSet;

use gc_store::Kind;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Done, Scheduler};

impl Scheduler {
    /// Start the notified pairs that can run now: not running, their mailbox known to the
    /// roster, enabled, not paused, not excluded, due (a notification made them due), up to
    /// the free slots. The others wait for a regular pass, as do all of them while the
    /// tenant is down or the mailbox list was never read. A started run takes its pair's
    /// notified mark; a pair that could not start keeps it, so no probe leaves it out later,
    /// unless it is not synchronized at all.
    pub(super) async fn notified_pass(
        &self,
        tasks: &mut JoinSet<Done>,
        shutdown: &CancellationToken,
    ) {
        let roster = self.status.roster();
        if !self.status.tenant().ok || roster.refreshed_at.is_none() {
            return;
        }
        let mut free = self
            .settings
            .parallel
            .saturating_sub(self.status.running().len());
        let pairs: Vec<(String, Kind)> = self
            .status
            .notified_pairs()
            .into_iter()
            .filter(|(mailbox, kind)| !self.status.is_running(mailbox, *kind))
            .collect();
        if pairs.is_empty() || free == 0 {
            return;
        }
        let mailboxes: Vec<String> = pairs
            .iter()
            .map(|(m, _)| m.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (records, now) = match (
            self.store.schedule_of(&mailboxes).await,
            self.store.now().await,
        ) {
            (Ok(r), Ok(t)) => (r, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the notified mailboxes' schedule");
                return;
            }
        };
        for (mailbox, kind) in pairs {
            if free == 0 {
                break;
            }
            let runner = self.runners.iter().position(|r| r.kind() == kind);
            let target = runner.and_then(|i| {
                self.runners[i]
                    .mailboxes(&roster)
                    .into_iter()
                    .find(|t| t.owner.mailbox == mailbox)
            });
            let rec = records.iter().find(|r| r.rep_id == mailbox);
            let (Some(runner), Some(target), Some(rec)) = (runner, target, rec) else {
                // Not synchronized (any more): nothing will run it, so its mark goes.
                self.status.take_notified(&mailbox, kind);
                continue;
            };
            let due = rec.next_due(kind).is_none_or(|at| at <= now);
            if !rec.enabled || rec.is_paused(kind) || rec.is_excluded_at(now) || !due {
                continue;
            }
            free -= 1;
            self.spawn(
                tasks,
                shutdown,
                &roster,
                runner,
                target.clone(),
                rec.excluded_until.is_some(),
            );
        }
    }
}
