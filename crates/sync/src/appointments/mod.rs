//! Appointments: calendar events and CRM appointment activities, in a moving window.
//!
//! - [`model`]: what the kind sees of an event and of a CRM appointment;
//! - [`rules`]: the `[appointments]` rules;
//! - [`fields`]: an event's activity fields, participants and content hash (pure);
//! - [`content`]: an appointment's synchronized content on either side, its hash (echoes are
//!   not changes) and the event body CRM's version becomes (pure);
//! - [`decide`]: the rules per calendar change (pure), [`decide_crm`]: per CRM change
//!   (pure), [`conflict`]: the both-changed rule both sides share (pure);
//! - [`series`]: recurring series: keys of masters and occurrences, cancelled occurrences,
//!   the series fields of CRM records (pure);
//! - [`crm_source`]: the rep's CRM appointments in the window, as the kind's second source;
//! - [`ports`], [`adapters`]: the calendar and CRM sides and their implementations;
//! - [`gather`], [`execute`]: reading the facts, carrying out the decision;
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind);
//! - [`probe`]: the idle check (the calendar's stored delta link).

pub mod adapters;
pub mod conflict;
pub mod content;
pub mod crm_source;
pub mod decide;
pub mod decide_crm;
pub mod execute;
pub mod fields;
pub mod gather;
pub mod kind;
pub mod model;
pub mod ports;
pub mod probe;
pub mod rules;
pub mod series;

pub use kind::AppointmentKind;
pub use rules::AppointmentRules;
