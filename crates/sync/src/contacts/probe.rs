//! The idle check of contacts. A run reads the rep's selection whole (so persons that left it
//! are seen) and stores, at the end of a complete round, a fingerprint of what the selection
//! rests on: the place the contacts go to, and the ids and update stamps of the rep's
//! companies and of their persons (`[crm.dialect.company] updated`, `[crm.dialect.person]
//! updated`). The engine's pre-pass asks CRM for the same of every rep in one request (see
//! [`Prober`](crate::ports::Prober) over `CrmActivities`) and leaves out the mailboxes whose
//! fingerprint is the same: no company was assigned to or taken from the rep, and no person
//! or company of it was added, changed, moved or deleted.
//!
//! Not covered, so such mailboxes are run every cycle as before: the activity rule
//! (`[contacts] activity_days > 0`: the persons of the rep's recent activities and their
//! participants, a window that moves every day), and a dialect without the two stamps.

use std::sync::Arc;

use gc_crm::CompanyStamps;
use gc_store::ProbeReads;
use sha2::{Digest, Sha256};

use crate::contacts::kind::ContactKind;
use crate::engine::MailboxTarget;
use crate::ports::{Probe, Prober, Question, SelectionQuestion};

/// The cursor scope of the CRM source.
pub const CRM_SCOPE: &str = "crm";

/// What a read of the rep's companies saw, as stored and compared: the same companies and
/// persons with the same stamps give the same text, in whatever order CRM returned them.
pub fn fingerprint(mut seen: Vec<CompanyStamps>) -> String {
    seen.sort_by_key(|c| c.id);
    let mut h = Sha256::new();
    for c in &seen {
        h.update(format!(";c{}={}", c.id, c.updated).as_bytes());
        for (id, stamp) in &c.persons {
            h.update(format!(",p{id}={stamp}").as_bytes());
        }
    }
    hex::encode(&h.finalize()[..16])
}

/// The stored checkpoint: the place (folder or category) and the fingerprint, so that a new
/// place (another folder name, the rep's category changed) is a change too.
pub fn checkpoint(place: &str, fingerprint: &str) -> String {
    let mut h = Sha256::new();
    h.update(place.as_bytes());
    format!(
        "contacts-v1:{}:{fingerprint}",
        hex::encode(&h.finalize()[..8])
    )
}

impl ContactKind {
    /// Leave out of a cycle the mailboxes whose selection did not change, asking `prober` (it
    /// must answer CRM selection questions).
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The probe of one mailbox: the fingerprint its last complete round stored, when it was
    /// stored for the same place; `None` (the mailbox is run) otherwise, before the first
    /// round, and with the activity rule on.
    pub(crate) fn crm_probes(
        &self,
        reads: &ProbeReads,
        target: &MailboxTarget,
    ) -> Option<Vec<Probe>> {
        if self.rules.activity_days > 0 {
            return None;
        }
        let stored = reads
            .mailbox(target.mailbox())
            .cursor(CRM_SCOPE)
            .and_then(|c| c.round_checkpoint())?;
        let place = self.place_of(&target.owner);
        let fingerprint = stored
            .strip_prefix(&checkpoint(&place, ""))
            .filter(|f| !f.is_empty())?;
        Some(vec![Probe {
            user: target.graph_user.clone(),
            question: Question::CrmSelection(SelectionQuestion {
                rep_number: target.owner.rep_number.clone(),
                fingerprint: fingerprint.to_owned(),
            }),
        }])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gc_store::CrmId;

    fn co(id: u64, stamp: &str, persons: &[(u64, &str)]) -> CompanyStamps {
        CompanyStamps {
            rep_id: "1".into(),
            id: CrmId(id),
            updated: stamp.into(),
            persons: persons
                .iter()
                .map(|(i, s)| (CrmId(*i), (*s).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_fingerprint_follows_ids_and_stamps_not_order() {
        let a = vec![co(1, "t1", &[(5, "t2")]), co(2, "t1", &[])];
        let b = vec![co(2, "t1", &[]), co(1, "t1", &[(5, "t2")])];
        assert_eq!(fingerprint(a.clone()), fingerprint(b));
        // a person changed, moved, added; a company taken away
        assert_ne!(
            fingerprint(a.clone()),
            fingerprint(vec![co(1, "t1", &[(5, "t3")]), co(2, "t1", &[])])
        );
        assert_ne!(
            fingerprint(a.clone()),
            fingerprint(vec![co(1, "t1", &[]), co(2, "t1", &[(5, "t2")])])
        );
        assert_ne!(
            fingerprint(a.clone()),
            fingerprint(vec![co(1, "t1", &[(5, "t2"), (6, "t4")]), co(2, "t1", &[])])
        );
        assert_ne!(fingerprint(a), fingerprint(vec![co(1, "t1", &[(5, "t2")])]));
        // the place is part of the checkpoint
        assert_ne!(
            checkpoint("folder CRM", "x"),
            checkpoint("category CRM", "x")
        );
        assert!(checkpoint("p", "abc").starts_with(&checkpoint("p", "")));
    }
}
