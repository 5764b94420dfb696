//! The link between a Graph item and its CRM record, and the link's state (with its text
//! form). Separate because the link is the engine's idempotency record, read and written per
//! item, with its own rules (intents, unconfirmed writes).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{CrmId, Kind, MailboxId};
use crate::error::StoreError;

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
    /// An intent without a CRM id: a write to CRM was begun (and cut off) before the record's id
    /// was known. One half of [`LinkStore::unsettled_links`](crate::LinkStore::unsettled_links).
    pub fn is_intent(&self) -> bool {
        self.state == LinkState::Interrupted && self.crm_id.is_none()
    }

    /// An active link to a CRM record whose Graph item the connector wrote and no change feed
    /// has reported yet (a Graph version, no Graph hash). The other half of
    /// [`LinkStore::unsettled_links`](crate::LinkStore::unsettled_links).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
