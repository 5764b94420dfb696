//! The idle pre-pass: before a cycle of many mailboxes, ask the stored delta links of all of
//! them in a few grouped requests (see [`Prober`](crate::ports::Prober)) and leave out the
//! mailboxes where nothing changed. An idle tenant then costs a `$batch` call per 20
//! mailboxes instead of a delta request (and its folder lookups) per mailbox.
//!
//! Only a clear "nothing changed" leaves a mailbox out: one that is excluded, has items
//! waiting for a retry, has no finished round (no delta link, or a page checkpoint), or whose
//! probe failed is run as before (the first two are one store read for the whole batch,
//! [`MailboxStore::needing_runs`](gc_store::MailboxStore::needing_runs)). A probe never moves a
//! cursor; the run reads the same delta from its checkpoint.

use std::collections::HashSet;

use crate::engine::Engine;
use crate::engine::kind::SyncKind;
use crate::engine::mailbox::MailboxTarget;
use crate::ports::probe::{Probe, ProbeAnswer};

impl Engine {
    /// Which of `targets` have nothing to do for `kind` this cycle (`true`: leave it out).
    /// All `false` when the kind offers no prober.
    pub async fn idle<K: SyncKind>(&self, kind: &K, targets: &[MailboxTarget]) -> Vec<bool> {
        let mut idle = vec![false; targets.len()];
        let Some(prober) = kind.prober() else {
            return idle;
        };
        // What the probes are made of (cursors, kept names), for the whole batch at once.
        let ids: Vec<String> = targets.iter().map(|t| t.mailbox().to_owned()).collect();
        let Ok(reads) = self.store.probe_reads(kind.kind(), &ids).await else {
            return idle;
        };
        // Excluded (the run reports it) or with retries waiting: run whatever a probe says.
        // One read for the batch.
        let Ok(needing) = self.store.needing_runs(kind.kind(), &ids, reads.now).await else {
            return idle;
        };
        let needing: HashSet<String> = needing.into_iter().collect();
        let mut asked: Vec<(usize, Probe)> = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            if needing.contains(t.mailbox()) {
                continue;
            }
            if let Some(probes) = kind.probes(&reads, t) {
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use gc_store::{ExclusionPolicy, Kind, MailboxFailure};

    use crate::engine::testkit::{TestKind, engine, target};
    use crate::engine::{Engine, RunPolicy};

    #[tokio::test]
    async fn only_a_mailbox_without_exclusion_or_retries_is_left_out() {
        let (engine, store): (Engine, _) = engine(RunPolicy::default()).await;
        let kind = TestKind::default();
        let targets = [target(1), target(2), target(3)];
        assert_eq!(
            engine.idle(&kind, &targets).await,
            [false; 3],
            "no prober: every mailbox runs"
        );
        kind.script.lock().unwrap().probed = true;
        assert_eq!(engine.idle(&kind, &targets).await, [true; 3]);
        // 2 has a task waiting for a retry (an e-mail's retry is another kind's), 3 is
        // excluded after an access error.
        store
            .record_retry(Kind::Task, "2", "t1", "CRM busy", Duration::from_secs(600))
            .await
            .unwrap();
        store
            .record_retry(Kind::Email, "1", "m1", "CRM busy", Duration::ZERO)
            .await
            .unwrap();
        let failure = MailboxFailure {
            kind: "access_denied".into(),
            text: "ErrorAccessDenied".into(),
        };
        let policy = ExclusionPolicy {
            after_failures: 1,
            exclude_for: Duration::from_secs(3600),
        };
        store
            .record_failure("3", &failure, Some(policy))
            .await
            .unwrap();
        assert_eq!(engine.idle(&kind, &targets).await, [true, false, false]);
    }
}
