//! Plain data types exchanged with the store.
//!
//! Everything here is backend-neutral: the SQL backends translate these to and from rows.
//! Enums have a stable lower-case text form (`as_str` / `FromStr`) because that text is
//! what the database holds, so renaming a Rust variant must never change it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;

/// Identifier of a mailbox inside the store: the CRM id of the rep who owns it
/// ([`MailboxRecord::rep_id`]). Links, cursors, ledger entries, runs and leases all refer
/// to mailboxes by this string, because addresses can be renamed and Graph user ids are
/// only known after a directory lookup.
pub type MailboxId = String;

/// CRM record id (`StatNo << 32 | SeqNo`, shared with the CRM client through `gc-ids`). Stored
/// as TEXT in its canonical decimal form so that no id (not even one ≥ 2^63) changes sign in SQL
/// and an administrator can paste it into a CRM query as is.
pub use gc_ids::CrmId;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database (and used in JSON).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt {
                        what: stringify!($name),
                        detail: format!("unknown value {other:?}"),
                    }),
                }
            }
        }
    };
}

text_enum! {
    /// What is being synchronized. One cursor, lease and schedule entry per mailbox and kind.
    Kind {
        /// Messages filed into the sync folder → CRM e-mail activities.
        Email => "email",
        /// Calendar events ↔ CRM appointments.
        Appointment => "appointment",
        /// CRM tasks → Microsoft To Do.
        Task => "task",
        /// CRM persons → personal contacts.
        Contact => "contact",
        /// CRM absences → out-of-office calendar events.
        Absence => "absence",
    }
}

text_enum! {
    /// What the sync engine decided about an item; the ledger's `action` column.
    LedgerAction {
        /// A new CRM (or Graph) record was written.
        Created => "created",
        /// An existing record was updated.
        Updated => "updated",
        /// An existing record (external key, iCalUId, internetMessageId) was linked instead of
        /// creating a duplicate.
        Adopted => "adopted",
        /// Nothing to do, with the reason why.
        Skipped => "skipped",
        /// The counterpart was deleted (or soft-deleted).
        Deleted => "deleted",
        /// Both sides changed; needs a decision.
        Conflict => "conflict",
        /// The item could not be synchronized.
        Failed => "failed",
        /// Synchronized, but something was lost or truncated.
        Warning => "warning",
        /// The Graph message was moved to the success or failure folder.
        Moved => "moved",
        /// The user was told about the item (what was left out of it).
        Notified => "notified",
        /// A run stopped before writing and waits for the administrator's confirmation (the
        /// first-sync review, the mass-delete guard).
        Held => "held",
        /// The administrator confirmed what a held run is to do (who, in the reason).
        Confirmed => "confirmed",
        /// An administrator asked for the item or mailbox to be processed again (resync,
        /// forget, reset); the detail names who.
        Reprocess => "reprocess",
    }
}

text_enum! {
    /// How a sync run ended.
    RunOutcome {
        /// Every item was processed successfully.
        Success => "success",
        /// The run finished but some items failed.
        Partial => "partial",
        /// The run stopped on an error (see [`Run::error`]).
        Failed => "failed",
        /// The run was interrupted (shutdown, lease lost).
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// What became of an alert to the administrator.
    AlertDelivery {
        /// Raised, not delivered yet.
        Pending => "pending",
        /// Delivered through Microsoft Graph.
        Sent => "sent",
        /// Delivery failed (see [`Alert::delivery_error`]).
        Failed => "failed",
        /// Not sent: `[errors] notify_admin` is off. Listed on the admin page all the same.
        Disabled => "disabled",
    }
}

/// State of a link between a Graph item and a CRM record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    /// Both sides exist and are synchronized.
    Active,
    /// Deleted on one side; the CRM record carries `ConnectorDeleted` instead of being removed.
    SoftDeleted,
    /// Both sides changed since the last sync; the engine left it for a decision.
    Conflict,
    /// The last attempt failed; `reason` says why (also in the ledger).
    Failed {
        /// Human-readable reason.
        reason: String,
    },
    /// A write to CRM for this item is under way, or was interrupted (process killed,
    /// transient error mid-write): the intent marker stored *before* the write. The next
    /// attempt must look for what the interrupted one may have written (by external key,
    /// by the link's `crm_id`, by marker) and complete it instead of writing again.
    Interrupted,
}

impl LinkState {
    /// Text stored in `links.state`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::SoftDeleted => "soft_deleted",
            LinkState::Conflict => "conflict",
            LinkState::Failed { .. } => "failed",
            LinkState::Interrupted => "interrupted",
        }
    }

    /// The reason column (only `Failed` has one).
    pub fn reason(&self) -> Option<&str> {
        match self {
            LinkState::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    /// Inverse of `as_str` + `reason`.
    pub fn from_parts(state: &str, reason: Option<String>) -> Result<Self, StoreError> {
        match state {
            "active" => Ok(LinkState::Active),
            "soft_deleted" => Ok(LinkState::SoftDeleted),
            "conflict" => Ok(LinkState::Conflict),
            "failed" => Ok(LinkState::Failed {
                reason: reason.unwrap_or_default(),
            }),
            "interrupted" => Ok(LinkState::Interrupted),
            other => Err(StoreError::Corrupt {
                what: "LinkState",
                detail: format!("unknown value {other:?}"),
            }),
        }
    }
}

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
    /// The mailbox is skipped until this time (set by [`crate::StateStore::record_failure`]).
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

/// Input of [`crate::StateStore::record_kind_run`]: how a scheduled run ended and when the
/// kind is due next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRun {
    /// Outcome (`Success` also sets `last_success_at`).
    pub outcome: RunOutcome,
    /// Error text for partial and failed runs.
    pub error: Option<String>,
    /// Items left for later.
    pub backlog: Option<u64>,
    /// When the kind is due next.
    pub next_due: Timestamp,
}

/// Input of [`crate::StateStore::upsert_mailbox`], from the CRM rep list refresh.
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

/// Delta state of one mailbox, kind and scope (folder id, calendar, task list ...).
///
/// `Debug` does not print the links: they carry `$deltatoken`/`$skiptoken` values that act as
/// bearer state for the mailbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind synchronized.
    pub kind: Kind,
    /// Folder / collection key within the mailbox; free text chosen by the engine.
    pub scope: String,
    /// `@odata.deltaLink` of the last completed round.
    pub delta_link: Option<String>,
    /// `@odata.nextLink` of the page being worked on (page checkpoint inside a round).
    pub next_link: Option<String>,
    /// Start of the window the delta was opened with (calendar/task windows).
    pub window_start: Option<Timestamp>,
    /// End of that window.
    pub window_end: Option<Timestamp>,
    /// Set by the store on write; ignored in input.
    pub updated_at: Option<Timestamp>,
}

impl Cursor {
    /// An empty cursor (start of an initial enumeration).
    pub fn new(mailbox: impl Into<MailboxId>, kind: Kind, scope: impl Into<String>) -> Self {
        Cursor {
            mailbox: mailbox.into(),
            kind,
            scope: scope.into(),
            delta_link: None,
            next_link: None,
            window_start: None,
            window_end: None,
            updated_at: None,
        }
    }

    /// The checkpoint of the last finished round (its delta link), or `None` while a round is
    /// in progress (a page checkpoint) or before the first one finished. What the idle
    /// probes ask, and what a link written after its storing time is compared with.
    pub fn round_checkpoint(&self) -> Option<&str> {
        self.delta_link
            .as_deref()
            .filter(|_| self.next_link.is_none())
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |l: &Option<String>| l.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("Cursor")
            .field("mailbox", &self.mailbox)
            .field("kind", &self.kind)
            .field("scope", &self.scope)
            .field("delta_link", &redact(&self.delta_link))
            .field("next_link", &redact(&self.next_link))
            .field("window_start", &self.window_start)
            .field("window_end", &self.window_end)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// The link between one Graph item in one mailbox and its CRM record.
///
/// Primary key: (`kind`, `mailbox`, `graph_id`). The same message filed by three reps gives
/// three links sharing one `global_key` and one `crm_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Kind of item.
    pub kind: Kind,
    /// Mailbox (rep id) the Graph item lives in.
    pub mailbox: MailboxId,
    /// Graph immutable id.
    pub graph_id: String,
    /// `internetMessageId` (mail) or `iCalUId` (events); tenant-wide identity.
    pub global_key: Option<String>,
    /// CRM record id.
    pub crm_id: Option<CrmId>,
    /// Graph `changeKey` last seen or written.
    pub graph_version: Option<String>,
    /// CRM update stamp last seen or written.
    pub crm_version: Option<String>,
    /// Hash of the synchronized fields on the Graph side.
    pub graph_hash: Option<String>,
    /// Hash of the synchronized fields on the CRM side.
    pub crm_hash: Option<String>,
    /// Link state.
    pub state: LinkState,
    /// Set by the store on write; ignored in input.
    pub updated_at: Option<Timestamp>,
}

impl Link {
    /// An intent without a CRM id: a write to CRM was begun (and cut off) before the record's
    /// id was known. One half of [`StateStore::unsettled_links`](crate::StateStore::unsettled_links).
    pub fn is_intent(&self) -> bool {
        self.state == LinkState::Interrupted && self.crm_id.is_none()
    }

    /// An active link to a CRM record whose Graph item the connector wrote and no change feed
    /// has reported yet (a Graph version, no Graph hash). The other half of
    /// [`StateStore::unsettled_links`](crate::StateStore::unsettled_links).
    pub fn is_unconfirmed(&self) -> bool {
        self.state == LinkState::Active
            && self.crm_id.is_some()
            && self.graph_hash.is_none()
            && self.graph_version.is_some()
    }

    /// A new active link with only the identity filled in.
    pub fn new(kind: Kind, mailbox: impl Into<MailboxId>, graph_id: impl Into<String>) -> Self {
        Link {
            kind,
            mailbox: mailbox.into(),
            graph_id: graph_id.into(),
            global_key: None,
            crm_id: None,
            graph_version: None,
            crm_version: None,
            graph_hash: None,
            crm_hash: None,
            state: LinkState::Active,
            updated_at: None,
        }
    }
}

/// A ledger entry to append. `at` and `id` are assigned by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLedgerEntry {
    /// Run that made the decision, if any.
    pub run_id: Option<Uuid>,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind of item.
    pub kind: Kind,
    /// Item key: Graph id, or the global key, or a CRM-side key for CRM → Graph kinds.
    /// Must not be empty (enforced by a CHECK constraint).
    pub item_key: String,
    /// CRM record concerned, if any.
    pub crm_id: Option<CrmId>,
    /// The decision.
    pub action: LedgerAction,
    /// Why, in words an administrator understands.
    pub reason: String,
    /// Structured detail (field diffs, error codes ...).
    pub detail: Option<serde_json::Value>,
}

impl NewLedgerEntry {
    /// An entry without run id, CRM id or detail.
    pub fn new(
        mailbox: impl Into<MailboxId>,
        kind: Kind,
        item_key: impl Into<String>,
        action: LedgerAction,
        reason: impl Into<String>,
    ) -> Self {
        NewLedgerEntry {
            run_id: None,
            mailbox: mailbox.into(),
            kind,
            item_key: item_key.into(),
            crm_id: None,
            action,
            reason: reason.into(),
            detail: None,
        }
    }
}

/// A stored ledger entry. Serialized as one JSON line by the export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Monotonic id (insertion order).
    pub id: i64,
    /// When it was recorded (database clock).
    pub at: Timestamp,
    /// Run that made the decision.
    pub run_id: Option<Uuid>,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind of item.
    pub kind: Kind,
    /// Item key.
    pub item_key: String,
    /// CRM record concerned.
    pub crm_id: Option<CrmId>,
    /// The decision.
    pub action: LedgerAction,
    /// Why.
    pub reason: String,
    /// Structured detail.
    pub detail: Option<serde_json::Value>,
}

/// Ledger query. All set fields must match (AND). Results are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFilter {
    /// Only this mailbox.
    pub mailbox: Option<MailboxId>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this item key.
    pub item_key: Option<String>,
    /// Only this CRM record.
    pub crm_id: Option<CrmId>,
    /// Only this action.
    pub action: Option<LedgerAction>,
    /// Only this run.
    pub run_id: Option<Uuid>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries strictly before this time.
    pub until: Option<Timestamp>,
    /// Entries with an id strictly below this one (keyset paging: pass the last id seen).
    pub before_id: Option<i64>,
    /// At most this many entries (`None`: all; the export ignores it).
    pub limit: Option<u32>,
}

/// Counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    /// Records created.
    pub created: u64,
    /// Existing records adopted.
    pub adopted: u64,
    /// Records updated.
    pub updated: u64,
    /// Items skipped.
    pub skipped: u64,
    /// Records deleted or soft-deleted.
    pub deleted: u64,
    /// Items failed.
    pub failed: u64,
    /// Warnings.
    pub warnings: u64,
}

/// One synchronization run of one mailbox and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Run id (UUID v7, so ids sort by start time).
    pub id: Uuid,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind.
    pub kind: Kind,
    /// Start (database clock).
    pub started_at: Timestamp,
    /// End, once finished.
    pub finished_at: Option<Timestamp>,
    /// Counters (zero until finished).
    pub counts: RunCounts,
    /// Outcome, once finished.
    pub outcome: Option<RunOutcome>,
    /// Error text for failed/cancelled runs.
    pub error: Option<String>,
}

/// An alert to raise (see [`crate::StateStore::raise_alert`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAlert {
    /// Rate-limiting key: an alert with the same key is raised at most once per interval
    /// (e.g. `excluded/4294967394`, `certificate_expiry`).
    pub key: String,
    /// What kind of alert (`mailbox_excluded`, `tenant_error`, `delta_resets`,
    /// `secret_expiry`, `certificate_expiry`).
    pub kind: String,
    /// Mailbox concerned, if any.
    pub mailbox: Option<MailboxId>,
    /// Subject of the message to the administrator.
    pub subject: String,
    /// Plain-text body (no secrets).
    pub body: String,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Monotonic id.
    pub id: i64,
    /// When it was raised (database clock).
    pub at: Timestamp,
    /// Rate-limiting key.
    pub key: String,
    /// Kind of alert.
    pub kind: String,
    /// Mailbox concerned.
    pub mailbox: Option<MailboxId>,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Delivery state.
    pub delivery: AlertDelivery,
    /// Why delivery failed.
    pub delivery_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
}

/// Everything that changes when the engine finishes one item, applied in one transaction
/// by [`crate::StateStore::commit_item`]: either all of it is stored or none of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemCommit {
    /// The leases this commit must run under (typically the mailbox lease and the item's
    /// global-key lease). Each must still be held (key, holder, generation, unexpired by the
    /// database clock) when the transaction writes, or nothing is written and the commit
    /// fails with [`StoreError::LeaseLost`](crate::StoreError::LeaseLost). Empty: unfenced (single-process tools, tests).
    pub fences: Vec<crate::lease::LeaseFence>,
    /// Link to insert or replace.
    pub link: Option<Link>,
    /// Ledger entries to append.
    pub ledger: Vec<NewLedgerEntry>,
    /// Cursor to store (e.g. the next page checkpoint covering this item).
    pub cursor: Option<Cursor>,
    /// The caller knows the item has no retry row ([`ItemRetry`]): it read the item's retry
    /// state when the item started and nothing else writes it meanwhile. The commit then does
    /// not delete one (one statement fewer per item). `false`, the default: a commit with a
    /// link deletes the item's retry row, if any.
    pub no_retry_row: bool,
    /// Leases given up in the same transaction, after the writes (the item's global-key
    /// lease): whoever waits for the key then finds this item's link and the lease free at
    /// once, and the release needs no transaction of its own (on PostgreSQL one flush of the
    /// log per item fewer). A lease no longer held by its fence is left as it is; the fences
    /// above already decide whether the commit may write.
    pub release: Vec<crate::lease::LeaseFence>,
}

/// An item that failed transiently and waits for its next attempt: the engine retries it with
/// backoff across runs and fails it for good after `[errors] item_retry_limit` attempts, so one
/// poison item can never hold a mailbox's checkpoint for ever. The row is deleted when the
/// item's link is committed (filed, failed, or anything else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRetry {
    /// Kind of item.
    pub kind: Kind,
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// The item (the link's Graph id, or the kind's item key).
    pub item_key: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this time (database clock).
    pub retry_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: String,
    /// Set by the store on write.
    pub updated_at: Option<Timestamp>,
}

/// A change-notification subscription of one mailbox and kind (see docs/NOTIFICATIONS.md).
/// `client_state` is the secret Graph sends back with each notification: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// The kind whose changes it reports.
    pub kind: Kind,
    /// Graph's id of the subscription.
    pub subscription_id: String,
    /// The watched Graph resource (a change of it, e.g. a re-created sync folder, needs a new
    /// subscription).
    pub resource: String,
    /// The shared secret.
    pub client_state: String,
    /// When Graph lets it expire.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SubscriptionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionRecord")
            .field("mailbox", &self.mailbox)
            .field("kind", &self.kind)
            .field("subscription_id", &self.subscription_id)
            .field("resource", &self.resource)
            .field("client_state", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Longest duration the store does arithmetic with (100 years); longer ones are clamped so
/// that `now + duration` cannot overflow a 64-bit microsecond timestamp in SQL.
pub(crate) const MAX_DURATION_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// Convert a `Duration` to microseconds for SQL arithmetic, clamped to [`MAX_DURATION_MICROS`].
pub(crate) fn duration_micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_DURATION_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        for a in LedgerAction::ALL {
            assert_eq!(a.as_str().parse::<LedgerAction>().unwrap(), *a);
        }
        for d in AlertDelivery::ALL {
            assert_eq!(d.as_str().parse::<AlertDelivery>().unwrap(), *d);
        }
        for o in RunOutcome::ALL {
            assert_eq!(o.as_str().parse::<RunOutcome>().unwrap(), *o);
        }
        assert!("mail".parse::<Kind>().is_err());
        assert_eq!(
            serde_json::to_string(&LedgerAction::Adopted).unwrap(),
            "\"adopted\""
        );
    }

    #[test]
    fn link_state_parts_round_trip() {
        let states = [
            LinkState::Active,
            LinkState::SoftDeleted,
            LinkState::Conflict,
            LinkState::Failed {
                reason: "CRM said 511".into(),
            },
            LinkState::Interrupted,
        ];
        for s in states {
            let back = LinkState::from_parts(s.as_str(), s.reason().map(str::to_owned)).unwrap();
            assert_eq!(back, s);
        }
        assert!(LinkState::from_parts("gone", None).is_err());
    }

    #[test]
    fn cursor_debug_hides_tokens() {
        let mut c = Cursor::new("rep1", Kind::Email, "inbox/crm");
        c.delta_link = Some("https://graph/delta?$deltatoken=SECRET".into());
        c.next_link = Some("https://graph/delta?$skiptoken=SECRET2".into());
        let s = format!("{c:?}");
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("REDACTED"));
    }

    #[test]
    fn duration_micros_saturates() {
        assert_eq!(duration_micros(std::time::Duration::from_millis(3)), 3000);
        assert_eq!(
            duration_micros(std::time::Duration::MAX),
            MAX_DURATION_MICROS
        );
    }
}
