//! End to end, through the binary against the sandbox: `plan` says what the following
//! `sync --once` does, number for number, and writes nothing (the sandbox's request counter
//! sees no Graph or CRM write, the state store is unchanged); the mass-delete guard holds an
//! emptied calendar and a mass deletion in CRM, alerts, and lets the deletions through after
//! `graph-connector confirm`; a CRM filter change that takes most appointments out of the
//! filter deletes nothing (so nothing is held), and the ledger says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod counts;
mod filter_change;
mod guard;
mod harness;
mod one_way;
mod two_way;

use common::Env;
use gc_sandbox::SandboxOptions;

/// Every run walks the CRM window in full, so CRM deletions are seen at once.
const APPOINTMENTS: &str =
    "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n";

/// Mailboxes worked one after the other, in the order of the mailbox list.
const ONE_AT_A_TIME: [(&str, &str); 1] = [("GRAPH_CONNECTOR__MAILBOXES__PARALLEL", "1")];

/// A sandbox of `users` users without messages, appointments on.
async fn calendars(users: usize, seed: u64) -> Env {
    Env::start(
        SandboxOptions {
            users,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        APPOINTMENTS,
    )
    .await
}
