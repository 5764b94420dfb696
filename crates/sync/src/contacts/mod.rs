//! Contacts: the CRM persons a rep works with become contacts in the rep's mailbox, in a
//! dedicated contact folder or, with `target = "category"`, in the default folder with a
//! category. One way, CRM → Microsoft 365: CRM owns these contacts.
//!
//! The connector's contacts carry the extended property [`model::PERSON_PROPERTY`] with the
//! person's CRM id. Everything the kind writes, updates or deletes is found through it, so the
//! user's own contacts (which never carry it) are never read for writing, changed or deleted,
//! whatever their names, addresses, folder or categories.
//!
//! - [`model`]: the selection rule, the change, the contact a person becomes;
//! - [`decide`]: the pure rules (triage, decision);
//! - [`ports`]: what the kind needs of Graph and CRM; [`adapters`]: their real implementations;
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind);
//! - [`probe`]: the idle check (a fingerprint of the rep's companies and persons).

pub mod adapters;
pub mod decide;
pub mod kind;
pub mod model;
pub mod ports;
pub mod probe;

pub use kind::ContactKind;
pub use model::{ContactRules, ContactTarget};
