//! The idle pre-pass: before a cycle of many mailboxes, ask the stored delta links of all of
//! them in a few grouped requests (see [`Prober`](crate::ports::Prober)) and leave out the
//! mailboxes where nothing changed. An idle tenant then costs a `$batch` call per 20
//! mailboxes instead of a delta request (and its folder lookups) per mailbox.
//!
//! Only a clear "nothing changed" leaves a mailbox out: one that is excluded, has items
//! waiting for a retry, has no finished round (no delta link, or a page checkpoint), or whose
//! probe failed is run as before. A probe never moves a cursor; the run reads the same delta
//! from its checkpoint.

use std::collections::HashSet;

use jiff::Timestamp;

use crate::engine::Engine;
use crate::engine::kind::SyncKind;
use crate::engine::mailbox::MailboxTarget;
use crate::ports::probe::{Probe, ProbeAnswer};

/// Retries read per mailbox to see whether any of the kind is waiting.
const RETRIES_LOOKED_AT: u32 = 100;

impl Engine {
    /// Which of `targets` have nothing to do for `kind` this cycle (`true`: leave it out).
    /// All `false` when the kind offers no prober.
    pub async fn idle<K: SyncKind>(&self, kind: &K, targets: &[MailboxTarget]) -> Vec<bool> {
        let mut idle = vec![false; targets.len()];
        let Some(prober) = kind.prober() else {
            return idle;
        };
        let Ok(now) = self.store.now().await else {
            return idle;
        };
        let mut asked: Vec<(usize, Probe)> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            if let Some(probes) = self.probes_of(kind, t, now).await {
                idle[i] = !probes.is_empty();
                asked.extend(probes.into_iter().map(|p| (i, p)));
            }
        }
        if asked.is_empty() {
            return idle;
        }
        let probes: Vec<Probe> = asked.iter().map(|(_, p)| p.clone()).collect();
        let answers = prober.probe(&probes).await;
        if answers.len() != probes.len() {
            tracing::warn!(
                asked = probes.len(),
                answered = answers.len(),
                "the delta probes were answered incompletely; every mailbox is run"
            );
            return vec![false; targets.len()];
        }
        let mut changed: HashSet<usize> = HashSet::new();
        for ((i, p), a) in asked.iter().zip(&answers) {
            match a {
                ProbeAnswer::Unchanged => {}
                ProbeAnswer::Changed => {
                    changed.insert(*i);
                }
                ProbeAnswer::Unknown(why) => {
                    tracing::debug!(user = p.user, kind = %kind.kind(), why, "no probe answer; the mailbox is run");
                    changed.insert(*i);
                }
            }
        }
        for i in changed {
            idle[i] = false;
        }
        idle
    }

    /// The probes of one mailbox, or `None` when it must be run whatever they say.
    async fn probes_of<K: SyncKind>(
        &self,
        kind: &K,
        target: &MailboxTarget,
        now: Timestamp,
    ) -> Option<Vec<Probe>> {
        let mailbox = self.store.get_mailbox(target.mailbox()).await.ok()?;
        if mailbox.is_some_and(|m| m.is_excluded_at(now)) {
            // The run reports the exclusion.
            return None;
        }
        let retries = self
            .store
            .list_retries(Some(target.mailbox()), RETRIES_LOOKED_AT)
            .await
            .ok()?;
        if retries.iter().any(|r| r.kind == kind.kind()) {
            return None;
        }
        kind.probes(&self.store, target).await.ok().flatten()
    }
}
