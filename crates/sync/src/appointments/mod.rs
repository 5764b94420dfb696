//! Appointments: calendar events and CRM appointment activities, in a moving window.
//!
//! - [`model`]: what the kind sees of an event and of a CRM appointment;
//! - [`rules`]: the `[appointments]` rules;
//! - [`fields`]: an event's activity fields, participants and content hash (pure);
//! - [`decide`]: the rules per change (pure);
//! - [`ports`], [`adapters`]: the calendar and CRM sides and their implementations;
//! - [`gather`], [`execute`]: reading the facts, carrying out the decision;
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind).

pub mod adapters;
pub mod decide;
pub mod execute;
pub mod fields;
pub mod gather;
pub mod kind;
pub mod model;
pub mod ports;
pub mod rules;

pub use kind::AppointmentKind;
pub use rules::AppointmentRules;
