//! `graph-connector`: keeps the Microsoft 365 mailboxes of a tenant in sync with Aurea CRM.
//!
//! This crate is the binary's edge: the command line ([`cli`]), the configuration ([`config`]),
//! logging ([`logging`]) and one module per command under [`commands`]. The work itself lives in
//! the library crates (`gc-graph`, `gc-crm`, `gc-store`, `gc-sync`, `gc-sandbox`).

pub mod cli;
pub mod commands;
pub mod config;
pub mod logging;
pub mod wiring;
