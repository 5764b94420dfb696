//! E-mail filing: messages the users file into the sync folder become CRM activities.
//!
//! - [`model`]: what the engine sees of a message and of CRM;
//! - [`rules`]: the `[emails]` rules;
//! - [`folders`]: the sync folder, resolved once and kept;
//! - [`decide`]: the pure rules per message (triage, decision, candidates, marker);
//! - [`body`], [`participants`], [`attachments`]: pure helpers of the decision;
//! - [`prefetch`]: the CRM facts of a whole page, read at once;
//! - [`recent`]: the activities this process just created, adopted by colleagues' copies
//!   without reading them back;
//! - [`gather`], [`execute`], [`finish`]: reading the facts, carrying out the decision,
//!   and moving the message after the commit;
//! - [`notify`]: what a user is told about a message that was not filed or not completely;
//! - [`digest`]: those notices kept until the run's end, and sent as one message;
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind).

pub mod attachments;
pub mod body;
pub mod decide;
pub mod digest;
pub mod execute;
pub mod finish;
pub mod folders;
pub mod gather;
pub mod kind;
pub mod model;
pub mod notify;
pub mod participants;
pub mod prefetch;
pub mod recent;
pub mod rules;

pub use kind::EmailKind;
pub use rules::{AttachmentPolicy, EmailRules};
