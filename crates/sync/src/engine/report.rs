//! What one run did, per mailbox and kind: the summary `sync --once` prints, the run record's
//! counters, and what the daemon shows.

use gc_store::{Kind, RunCounts, RunOutcome};
use serde::Serialize;

use crate::engine::progress::ItemOutcome;

/// How a mailbox run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxOutcome {
    /// Every item was handled.
    Complete,
    /// Some items were delayed by transient errors; they are retried later.
    Delayed,
    /// The mailbox could not be worked (see `error`); counts toward its exclusion when it
    /// was an access error.
    Failed,
    /// Another process is working this mailbox right now.
    Busy,
    /// Excluded after repeated access errors until the time in `error`.
    Excluded,
    /// A configuration or tenant-level error stopped the whole run (see `error`); not the
    /// mailbox's fault and not counted against it.
    Stopped,
    /// Called off (shutdown, or the mailbox lease was lost); the rest is done next time.
    Cancelled,
    /// Waits for the administrator's confirmation (`graph-connector confirm`, the admin
    /// page): the first-sync review or the mass-delete guard held it before it wrote what
    /// was held (see `error`).
    Held,
}

/// Summary of one run of one kind for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxReport {
    /// Mailbox address.
    pub mailbox: String,
    /// Kind.
    pub kind: Kind,
    /// New records written (for e-mails: messages filed).
    pub created: u64,
    /// Existing records adopted (filed by another rep, by an interrupted attempt, ...).
    pub adopted: u64,
    /// Records updated.
    pub updated: u64,
    /// Records deleted or marked deleted.
    pub deleted: u64,
    /// Items already in sync (for e-mails: filed earlier and only moved now).
    pub unchanged: u64,
    /// Items skipped on purpose.
    pub skipped: u64,
    /// Items that failed.
    pub failed: u64,
    /// Items delayed by transient errors (retried later).
    pub delayed: u64,
    /// Warnings (truncated bodies, skipped attachments, ...).
    pub warnings: u64,
    /// Outcome.
    pub outcome: MailboxOutcome,
    /// Why the mailbox failed, was delayed or stopped.
    pub error: Option<String>,
}

impl MailboxReport {
    /// An empty report.
    pub fn new(mailbox: impl Into<String>, kind: Kind) -> Self {
        MailboxReport {
            mailbox: mailbox.into(),
            kind,
            created: 0,
            adopted: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            skipped: 0,
            failed: 0,
            delayed: 0,
            warnings: 0,
            outcome: MailboxOutcome::Complete,
            error: None,
        }
    }

    /// Count one item.
    pub fn count(&mut self, outcome: ItemOutcome, warnings: u64) {
        match outcome {
            ItemOutcome::Created => self.created += 1,
            ItemOutcome::Adopted => self.adopted += 1,
            ItemOutcome::Updated => self.updated += 1,
            ItemOutcome::Deleted => self.deleted += 1,
            ItemOutcome::Unchanged => self.unchanged += 1,
            ItemOutcome::Skipped => self.skipped += 1,
            ItemOutcome::Failed => self.failed += 1,
            ItemOutcome::Delayed => self.delayed += 1,
            ItemOutcome::Ignored => {}
        }
        self.warnings += warnings;
    }

    /// Items handled (everything but delayed ones).
    pub fn handled(&self) -> u64 {
        self.created
            + self.adopted
            + self.updated
            + self.deleted
            + self.unchanged
            + self.skipped
            + self.failed
    }

    /// Add another report's counters to this one.
    pub fn add(&mut self, o: &MailboxReport) {
        self.created += o.created;
        self.adopted += o.adopted;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.unchanged += o.unchanged;
        self.skipped += o.skipped;
        self.failed += o.failed;
        self.delayed += o.delayed;
        self.warnings += o.warnings;
    }

    /// The counters of the run record.
    pub fn run_counts(&self) -> RunCounts {
        RunCounts {
            created: self.created,
            adopted: self.adopted,
            updated: self.updated,
            skipped: self.skipped,
            deleted: self.deleted,
            failed: self.failed,
            warnings: self.warnings,
        }
    }

    /// The run record's outcome.
    pub fn run_outcome(&self) -> RunOutcome {
        match self.outcome {
            MailboxOutcome::Complete if self.failed == 0 => RunOutcome::Success,
            MailboxOutcome::Complete | MailboxOutcome::Delayed => RunOutcome::Partial,
            MailboxOutcome::Stopped | MailboxOutcome::Cancelled | MailboxOutcome::Held => {
                RunOutcome::Cancelled
            }
            MailboxOutcome::Failed | MailboxOutcome::Busy | MailboxOutcome::Excluded => {
                RunOutcome::Failed
            }
        }
    }
}

/// The summary of a whole cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncReport {
    /// One entry per mailbox and kind worked.
    pub mailboxes: Vec<MailboxReport>,
    /// Enabled reps for which no Microsoft 365 mailbox was found.
    pub reps_without_mailbox: Vec<String>,
    /// Reps whose `UserSettings` could not be read or name something not honoured.
    pub rep_settings: Vec<String>,
    /// A configuration or tenant-level error that stopped the run before everything was
    /// worked (no mailbox and no item was charged for it).
    pub stopped: Option<String>,
}

impl SyncReport {
    /// Whether any mailbox failed as a whole (or is excluded after repeated failures), or the
    /// run was stopped.
    pub fn any_mailbox_failed(&self) -> bool {
        self.stopped.is_some()
            || self.mailboxes.iter().any(|m| {
                matches!(
                    m.outcome,
                    MailboxOutcome::Failed | MailboxOutcome::Excluded | MailboxOutcome::Stopped
                )
            })
    }

    /// Totals of one kind over all mailboxes (mailbox field `"total"`).
    pub fn total(&self, kind: Kind) -> MailboxReport {
        let mut t = MailboxReport::new("total", kind);
        for m in self.mailboxes.iter().filter(|m| m.kind == kind) {
            t.add(m);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_outcomes() {
        let mut r = MailboxReport::new("a@x", Kind::Email);
        for o in [
            ItemOutcome::Created,
            ItemOutcome::Unchanged,
            ItemOutcome::Delayed,
            ItemOutcome::Ignored,
            ItemOutcome::Failed,
        ] {
            r.count(o, 1);
        }
        assert_eq!((r.created, r.unchanged, r.delayed, r.failed), (1, 1, 1, 1));
        assert_eq!(r.handled(), 3);
        assert_eq!(r.warnings, 5);
        assert_eq!(r.run_outcome(), RunOutcome::Partial);
        r.outcome = MailboxOutcome::Stopped;
        assert_eq!(r.run_outcome(), RunOutcome::Cancelled);
        let mut s = SyncReport {
            mailboxes: vec![r.clone(), MailboxReport::new("b@x", Kind::Appointment)],
            ..SyncReport::default()
        };
        assert_eq!(s.total(Kind::Email).created, 1);
        assert_eq!(s.total(Kind::Appointment).created, 0);
        assert!(s.any_mailbox_failed());
        s.mailboxes[0].outcome = MailboxOutcome::Delayed;
        assert!(!s.any_mailbox_failed());
    }
}
