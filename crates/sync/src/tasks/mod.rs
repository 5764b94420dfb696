//! Tasks: CRM tasks (A1) of the rep in the window go into a dedicated Microsoft To Do list;
//! the status (and, with `direction = "both"`, title and dates) comes back; deletions follow
//! both ways (a CRM task is marked, never deleted).
//!
//! - [`model`]: what the kind sees of both sides, the changes, the link key;
//! - [`rules`]: the `[tasks]` rules;
//! - [`map`]: the field mapping both ways (pure);
//! - [`prints`]: per-field fingerprints of what was last synchronized, per side;
//! - [`decide`]: triage and decision (pure);
//! - [`crate::crm_checkpoint`]: the CRM source's checkpoint and when the window is walked in
//!   full (shared with appointments);
//! - [`ports`], [`adapters`]: the two sides as traits, and their real implementations;
//! - [`execute`]: carrying a decision out;
//! - [`settle`]: tasks linked after the list's checkpoint, read by id (a round cut off
//!   before storing its checkpoint leaves their deletion unreported);
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind).

pub mod adapters;
pub mod decide;
pub mod execute;
pub mod kind;
pub mod map;
pub mod model;
pub mod ports;
pub mod prints;
pub mod rules;
mod settle;

pub use kind::TasksKind;
pub use rules::{Direction, StatusTexts, TaskRules};
