//! The activities this process created moments ago, so that a colleague's copy of the same
//! message (same `internetMessageId`) is adopted without reading the activity back.
//!
//! Why: colleagues who share most of their mail file the same messages at the same time. The
//! page's key lookup of the second mailbox often ran before the first created the activity,
//! so each shared message was read by its key under the lease (one CRM request, one at a time
//! for the rep) only to learn what this process had itself just written: the id, and that the
//! rep is a participant. In the first filing cycle of the sandbox's tenant those reads were
//! two in five of the three largest mailboxes' CRM requests and set the cycle's end.
//!
//! What a create wrote stands in for a read under the same rule as the page's read
//! ([`PageFacts::key_activity_read`](super::prefetch::PageFacts::key_activity_read)): only for
//! a first attempt (the mailbox has no link for the message), only while the store still
//! links the key to that activity, and only when the activity already has every participant
//! this mailbox would add (the connector only ever adds participants, so an activity that had
//! them still has them). A write older than [`FRESH_FOR`] is forgotten and the activity is
//! read as before; so is everything once [`CAPACITY`] writes are kept, oldest first, which
//! bounds the memory whatever the tenant's size. Writes of other processes are not here: their
//! activities are read.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gc_store::{CrmId, Link};

use crate::email::model::{ExistingActivity, ExistingParticipant, FoundBy, ParticipantPlan};

/// How long a create's participants are trusted in place of a read: about a page's work,
/// like the page's own read. A scheduling choice of this process, not an assumption about
/// CRM.
pub const FRESH_FOR: Duration = Duration::from_secs(30);

/// The most writes kept (about 400 bytes each).
pub const CAPACITY: usize = 2048;

/// The activities this process created, by global key.
#[derive(Debug, Default)]
pub struct RecentWrites(Mutex<Kept>);

#[derive(Debug, Default)]
struct Kept {
    by_key: HashMap<String, (Instant, ExistingActivity)>,
    /// Keys in the order they were written, to forget the oldest first.
    order: VecDeque<(Instant, String)>,
}

impl RecentWrites {
    /// Remember that activity `id` was created with external key `key` and `participants`.
    pub fn record(&self, key: &str, id: CrmId, participants: &[ParticipantPlan]) {
        self.record_at(Instant::now(), key, id, participants);
    }

    fn record_at(&self, now: Instant, key: &str, id: CrmId, participants: &[ParticipantPlan]) {
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        let activity = ExistingActivity {
            id,
            participants: participants.iter().map(ExistingParticipant::from).collect(),
            found_by: FoundBy::ExternalKey,
        };
        kept.by_key.insert(key.to_owned(), (now, activity));
        kept.order.push_back((now, key.to_owned()));
        kept.forget_old(now);
    }

    /// The activity this process created for `key`, as it wrote it, when it may stand in for
    /// a read: written less than [`FRESH_FOR`] ago and still linked to the key in the store
    /// (`key_links`, this key's links of every mailbox).
    pub fn activity(&self, key: &str, key_links: &[Link]) -> Option<ExistingActivity> {
        self.activity_at(Instant::now(), key, key_links)
    }

    fn activity_at(&self, now: Instant, key: &str, key_links: &[Link]) -> Option<ExistingActivity> {
        let kept = self.0.lock().ok()?;
        let (at, activity) = kept.by_key.get(key)?;
        (now.saturating_duration_since(*at) < FRESH_FOR
            && key_links.iter().any(|l| l.crm_id == Some(activity.id)))
        .then(|| activity.clone())
    }
}

impl Kept {
    /// Forget writes older than [`FRESH_FOR`], and the oldest beyond [`CAPACITY`].
    fn forget_old(&mut self, now: Instant) {
        while let Some((at, key)) = self.order.front() {
            let stale = now.saturating_duration_since(*at) >= FRESH_FOR;
            if !stale && self.order.len() <= CAPACITY {
                break;
            }
            // A key written again later keeps its newer entry.
            if self.by_key.get(key).is_some_and(|(t, _)| t == at) {
                self.by_key.remove(key);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use gc_crm::ParticipantRole;
    use gc_store::Kind;

    use super::*;

    fn rep(n: u64) -> ParticipantPlan {
        ParticipantPlan {
            role: ParticipantRole::Required,
            email: format!("rep{n}@contoso.example"),
            person: None,
            rep: Some(CrmId(n)),
        }
    }

    fn linked(mailbox: &str, id: u64) -> Link {
        let mut l = Link::new(Kind::Email, mailbox, "g");
        l.crm_id = Some(CrmId(id));
        l
    }

    #[test]
    fn a_write_stands_in_only_while_fresh_and_linked() {
        let w = RecentWrites::default();
        let t0 = Instant::now();
        w.record_at(t0, "<a@x>", CrmId(7), &[rep(1), rep(2)]);
        let a = w
            .activity_at(t0 + Duration::from_secs(1), "<a@x>", &[linked("1", 7)])
            .unwrap();
        assert_eq!(a.id, CrmId(7));
        assert_eq!(a.found_by, FoundBy::ExternalKey);
        let reps: Vec<_> = a.participants.iter().filter_map(|p| p.rep).collect();
        assert_eq!(reps, [CrmId(1), CrmId(2)]);
        // Never written here.
        assert!(w.activity_at(t0, "<b@x>", &[linked("1", 7)]).is_none());
        // The store no longer links the key to it (links reset, another activity adopted).
        assert!(w.activity_at(t0, "<a@x>", &[]).is_none());
        assert!(w.activity_at(t0, "<a@x>", &[linked("1", 8)]).is_none());
        // Too old: read again.
        assert!(
            w.activity_at(t0 + FRESH_FOR, "<a@x>", &[linked("1", 7)])
                .is_none()
        );
    }

    #[test]
    fn old_writes_are_forgotten_and_the_count_is_bounded() {
        let w = RecentWrites::default();
        let t0 = Instant::now();
        w.record_at(t0, "<old@x>", CrmId(1), &[]);
        let later = t0 + FRESH_FOR;
        for n in 0..CAPACITY + 10 {
            w.record_at(later, &format!("<{n}@x>"), CrmId(n as u64 + 10), &[]);
        }
        let kept = w.0.lock().unwrap();
        assert_eq!(kept.by_key.len(), CAPACITY);
        assert_eq!(kept.order.len(), CAPACITY);
        assert!(!kept.by_key.contains_key("<old@x>"));
        assert!(!kept.by_key.contains_key("<0@x>"));
        assert!(kept.by_key.contains_key(&format!("<{}@x>", CAPACITY + 9)));
    }

    #[test]
    fn a_key_written_again_keeps_its_newer_write() {
        let w = RecentWrites::default();
        let t0 = Instant::now();
        w.record_at(t0, "<a@x>", CrmId(1), &[]);
        let t1 = t0 + FRESH_FOR / 2;
        w.record_at(t1, "<a@x>", CrmId(2), &[]);
        // The first write's place in the order goes; the second's entry stays.
        w.record_at(t0 + FRESH_FOR, "<b@x>", CrmId(3), &[]);
        let a = w.activity_at(t1 + Duration::from_secs(1), "<a@x>", &[linked("1", 2)]);
        assert_eq!(a.map(|a| a.id), Some(CrmId(2)));
    }
}
