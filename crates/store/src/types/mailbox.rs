//! Mailboxes and their health: the stored record, its per-kind schedule state, the refresh's
//! upsert, a recorded failure and the exclusion policy and result. Separate because this is
//! what the rep list refresh and the scheduler keep per mailbox, apart from any item.

use std::collections::BTreeMap;

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Kind, MailboxId, RunOutcome};

/// A mailbox's exclusion while it lasts: what a run checks before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxExclusion {
    /// When the exclusion ends.
    pub until: Timestamp,
    /// The access error that led to it, as recorded.
    pub last_error_text: Option<String>,
}

/// A mailbox to synchronize (one per enabled CRM rep) and its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// CRM id of the rep; the mailbox's key everywhere in the store.
    pub rep_id: MailboxId,
    /// SMTP address of the mailbox.
    pub address: String,
    /// Entra object id once resolved.
    pub graph_user_id: Option<String>,
    /// Whether the mailbox takes part in synchronization.
    pub enabled: bool,
    /// When a run last succeeded.
    pub last_success_at: Option<Timestamp>,
    /// When the last failure was recorded.
    pub last_error_at: Option<Timestamp>,
    /// Kind of the last failure (e.g. `mailbox_not_found`, `access_denied`).
    pub last_error_kind: Option<String>,
    /// Text of the last failure, for the admin page.
    pub last_error_text: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The mailbox is skipped until this time (set by [`crate::MailboxStore::record_failure`]).
    pub excluded_until: Option<Timestamp>,
    /// Next due time per kind; a kind without an entry is due immediately.
    pub next_due: BTreeMap<Kind, Timestamp>,
    /// Paused locally by an administrator since this time (no kind is scheduled). The
    /// mailbox list refresh never changes it.
    pub paused_at: Option<Timestamp>,
    /// What the scheduler keeps per kind besides the due time (pause, last run).
    pub kinds: BTreeMap<Kind, KindState>,
    /// Row creation time.
    pub created_at: Timestamp,
    /// Last modification time.
    pub updated_at: Timestamp,
}

impl MailboxRecord {
    /// True if the mailbox is excluded at `now`.
    pub fn is_excluded_at(&self, now: Timestamp) -> bool {
        self.excluded_until.is_some_and(|until| until > now)
    }

    /// True if the mailbox as a whole, or `kind` of it, is paused locally.
    pub fn is_paused(&self, kind: Kind) -> bool {
        self.paused_at.is_some() || self.kinds.get(&kind).is_some_and(|k| k.paused_at.is_some())
    }
}

/// Per mailbox and kind: the local pause and the last scheduled run (the `mailbox_schedule`
/// row besides `next_due`), written by the service's scheduler for the admin page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindState {
    /// Paused locally by an administrator since this time. The refresh never changes it.
    pub paused_at: Option<Timestamp>,
    /// When the last scheduled run of this kind ended.
    pub last_run_at: Option<Timestamp>,
    /// When a scheduled run of this kind last ended without error.
    pub last_success_at: Option<Timestamp>,
    /// How the last run ended.
    pub last_outcome: Option<RunOutcome>,
    /// Why the last run failed or was partial (no secrets).
    pub last_error: Option<String>,
    /// Items the last run left for later (delayed, or not reached), when known.
    pub backlog: Option<u64>,
}

/// Input of [`crate::MailboxStore::record_kind_run`]: how a scheduled run ended and when the
/// kind is due next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRun {
    /// Outcome (`Success` also sets `last_success_at`).
    pub outcome: RunOutcome,
    /// Error text for partial and failed runs.
    pub error: Option<String>,
    /// Items left for later.
    pub backlog: Option<u64>,
    /// When the kind is due next, counted from when the run is recorded, by the store's clock
    /// (the record's `last_run_at`): the scheduler's interval, backoff or zero. Relative, so
    /// that recording a run needs no read of the clock first (a round trip on PostgreSQL for
    /// every run).
    pub due_in: Duration,
}

/// Input of [`crate::MailboxStore::upsert_mailbox`], from the CRM rep list refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxUpsert {
    /// CRM id of the rep.
    pub rep_id: MailboxId,
    /// SMTP address.
    pub address: String,
    /// Entra object id if already known. `None` keeps a stored id unless the address
    /// changed (a new address may be a different mailbox, so the stored id is dropped).
    pub graph_user_id: Option<String>,
    /// Enabled in CRM ("Enable Connector settings").
    pub enabled: bool,
}

/// A failure to record against a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxFailure {
    /// Machine-readable kind, e.g. `access_denied`.
    pub kind: String,
    /// Human-readable text (must not contain secrets).
    pub text: String,
}

/// "Exclude a mailbox after N consecutive access errors" (SPEC §4, error handling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExclusionPolicy {
    /// Consecutive failures (counting the one being recorded) that trigger exclusion.
    pub after_failures: u32,
    /// How long the mailbox is then skipped.
    pub exclude_for: std::time::Duration,
}
