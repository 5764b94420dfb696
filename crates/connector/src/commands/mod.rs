//! One module per command of the binary.

pub mod check;
pub mod config;
pub mod demo;
pub mod ledger;
pub mod mailbox;
pub mod reprocess;
pub mod run;
pub mod sandbox;
pub mod sync;
