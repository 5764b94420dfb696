//! One conformance suite, run against both backends: every `StateStore` method.
//!
//! Each case is an `async fn` taking a `&dyn StateStore`, in a module under `conformance/`
//! named after the part of the store it covers; the `conformance!` macro at the bottom runs
//! each one on a fresh SQLite file and on a fresh PostgreSQL schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "conformance/alerts.rs"]
mod alerts;
#[path = "conformance/commits.rs"]
mod commits;
mod common;
#[path = "conformance/leases.rs"]
mod leases;
#[path = "conformance/links.rs"]
mod links;
#[path = "conformance/mailboxes.rs"]
mod mailboxes;
#[path = "conformance/schedule.rs"]
mod schedule;
#[path = "conformance/subscriptions.rs"]
mod subscriptions;

pub(crate) use std::time::Duration;

pub(crate) use gc_store::{
    AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit, Kind, KindRun, LeaseFence,
    LedgerAction, LedgerFilter, Link, LinkState, MailboxFailure, MailboxUpsert, NewAlert,
    NewLedgerEntry, RunCounts, RunEnd, RunOutcome, StateStore, StoreError, StoreErrorClass,
    SubscriptionRecord, lease_key,
};
pub(crate) use jiff::{SignedDuration, Timestamp};

use alerts::*;
use commits::*;
use leases::*;
use links::*;
use mailboxes::*;
use schedule::*;
use subscriptions::*;

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::common::sqlite().await;
                    super::$name(&*db.store).await;
                    db.cleanup().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::common::postgres().await else { return };
                    super::$name(&*db.store).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}

conformance!(
    clock,
    mailboxes,
    mailbox_health,
    schedule,
    schedule_entries,
    pauses,
    kind_runs,
    idle_runs,
    needing_runs,
    alerts,
    cursors,
    resolved_names,
    subscriptions,
    links,
    unsettled_links,
    probe_reads,
    commit_item,
    commit_item_is_atomic,
    ledger,
    runs,
    run_end,
    leases,
    item_retries,
    link_and_retry,
    fenced_writes,
    takeover_waits_for_a_fenced_commit,
    commit_releases_the_key_lease,
);
