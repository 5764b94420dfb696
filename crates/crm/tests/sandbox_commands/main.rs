//! Every command of the client against the CRM sandbox.
//!
//! One test binary, one module per area; the sandbox and the clients come from `common`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod activities;
mod failures;
mod login_and_lookups;
mod tasks_and_catalogs;
mod writes;
