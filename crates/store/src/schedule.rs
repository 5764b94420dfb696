//! [`ScheduleEntry`]: what the service's scheduler reads of every mailbox on every pass.
//!
//! The scheduler looks at every mailbox each pass (about once a second while runs finish),
//! but needs only whether it may run, when each kind is due and its backlog. A whole
//! [`crate::MailboxRecord`] also carries the address, the Entra id, error texts and per kind
//! the last run's outcome and text: at 10,000 mailboxes reading those every pass was the
//! largest share of the service's heap. [`crate::MailboxStore::schedule`] reads only this, one
//! row at a time.

use jiff::Timestamp;

use crate::types::{Kind, MailboxId};

/// One mailbox as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// CRM id of the rep; the mailbox's key everywhere in the store.
    pub rep_id: MailboxId,
    /// Whether the mailbox takes part in synchronization.
    pub enabled: bool,
    /// Paused locally as a whole (every kind).
    pub paused: bool,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The mailbox is skipped until this time.
    pub excluded_until: Option<Timestamp>,
    /// Row creation time: how long a never-run kind has been waiting.
    pub created_at: Timestamp,
    /// One per kind with a schedule row; a kind without one is due at once.
    pub kinds: Vec<KindSchedule>,
}

/// One kind of one mailbox as the scheduler sees it (a `mailbox_schedule` row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSchedule {
    /// The kind.
    pub kind: Kind,
    /// When it is due next.
    pub next_due: Timestamp,
    /// Paused locally (this kind only).
    pub paused: bool,
    /// Items the last run left for later, when known.
    pub backlog: Option<u64>,
}

impl ScheduleEntry {
    /// The schedule row of `kind`, if it has one.
    pub fn kind(&self, kind: Kind) -> Option<&KindSchedule> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// When `kind` is due next; `None` for a kind never scheduled (due at once).
    pub fn next_due(&self, kind: Kind) -> Option<Timestamp> {
        self.kind(kind).map(|k| k.next_due)
    }

    /// True if the mailbox as a whole, or `kind` of it, is paused locally.
    pub fn is_paused(&self, kind: Kind) -> bool {
        self.paused || self.kind(kind).is_some_and(|k| k.paused)
    }

    /// True if the mailbox is excluded at `now`.
    pub fn is_excluded_at(&self, now: Timestamp) -> bool {
        self.excluded_until.is_some_and(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kinds: Vec<KindSchedule>) -> ScheduleEntry {
        ScheduleEntry {
            rep_id: "7".into(),
            enabled: true,
            paused: false,
            consecutive_failures: 0,
            excluded_until: None,
            created_at: Timestamp::UNIX_EPOCH,
            kinds,
        }
    }

    #[test]
    fn a_kind_is_paused_by_its_own_pause_or_the_mailboxs() {
        let at = Timestamp::from_second(100).unwrap();
        let mut e = entry(vec![KindSchedule {
            kind: Kind::Task,
            next_due: at,
            paused: true,
            backlog: None,
        }]);
        assert!(e.is_paused(Kind::Task));
        assert!(!e.is_paused(Kind::Email));
        assert_eq!(e.next_due(Kind::Task), Some(at));
        assert_eq!(e.next_due(Kind::Email), None);
        e.paused = true;
        assert!(e.is_paused(Kind::Email));
    }

    #[test]
    fn an_exclusion_ends_at_its_time() {
        let mut e = entry(vec![]);
        let until = Timestamp::from_second(100).unwrap();
        e.excluded_until = Some(until);
        assert!(e.is_excluded_at(Timestamp::from_second(99).unwrap()));
        assert!(!e.is_excluded_at(until));
    }
}
