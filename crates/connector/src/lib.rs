//! `graph-connector`: keeps the Microsoft 365 mailboxes of a tenant in sync with Aurea CRM.
//!
//! This crate is the binary's edge: the command line ([`cli`]), the configuration ([`config`]),
//! logging ([`logging`]), the async runtime ([`runtime`]), one module per command under
//! [`commands`], the service ([`daemon`]: scheduler, signals, alerts), its admin server
//! ([`admin`]) and metrics ([`telemetry`]). The work itself lives in the library crates (`gc-graph`, `gc-crm`,
//! `gc-store`, `gc-sync`, `gc-sandbox`).

pub mod admin;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod logging;
pub mod runtime;
pub mod telemetry;
pub mod wiring;

/// The git commit this binary was built from (`GC_GIT_COMMIT` at build time, else
/// `git rev-parse`, else "unknown").
pub const GIT_COMMIT: &str = env!("GC_GIT_COMMIT");

/// `--version`: the version and the commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GC_GIT_COMMIT"),
    ")"
);
