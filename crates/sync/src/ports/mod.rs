//! The traits the engine and its kinds need from Microsoft Graph and CRM, defined next to
//! the engine so that everything is tested without sockets as well; `adapters/` implements
//! them over the real clients (gc-graph, gc-crm). The store is `gc_store::StateStore`
//! directly.
//!
//! - [`directory`]: enabled reps and their Microsoft 365 users (the mailbox list);
//! - [`mail`]: the mail folders and messages of e-mail filing;
//! - [`activity`]: CRM activities of e-mail filing;
//! - [`backlog`]: how much a mailbox run has left, for the order of the tenant's Graph budget;
//! - [`notify`]: notices to users;
//! - [`probe`]: whether many mailboxes changed, asked in few requests.

pub mod activity;
pub mod backlog;
pub mod directory;
pub mod mail;
pub mod notify;
pub mod probe;

pub use activity::{ActivityCrm, CreateOutcome, DocumentMeta, PageLookup};
pub use backlog::BacklogHint;
pub use directory::{Directory, MailUser, RepInfo};
pub use mail::{Content, FolderRef, MailGraph};
pub use notify::{Notification, Notifier};
pub use probe::{
    FingerprintQuestion, Probe, ProbeAnswer, Prober, Question, SelectionQuestion, StampQuestion,
};

pub use crate::error::{ErrorClass, PortError};
