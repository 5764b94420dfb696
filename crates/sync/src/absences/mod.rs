//! Absences: the rep's CRM absences (A3) in the window become calendar events shown as out of
//! office (`[absences] show_as`). One way, CRM → Microsoft 365: CRM owns these events.
//!
//! Each event carries the single-value extended property [`model::ABSENCE_PROPERTY`] with the
//! absence's CRM id: the kind finds its events only through it (so a write interrupted by a
//! crash is adopted, not repeated), and the appointments kind skips events that carry it (an
//! absence is never synced back as an appointment). CRM gets an external key (content type
//! `text/x-mmAbsences`) from the absence to its event.
//!
//! - [`model`]: rules, changes, the event an absence becomes;
//! - [`decide`]: the pure rules;
//! - [`ports`], [`adapters`]: what the kind needs of Graph and CRM, and their implementations;
//! - [`kind`]: all of it as a [`SyncKind`](crate::engine::SyncKind);
//! - [`probe`]: the idle check (the absences' update stamps, for every rep in one request).

pub mod adapters;
pub mod decide;
pub mod kind;
pub mod model;
pub mod ports;
pub mod probe;

pub use kind::AbsenceKind;
pub use model::AbsenceRules;
