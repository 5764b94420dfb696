//! gc-sync: the sync engine of graph-connector.
//!
//! Per kind (e-mails first), the engine discovers the work, decides with a pure function
//! what to do with each item (from the Graph item, what CRM has and the stored link), executes
//! the decision and records it. It talks to Graph and CRM through the traits in [`ports`]
//! (real implementations in [`adapters`]) and to the store through `gc_store::StateStore`.
//! The write order that makes it crash-safe is described in `docs/SYNC.md`.

pub mod adapters;
pub mod email;
pub mod lease;
pub mod mailboxes;
pub mod ports;
pub mod report;
pub mod settings;

pub use email::run::{EmailEngine, ItemOutcome, MailboxTarget, NoProgress, Progress};
pub use report::{MailboxOutcome, MailboxReport, SyncReport};
pub use settings::{AttachmentPolicy, EmailSettings};
