//! E-mail filing: messages the users file into the sync folder become CRM activities.
//!
//! - [`model`]: domain types;
//! - [`decide`]: the pure decision per message;
//! - [`body`], [`participants`], [`attachments`]: pure helpers of the decision and executor;
//! - [`run`]: the executor for one mailbox (gather inputs, decide, execute, record).

pub mod attachments;
pub mod body;
pub mod decide;
pub mod model;
pub mod participants;
pub mod run;
