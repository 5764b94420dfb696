//! The decision ledger's rows: the action enum, the entry to append, the stored entry and the
//! query. Separate because the ledger is the store's audit trail, written and read on its own
//! terms (append-only, exported as JSON lines).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CrmId, Kind, MailboxId};
use crate::error::StoreError;

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
