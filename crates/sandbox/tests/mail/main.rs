//! Mail folders and messages: listing, paging, delta with tombstones, ids with and without
//! ImmutableId, PATCH, move, MIME, attachments, sendMail, errors.
//!
//! One test binary, one module per area; the sandbox and the Graph caller come from `common`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod attachments;
mod delta;
mod folders;
mod messages;
