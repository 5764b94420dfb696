//! Typed operations the sync engine needs, one module per resource family.

pub mod calendar;
pub mod categories;
pub mod contacts;
pub mod mail;
pub mod todo;
pub mod users;
