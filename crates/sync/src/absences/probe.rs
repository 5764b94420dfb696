//! The idle check of absences. A run reads the rep's window whole (deletions are seen that
//! way) and stores, at the end of a complete round, a fingerprint of what it read: the window
//! and each absence's id and update stamp (`[crm.dialect.absence] updated`). The engine's
//! pre-pass asks CRM for the ids and stamps of every rep's absences in the window in one
//! request (see [`Prober`](crate::ports::Prober) over `CrmActivities`) and leaves out the
//! mailboxes whose fingerprint is the same: nothing was added, changed or deleted, and the
//! window did not move (a new day changes the fingerprint, so absences that left the window
//! are released that day).

use std::sync::Arc;

use gc_store::{CrmId, ProbeReads};
use jiff::civil::Date;
use sha2::{Digest, Sha256};

use crate::absences::kind::AbsenceKind;
use crate::engine::MailboxTarget;
use crate::ports::{FingerprintQuestion, Probe, Prober, Question};

/// The cursor scope of the CRM source.
pub const CRM_SCOPE: &str = "crm";

/// What a read of the window `[from, to]` saw, as stored and compared: the same set of
/// absences with the same stamps gives the same text, in whatever order CRM returned them.
pub fn fingerprint(from: Date, to: Date, mut seen: Vec<(CrmId, String)>) -> String {
    seen.sort();
    let mut h = Sha256::new();
    h.update(format!("{from}..{to}").as_bytes());
    for (id, stamp) in &seen {
        h.update(format!(";{id}={stamp}").as_bytes());
    }
    format!("absences-v1:{}", hex::encode(&h.finalize()[..16]))
}

impl AbsenceKind {
    /// Leave out of a cycle the mailboxes whose absences did not change, asking `prober` (it
    /// must answer CRM absence questions).
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The window today, in `[crm] time_zone`.
    pub(crate) fn window_now(&self) -> (Date, Date) {
        let today = self
            .rules
            .time_zone
            .to_datetime(jiff::Timestamp::now())
            .date();
        self.rules.window(today)
    }

    /// The probe of one mailbox: the fingerprint its last complete round stored; `None`
    /// (the mailbox is run) before the first one, or without an update stamp.
    pub(crate) fn crm_probes(
        &self,
        reads: &ProbeReads,
        target: &MailboxTarget,
    ) -> Option<Vec<Probe>> {
        let fingerprint = reads
            .mailbox(target.mailbox())
            .cursor(CRM_SCOPE)
            .and_then(|c| c.round_checkpoint())?
            .to_owned();
        let (from, to) = self.window_now();
        Some(vec![Probe {
            user: target.graph_user.clone(),
            question: Question::CrmAbsences(FingerprintQuestion {
                rep_number: target.owner.rep_number.clone(),
                from,
                to,
                fingerprint,
            }),
        }])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(n: u32) -> CrmId {
        CrmId::new(1, n)
    }

    #[test]
    fn the_fingerprint_ignores_order_and_sees_every_change() {
        let (from, to) = (
            jiff::civil::date(2026, 12, 1),
            jiff::civil::date(2026, 12, 31),
        );
        let a = vec![(id(1), "s1".to_owned()), (id(2), "s2".to_owned())];
        let base = fingerprint(from, to, a.clone());
        let reversed: Vec<_> = a.iter().rev().cloned().collect();
        assert_eq!(fingerprint(from, to, reversed), base);
        // changed, deleted, added, or a new day
        let changed = vec![(id(1), "s1".to_owned()), (id(2), "s3".to_owned())];
        assert_ne!(fingerprint(from, to, changed), base);
        assert_ne!(fingerprint(from, to, a[..1].to_vec()), base);
        let mut added = a.clone();
        added.push((id(3), "s1".to_owned()));
        assert_ne!(fingerprint(from, to, added), base);
        let next_day = jiff::civil::date(2027, 1, 1);
        assert_ne!(
            fingerprint(jiff::civil::date(2026, 12, 2), next_day, a),
            base
        );
        assert!(base.starts_with("absences-v1:"));
    }
}
