//! Contacts as a kind of the engine. One source per mailbox run: the rep's selection of
//! persons, read whole from CRM ("crm" scope). It is walked from the start every run, so the
//! engine reconciles it: a linked person the selection no longer holds comes back as
//! [`ContactChange::Gone`]. What changed since the last run is told by the hash of what was
//! written (the link's `crm_hash`): unchanged persons cost no Graph request.
//!
//! The contact folder's id (and, with a category target, that the category was added to
//! the master list) is resolved once and kept in the store (`resolved_names`): a run with
//! nothing to write asks Graph nothing. When Graph answers 404 for the kept folder (the user
//! deleted it), the id is forgotten and the item retried: the next run creates the folder
//! again and checks every contact, as for a folder missing from the start.
//!
//! Idle check ([`crate::contacts::probe`]): a complete round stores a fingerprint of the
//! rep's companies and persons (ids and update stamps); the pre-pass compares those of every
//! rep in one CRM request and runs only the mailboxes whose selection changed.

mod adopt;
mod sync_kind;

use std::sync::Arc;

use gc_store::{Kind, StateStore};

use crate::adopt::records::ContactStub;
use crate::adopt::{AdoptedBy, Adoption, LegacyCache};
use crate::contacts::model::{ContactRules, ContactTarget};
use crate::contacts::ports::{ContactsGraph, PersonsCrm};
use crate::error::{ErrorClass, PortError, store_error};
use crate::ports::Prober;

/// CRM persons → the rep's contacts.
#[derive(Clone)]
pub struct ContactKind {
    graph: Arc<dyn ContactsGraph>,
    crm: Arc<dyn PersonsCrm>,
    pub(crate) rules: Arc<ContactRules>,
    /// Asks the selection checks of many mailboxes at once (see `contacts::probe`).
    pub(crate) prober: Option<Arc<dyn Prober>>,
    /// Adoption of the contacts the previous connector wrote (see [`crate::adopt`]).
    pub(crate) adoption: Option<Adoption>,
}

impl std::fmt::Debug for ContactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactKind")
            .field("rules", &self.rules)
            .finish()
    }
}

impl ContactKind {
    /// Contacts over these ports, with these rules.
    pub fn new(
        graph: Arc<dyn ContactsGraph>,
        crm: Arc<dyn PersonsCrm>,
        rules: ContactRules,
    ) -> Self {
        ContactKind {
            graph,
            crm,
            rules: Arc::new(rules),
            prober: None,
            adoption: None,
        }
    }

    /// Adopt, before creating a contact, the one the previous connector wrote for the person
    /// (by the EWS id or entry id in its external key, or by content; see [`crate::adopt`]).
    pub fn with_adoption(mut self, adoption: Adoption) -> Self {
        self.adoption = Some(adoption);
        self
    }

    /// Where the rep's contacts go, as the idle check's checkpoint names it: the folder, or
    /// the category (the rep's UserSettings one over `[contacts] category`).
    pub(crate) fn place_of(&self, owner: &crate::engine::Owner) -> String {
        match &self.rules.target {
            ContactTarget::Folder(name) => format!("folder:{}", name.trim().to_lowercase()),
            ContactTarget::Category(name) => format!(
                "category:{}",
                owner.settings.contact_category.as_ref().unwrap_or(name)
            ),
        }
    }
}

/// The store's name (`resolved_names`) of the contact folder `name` (also read by the
/// change-notification manager, which watches the resolved folder).
pub fn folder_key(name: &str) -> String {
    format!("folder:{}", name.trim().to_lowercase())
}

/// The store's name (`resolved_names`) of the category `name`, kept once it was made sure of.
fn category_key(name: &str) -> String {
    format!("category:{}", name.trim().to_lowercase())
}

/// A 404 for the kept folder: forget it (the next run resolves, and creates, it again) and
/// retry the item then; other errors pass unchanged.
async fn forget_on_not_found(
    store: &dyn StateStore,
    mailbox: &str,
    run: &ContactRun,
    e: PortError,
) -> PortError {
    let (ErrorClass::NotFound, Some(key)) = (e.class, run.folder_key.as_deref()) else {
        return e;
    };
    if let Err(s) = store.put_resolved(mailbox, Kind::Contact, key, None).await {
        return store_error(s);
    }
    PortError::transient(format!(
        "the contact folder is gone ({}); it is created again on the next run",
        e.message
    ))
}

/// What gather found for a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The contacts of the target place that carry the person id (or the one adopted).
    pub contacts: Vec<String>,
    /// How the adopted contact was found, when it carries no person id yet.
    pub adopted_by: Option<AdoptedBy>,
}

/// What one mailbox run resolved.
#[derive(Debug)]
pub struct ContactRun {
    /// The contact folder written to (`None`: the default folder, target category).
    folder: Option<String>,
    /// The category every contact carries (target category).
    category: Option<String>,
    /// The folder did not exist and was created now: every contact is checked.
    fresh: bool,
    /// Where the contacts live, for the ledger.
    place: String,
    /// The store's name of the kept folder id (target folder).
    folder_key: Option<String>,
    /// The previous connector's keys of the mailbox, translated on first use.
    legacy: LegacyCache,
    /// The contacts of the target folder, read once when an unlinked person needs them.
    stubs: tokio::sync::OnceCell<Vec<ContactStub>>,
    /// Contacts adopted in this run (not adopted twice).
    claimed: std::sync::Mutex<std::collections::HashSet<String>>,
}
