//! What one run did, per mailbox: the summary `sync --once` prints.

use serde::Serialize;

/// How a mailbox run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxOutcome {
    /// Every message was handled.
    Complete,
    /// Some messages were delayed by transient errors; they are retried next run.
    Delayed,
    /// The mailbox could not be worked at all (see `error`).
    Failed,
    /// Another process is working this mailbox right now.
    Busy,
    /// Excluded after repeated access errors until the time in `error`.
    Excluded,
}

/// Summary of one mailbox run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxReport {
    /// Mailbox address.
    pub mailbox: String,
    /// New activities written.
    pub filed: u64,
    /// Existing activities adopted (filed by another rep, or by an interrupted attempt).
    pub adopted: u64,
    /// Messages already filed earlier that were only moved.
    pub already_filed: u64,
    /// Messages skipped on purpose (moved to the failure folder).
    pub skipped: u64,
    /// Messages that failed (moved to the failure folder).
    pub failed: u64,
    /// Messages delayed by transient errors (still in the sync folder).
    pub delayed: u64,
    /// Warnings (truncated bodies, skipped attachments).
    pub warnings: u64,
    /// Outcome.
    pub outcome: MailboxOutcome,
    /// Why the mailbox failed or was delayed.
    pub error: Option<String>,
}

impl MailboxReport {
    /// An empty report.
    pub fn new(mailbox: impl Into<String>) -> Self {
        MailboxReport {
            mailbox: mailbox.into(),
            filed: 0,
            adopted: 0,
            already_filed: 0,
            skipped: 0,
            failed: 0,
            delayed: 0,
            warnings: 0,
            outcome: MailboxOutcome::Complete,
            error: None,
        }
    }

    /// Messages handled (everything but delayed ones).
    pub fn handled(&self) -> u64 {
        self.filed + self.adopted + self.already_filed + self.skipped + self.failed
    }
}

/// The summary of a whole cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncReport {
    /// One entry per mailbox worked.
    pub mailboxes: Vec<MailboxReport>,
    /// Enabled reps for which no Microsoft 365 mailbox was found.
    pub reps_without_mailbox: Vec<String>,
}

impl SyncReport {
    /// Whether any mailbox failed as a whole (or is excluded after repeated failures).
    pub fn any_mailbox_failed(&self) -> bool {
        self.mailboxes
            .iter()
            .any(|m| matches!(m.outcome, MailboxOutcome::Failed | MailboxOutcome::Excluded))
    }

    /// Totals over all mailboxes (mailbox field `"total"`).
    pub fn total(&self) -> MailboxReport {
        let mut t = MailboxReport::new("total");
        for m in &self.mailboxes {
            t.filed += m.filed;
            t.adopted += m.adopted;
            t.already_filed += m.already_filed;
            t.skipped += m.skipped;
            t.failed += m.failed;
            t.delayed += m.delayed;
            t.warnings += m.warnings;
        }
        t
    }
}
