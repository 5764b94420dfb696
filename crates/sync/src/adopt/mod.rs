//! Adoption instead of duplicates: finding the record CRM already has for an item that has no
//! link, before anything is created.
//!
//! The kinds already adopt by their own keys (the external key with the `iCalUId` or
//! `internetMessageId`, another mailbox's link, the CRM id in an event's extended property or
//! a task's linked resource). This module adds what a migration from the EWS connector needs:
//!
//! 1. [`legacy`]: the external keys that connector left for the mailbox hold EWS item ids or
//!    hex MAPI entry ids ([`ids::KeyForm`]); they are translated into Graph immutable ids with
//!    `translateExchangeIds`, in batches of up to 1,000, once per mailbox run, and an unlinked
//!    item whose id is among them adopts that record ("by EWS id", "by entry id");
//! 2. [`content`]: as the last resort, a record of the same rep with the same subject and
//!    start (and, for e-mail, the sender among its participants) within the window
//!    ("by content match").
//!
//! Whatever finds a candidate, a record that is already linked to another item is never
//! adopted ([`taken`]). The ledger's `adopted` entry says how ([`AdoptedBy`]) in its reason and
//! in its detail (`adopted_by`), so adoptions can be counted by how.

pub mod content;
pub mod ids;
pub mod legacy;
pub mod ports;
pub mod records;

use std::sync::Arc;

use gc_store::{CrmId, Kind, LedgerAction, LinkState};

pub use legacy::{LegacyCache, LegacyIndex};
pub use ports::{AdoptionCrm, AdoptionGraph, ContentCandidate, EventStub, LegacyKey, RecordTable};

use crate::engine::{ItemOutcome, RunCx};
use crate::error::{PortError, store_error};

/// How an existing record was found (the ledger's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdoptedBy {
    /// Our external key, or one another connector left with the same key form.
    ExternalKey,
    /// An EWS item id in an external key, translated with `translateExchangeIds`.
    EwsId,
    /// A hex MAPI entry id in an external key, translated with `translateExchangeIds`.
    EntryId,
    /// The event's `iCalUId` in an external key.
    ICalUId,
    /// The message's `internetMessageId` in an external key.
    InternetMessageId,
    /// Another mailbox's link to the same meeting or message.
    Link,
    /// The CRM id in the connector's extended property or linked resource.
    CrmIdProperty,
    /// Subject, start and organizer or sender.
    ContentMatch,
    /// What an interrupted attempt of the connector wrote.
    Interrupted,
}

impl AdoptedBy {
    /// How an item of a kind that writes from CRM into Microsoft 365 (contacts, absences) was
    /// found without an active link: `found` when adoption found it (the previous connector's
    /// item), otherwise by the CRM id it carries, which an interrupted write of ours left.
    pub fn without_link(found: Option<AdoptedBy>, link: Option<&gc_store::Link>) -> AdoptedBy {
        found.unwrap_or(if link.is_some_and(|l| l.state == LinkState::Interrupted) {
            AdoptedBy::Interrupted
        } else {
            AdoptedBy::CrmIdProperty
        })
    }

    /// The ledger's reason for such an item: `id` names the CRM id it carries ("person id"),
    /// `item` what the previous connector wrote ("contact").
    pub fn reason_without_link(self, id: &str, item: &str) -> String {
        match self {
            AdoptedBy::Interrupted | AdoptedBy::CrmIdProperty => {
                format!("found by the {id} it carries (an interrupted earlier write)")
            }
            h => format!(
                "adopted {h}: the {item} the previous connector wrote, given the {id} so it is found by it next time"
            ),
        }
    }

    /// The words the ledger uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AdoptedBy::ExternalKey => "by external key",
            AdoptedBy::EwsId => "by EWS id",
            AdoptedBy::EntryId => "by entry id",
            AdoptedBy::ICalUId => "by iCalUId",
            AdoptedBy::InternetMessageId => "by internetMessageId",
            AdoptedBy::Link => "by a link of another mailbox",
            AdoptedBy::CrmIdProperty => "by the CrmId property",
            AdoptedBy::ContentMatch => "by content match",
            AdoptedBy::Interrupted => "left by an interrupted attempt",
        }
    }
}

impl std::fmt::Display for AdoptedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the ledger tells an update by a kind that writes from CRM into Microsoft 365 (a contact,
/// an absence's event): an adoption when the item was found without an active link, else an
/// update; its reason; and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTold {
    pub outcome: ItemOutcome,
    pub action: LedgerAction,
    /// Why, with the duplicates removed beside it.
    pub why: String,
    pub how: Option<AdoptedBy>,
}

impl UpdateTold {
    /// `adopted`: the item was found without an active link (`found`: how adoption found it,
    /// else by the CRM id it carries, see [`AdoptedBy::without_link`]); `changed`: why a
    /// plain update was made ("the person changed in CRM"); `names`: the CRM id and the item
    /// in an adoption's reason (see [`AdoptedBy::reason_without_link`]); `duplicates`: the
    /// copies removed beside it.
    pub fn new(
        adopted: bool,
        found: Option<AdoptedBy>,
        link: Option<&gc_store::Link>,
        changed: &str,
        (id, item): (&str, &str),
        duplicates: usize,
    ) -> Self {
        let how = adopted.then(|| AdoptedBy::without_link(found, link));
        let why = match how {
            None => changed.to_owned(),
            Some(h) => h.reason_without_link(id, item),
        };
        let dupes = if duplicates == 0 {
            String::new()
        } else {
            format!("; {duplicates} duplicate(s) removed")
        };
        let (outcome, action) = if adopted {
            (ItemOutcome::Adopted, LedgerAction::Adopted)
        } else {
            (ItemOutcome::Updated, LedgerAction::Updated)
        };
        UpdateTold {
            outcome,
            action,
            why: format!("{why}{dupes}"),
            how,
        }
    }
}

/// The adoption settings (`[adoption]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdoptionSettings {
    /// Translate the EWS ids and entry ids of other systems' external keys (`legacy_ids`).
    pub legacy_ids: bool,
    /// Adopt by subject, start and organizer or sender as the last resort (`content_match`).
    pub content_match: bool,
    /// At most this many external keys of other systems are read per mailbox and content
    /// type (`max_legacy_keys`); the rest is left out with a warning (memory stays bounded).
    pub max_legacy_keys: u32,
    /// Also look up the previous connector's ids for messages received, and events created,
    /// after the switch-over (`legacy_ids_after_switch_over`; see [`legacy::switch_over`]).
    pub legacy_ids_after_switch_over: bool,
}

impl Default for AdoptionSettings {
    fn default() -> Self {
        AdoptionSettings {
            legacy_ids: true,
            // Off unless asked for: a look-alike may be another item whose own write is still
            // in flight (an interrupted run), and adopting it would merge two items.
            content_match: false,
            max_legacy_keys: 50_000,
            legacy_ids_after_switch_over: false,
        }
    }
}

/// What a kind needs for the adoptions of this module: the two sides and the settings.
#[derive(Clone)]
pub struct Adoption {
    pub(crate) graph: Arc<dyn AdoptionGraph>,
    pub(crate) crm: Arc<dyn AdoptionCrm>,
    pub(crate) settings: AdoptionSettings,
}

impl std::fmt::Debug for Adoption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adoption")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Adoption {
    /// Over these ports with these settings.
    pub fn new(
        graph: Arc<dyn AdoptionGraph>,
        crm: Arc<dyn AdoptionCrm>,
        settings: AdoptionSettings,
    ) -> Self {
        Adoption {
            graph,
            crm,
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> AdoptionSettings {
        self.settings
    }
}

/// Whether `id` is linked to another item than the one being worked: an active (or
/// interrupted) link of this kind under another Graph item whose global key differs (copies of
/// one meeting or message in several mailboxes share a record on purpose). Placeholder links
/// of the CRM side (`crm:…`) and closed links do not count.
pub async fn taken(
    cx: &RunCx<'_>,
    kind: Kind,
    id: CrmId,
    graph_id: &str,
    global_key: Option<&str>,
) -> Result<bool, PortError> {
    let links = cx
        .store
        .links_by_crm_id(kind, id)
        .await
        .map_err(store_error)?;
    Ok(links.iter().any(|l| {
        matches!(l.state, LinkState::Active | LinkState::Interrupted)
            && !l.graph_id.starts_with("crm:")
            && !(l.mailbox == cx.mailbox() && l.graph_id == graph_id)
            && (global_key.is_none() || l.global_key.as_deref() != global_key)
    }))
}

#[cfg(test)]
mod tests {
    use gc_store::{Kind, Link, LinkState};

    use super::{AdoptedBy, UpdateTold};
    use crate::engine::ItemOutcome;

    #[test]
    fn an_update_is_told_as_an_update_or_as_the_adoption_it_was() {
        let names = ("person id", "contact");
        let plain = UpdateTold::new(false, None, None, "the person changed in CRM", names, 0);
        assert_eq!(
            (plain.outcome, plain.why.as_str(), plain.how),
            (ItemOutcome::Updated, "the person changed in CRM", None)
        );
        let with_copies = UpdateTold::new(false, None, None, "changed", names, 2);
        assert_eq!(with_copies.why, "changed; 2 duplicate(s) removed");

        // Found without a link by the id it carries: an interrupted write of ours.
        let mut interrupted = Link::new(Kind::Contact, "r1", "c1");
        interrupted.state = LinkState::Interrupted;
        let ours = UpdateTold::new(true, None, Some(&interrupted), "changed", names, 0);
        assert_eq!(
            (ours.outcome, ours.how),
            (ItemOutcome::Adopted, Some(AdoptedBy::Interrupted))
        );
        assert_eq!(
            ours.why,
            "found by the person id it carries (an interrupted earlier write)"
        );
        // The previous connector's contact, found by its EWS id.
        let theirs = UpdateTold::new(true, Some(AdoptedBy::EwsId), None, "changed", names, 1);
        assert_eq!(theirs.how, Some(AdoptedBy::EwsId));
        assert!(
            theirs
                .why
                .starts_with("adopted by EWS id: the contact the previous connector wrote")
                && theirs.why.ends_with("; 1 duplicate(s) removed"),
            "{}",
            theirs.why
        );
    }
}
