//! Model-based test of appointments both ways: generated scenarios of creates, edits and
//! deletions on both sides (single events, meetings shared with another synced rep, and
//! recurring series), with sync runs at random points, injected throttling, and three in ten
//! runs cut off at a random point (a crash: the run is dropped mid-flight). After a final quiet sync, for every scenario:
//!
//! - **no duplicates**: at most one event in the organizer's calendar and at most one live
//!   CRM appointment;
//! - **deletions stay**: deleted on either side means gone from the calendar and deleted (or
//!   marked `ConnectorDeleted`) in CRM;
//! - **both sides agree**: otherwise one event and one appointment with the same subject;
//! - **no edit lost without a ledger entry**: the last edit of a side that the final state
//!   does not show was either overtaken by a later edit of the other side after a complete
//!   sync, or is the losing version of a conflict entry in the ledger.
//!
//! One scenario in eight is a **recurring series** created in Microsoft 365 (daily or weekly,
//! two to four occurrences, all inside the window; three in ten shared with another synced
//! rep).
//! Its steps: the series' subject edited (the master), one occurrence moved (an exception) or
//! cancelled, a serial record's subject edited or the record marked deleted in CRM, the whole
//! series deleted. At the end:
//!
//! - **a deleted series** leaves no event in the organizer's calendar and no live record;
//! - otherwise the organizer's calendar holds the **master alone** (no occurrence written back
//!   as an event of its own), CRM **one live master record** with the series' subject and,
//!   per occurrence in the window, **one live serial record** on its date with the
//!   occurrence's subject, and no other live record: a **cancelled occurrence's record** (or
//!   one deleted in CRM) is marked deleted, and its occurrence does not come back;
//! - a CRM edit of a serial record that the end state does not show is the losing version of
//!   a conflict entry in the ledger.
//!
//! Restricted (see [`left`](generate::left) and docs/SYNC.md): a shared series is not deleted once no
//! occurrence of it is left in the window (its master record would be marked only by a walk
//! from the start, a new day).
//!
//! Scenarios run 50 to a sandbox, side by side. `GC_MODEL_SCENARIOS` sets how many (1,000 by
//! default, the CI size; docs/SYNC.md quotes a 10,000 run), `GC_MODEL_SEED` the first seed,
//! `GC_MODEL_SERIES=0` leaves series out (replaying a seed of a run from before series),
//! `GC_MODEL_CRASHES=0` cuts off no run, `GC_MODEL_PARALLEL` how many sandboxes run side by
//! side (4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod generate;
mod model;

use std::collections::BTreeMap;
use std::time::Duration;

use gc_sandbox::FaultSpec;
use gc_store::{Kind, LedgerFilter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use checks::check;
use generate::step;
use model::{Scenario, Series, Side, World, key};

const PER_SANDBOX: usize = 50;
const STEPS: usize = 6;

/// Whether series are generated (`GC_MODEL_SERIES=0` turns them off, drawing nothing for
/// them, so that a seed of a run from before series replays the same scenarios).
fn with_series() -> bool {
    std::env::var("GC_MODEL_SERIES").map_or(true, |v| v != "0")
}

/// Runs one sandbox of scenarios; returns how many were checked.
async fn run_batch(seed: u64, count: usize, crashes: bool) -> usize {
    let mut w = World::new(seed).await;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The seeded calendars first, so that the scenarios' runs are about the scenarios.
    assert!(w.sync(None).await, "the first sync of sandbox {seed}");
    let n_users = w.users.len();
    let mut scenarios: Vec<Scenario> = (0..count)
        .map(|i| {
            let owner = rng.random_range(0..n_users);
            let origin = if rng.random_bool(0.5) {
                Side::M365
            } else {
                Side::Crm
            };
            let guest =
                (origin == Side::M365 && rng.random_bool(0.3)).then(|| (owner + 1) % n_users);
            // One scenario in eight: a recurring series (more would cost the CI run more than
            // a third of its time: every occurrence is a record of its own).
            let series = (with_series() && origin == Side::M365 && rng.random_bool(0.25))
                .then(Series::default);
            Scenario {
                tag: format!("m{seed}-{i} "),
                owner,
                guest,
                origin,
                event: None,
                crm: None,
                edits: 0,
                last: BTreeMap::new(),
                seen: Vec::new(),
                deleted: false,
                series,
            }
        })
        .collect();
    // The throttled requests' `Retry-After: 0` leaves the wait to the backoff (a tenth of a
    // second): what is modelled is that they are survived, not how long they wait.
    w.env.demo.sandbox.faults().set_spec(FaultSpec {
        throttle: 0.03,
        retry_after_secs: Some(0.0),
        ..FaultSpec::default()
    });
    for at in 0..STEPS {
        let crm = w.appointments().await;
        for sc in scenarios.iter_mut() {
            step(&w, sc, &mut rng, at, &crm).await;
        }
        if rng.random_bool(0.6) {
            let cut = (rng.random_bool(0.3) && crashes)
                .then(|| Duration::from_millis(rng.random_range(5..400)));
            if w.sync(cut).await {
                w.complete_after.push(at);
            }
            // What each side shows now: an edit seen on the other side has travelled, even
            // when the run that carried it was cut off later.
            let crm = w.appointments().await;
            for sc in scenarios.iter_mut() {
                for (_, subject) in w.events(sc.owner, &sc.tag) {
                    sc.seen.push((key(Side::M365), subject, at));
                }
                for a in crm.iter().filter(|a| a.subject.starts_with(&sc.tag)) {
                    sc.seen.push((key(Side::Crm), a.subject.clone(), at));
                }
            }
        }
    }
    w.env.demo.sandbox.faults().set_spec(FaultSpec::default());
    // Quiet: run until a run is complete and writes nothing.
    let mut quiet = false;
    let mut last = String::new();
    for _ in 0..12 {
        let report =
            w.rt.cycle(None, &gc_sync::NoProgress, &Default::default())
                .await
                .unwrap();
        let t = report.total(Kind::Appointment);
        // A held mailbox writes nothing and is not quiet: what it holds never arrives.
        let held: Vec<&str> = report
            .mailboxes
            .iter()
            .filter(|m| m.outcome == gc_sync::MailboxOutcome::Held)
            .map(|m| m.mailbox.as_str())
            .collect();
        assert!(
            held.is_empty(),
            "sandbox {seed}: held for confirmation: {held:?}"
        );
        // A run called off (its lease lapsed) writes nothing it counts, yet is not quiet:
        // what it began is finished by the next run.
        if common::every_run_complete(&report)
            && t.created + t.updated + t.deleted + t.adopted == 0
            && t.delayed == 0
            && t.failed == 0
        {
            quiet = true;
            break;
        }
        let entries =
            w.rt.store
                .query_ledger(&LedgerFilter {
                    kind: Some(Kind::Appointment),
                    limit: Some(50),
                    ..LedgerFilter::default()
                })
                .await
                .unwrap();
        last = format!(
            "{t:?} {:?}\n{:#?}",
            report
                .mailboxes
                .iter()
                .filter_map(|m| m.error.clone())
                .collect::<Vec<_>>(),
            entries
                .iter()
                .take(12)
                .map(|e| format!("{:?} {} {}", e.action, e.item_key, e.reason))
                .collect::<Vec<_>>()
        );
    }
    assert!(quiet, "sandbox {seed}: no quiet run after 12: {last}");
    check(&w, &scenarios).await;
    eprintln!(
        "sandbox {seed}: series steps {:?}",
        w.series_steps.lock().unwrap()
    );
    scenarios.len()
}

/// Three in ten sync runs are cut off at a random point (a crash), in CI too;
/// `GC_MODEL_CRASHES=0` runs every run to its end (to tell a crash window from a plain
/// defect when a seed fails).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appointments_both_ways_converge_in_generated_scenarios_with_crashes() {
    run_all(std::env::var("GC_MODEL_CRASHES").map_or(true, |v| v != "0")).await;
}

async fn run_all(crashes: bool) {
    use futures::StreamExt as _;
    let env_num = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total = env_num("GC_MODEL_SCENARIOS", 1000) as usize;
    let first = env_num("GC_MODEL_SEED", 1);
    // Sandboxes side by side: a batch mostly waits (throttled requests honour Retry-After),
    // so four at a time take a quarter of the time for the same CPU.
    let parallel = env_num("GC_MODEL_PARALLEL", 4).max(1) as usize;
    let started = std::time::Instant::now();
    let batches: Vec<(u64, usize)> = (0..total.div_ceil(PER_SANDBOX))
        .map(|b| (first + b as u64, PER_SANDBOX.min(total - b * PER_SANDBOX)))
        .collect();
    let n = batches.len();
    let done: usize = futures::stream::iter(batches)
        .map(|(seed, count)| run_batch(seed, count, crashes))
        .buffer_unordered(parallel)
        .collect::<Vec<usize>>()
        .await
        .into_iter()
        .sum();
    eprintln!("{done} scenarios in {n} sandboxes, {:?}", started.elapsed());
}
