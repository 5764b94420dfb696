//! gc-sync: the sync engine of graph-connector and its kinds.
//!
//! The [`engine`] owns everything that is the same for every kind (mailbox runs, leases,
//! walking sources with cursors, the commit of links and ledger, retries, error classes); a
//! kind such as [`email`] plugs in as types, pure rules and a few calls that read and write
//! its two sides. Kinds talk to Graph and CRM through the traits in [`ports`] (real
//! implementations in [`adapters`]) and the engine to the store through
//! `gc_store::StateStore`. The write order that makes it crash-safe is described in
//! `docs/SYNC.md`.

pub mod absences;
pub mod adapters;
pub mod adopt;
pub mod appointments;
pub mod contacts;
pub mod crm_checkpoint;
pub mod email;
pub mod engine;
pub mod error;
pub mod lease;
pub mod mailboxes;
pub mod plan;
pub mod ports;
pub mod reprocess;
pub mod tasks;

pub use absences::{AbsenceKind, AbsenceRules};
pub use appointments::{AppointmentKind, AppointmentRules};
pub use contacts::{ContactKind, ContactRules, ContactTarget};
pub use email::{AttachmentPolicy, EmailKind, EmailRules};
pub use engine::{
    Engine, ItemOutcome, KindRunner, MailboxOutcome, MailboxReport, MailboxTarget, NoProgress,
    Owner, Progress, RunPolicy, SyncReport,
};
pub use error::{ErrorClass, PortError};
pub use tasks::{TaskRules, TasksKind};
