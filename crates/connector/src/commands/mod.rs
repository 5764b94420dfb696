//! One module per command of the binary.

pub mod check;
pub mod config;
pub mod confirm;
pub mod demo;
pub mod ledger;
pub mod mailbox;
pub mod plan;
pub mod reprocess;
pub mod run;
pub mod sandbox;
pub mod sync;
