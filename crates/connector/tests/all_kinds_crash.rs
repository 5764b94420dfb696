//! Crash safety of all five kinds together: `graph-connector sync --once` with e-mails,
//! appointments, tasks, contacts and absences enabled is SIGKILLed at 50 seeded points of its
//! work and restarted each time; then a quiet run completes. At the end, per kind: nothing
//! duplicated, nothing lost, and the same final state as a crash-free run on an identical
//! sandbox (same seed, same new work).
//!
//! Kill points are tied to the work, as in `email_crash.rs`: each run arms a sandbox trip wire
//! on the N-th request of a drawn kind — e-mail (activity and external-key inserts, moves,
//! delta pages), calendar (event reads and writes), To Do (task and linked-resource writes),
//! contacts, any CRM write, any Graph write, any request — cut before the sandbox processes
//! it or after it did and before the connector hears the answer. Before each run, new
//! messages, CRM tasks and meetings (in calendars and in CRM) arrive when little work is left, so that the e-mail,
//! tasks and appointments kinds always have something to do; contacts and absences have their
//! seeded work, killed where it falls. A wire whose N-th request never comes lets its run
//! finish; runs go on until 50 were killed.
//!
//! The CI-sized variant runs by default; a bigger one with
//! `cargo test -p graph-connector --test all_kinds_crash -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::all_kinds::{self, Feeder, waiting};
use common::kill::{sync_once, sync_once_armed};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{SandboxOptions, Target, Tripwire, When};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Plan {
    users: usize,
    per_mailbox: usize,
    /// Runs to kill (each restarted).
    kills: usize,
    /// Before a run, when fewer messages than this wait in the sync folders, deliver
    /// `top_up` new ones (and a few CRM tasks and meetings).
    low_water: usize,
    top_up: usize,
    /// Upper bound of N (the N-th matching request is cut), besides the work left.
    max_nth: u64,
    seed: u64,
}

/// Where a run is killed: the kind of request and how many of them a run makes.
struct KillKind {
    label: &'static str,
    target: fn() -> Target,
    bound: Bound,
    weight: u32,
}

enum Bound {
    /// N ≤ messages waiting / this (at least 1).
    PerMessage(u64),
    /// N ≤ this.
    Fixed(u64),
}

const KINDS: &[KillKind] = &[
    KillKind {
        label: "activity insert",
        target: || Target::Crm {
            command: Some(CrmCommand::Insert),
            table: Some("Contact".into()),
        },
        bound: Bound::PerMessage(4),
        weight: 14,
    },
    KillKind {
        label: "external-key insert",
        target: || Target::Crm {
            command: Some(CrmCommand::Insert),
            table: Some("ExternalKey".into()),
        },
        bound: Bound::PerMessage(4),
        weight: 14,
    },
    KillKind {
        label: "CRM write",
        target: || Target::CrmWrite,
        bound: Bound::PerMessage(3),
        weight: 10,
    },
    KillKind {
        label: "Graph move",
        target: || Target::Graph(Some("messages.move".into())),
        bound: Bound::PerMessage(3),
        weight: 10,
    },
    KillKind {
        label: "mail delta page",
        target: || Target::Graph(Some("messages.delta".into())),
        bound: Bound::Fixed(3),
        weight: 5,
    },
    KillKind {
        label: "calendar request",
        target: || Target::Graph(Some("events".into())),
        bound: Bound::Fixed(4),
        weight: 10,
    },
    KillKind {
        label: "calendar view",
        target: || Target::Graph(Some("calendarView".into())),
        bound: Bound::Fixed(3),
        weight: 5,
    },
    KillKind {
        label: "To Do task request",
        target: || Target::Graph(Some("tasks".into())),
        bound: Bound::Fixed(4),
        weight: 10,
    },
    KillKind {
        label: "contacts request",
        target: || Target::Graph(Some("contacts".into())),
        bound: Bound::Fixed(6),
        weight: 8,
    },
    KillKind {
        label: "Graph write",
        target: || Target::GraphWrite,
        bound: Bound::Fixed(6),
        weight: 8,
    },
    KillKind {
        label: "any request",
        target: || Target::Any,
        bound: Bound::PerMessage(1),
        weight: 6,
    },
];

/// Draws a kill point for a run with `waiting` messages in the sync folders.
fn draw(rng: &mut ChaCha8Rng, waiting: usize, max_nth: u64) -> (Tripwire, String) {
    let total: u32 = KINDS.iter().map(|k| k.weight).sum();
    let mut pick = rng.random_range(0..total);
    let kind = KINDS
        .iter()
        .find(|k| {
            if pick < k.weight {
                true
            } else {
                pick -= k.weight;
                false
            }
        })
        .unwrap();
    let bound = match kind.bound {
        Bound::PerMessage(d) => waiting as u64 / d,
        Bound::Fixed(n) => n,
    }
    .clamp(1, max_nth);
    // A fraction of the bound, so that the sequence of draws does not depend on the bounds.
    let fraction: f64 = rng.random();
    let nth = (1 + (fraction * bound as f64) as u64).min(bound);
    let when = if rng.random_bool(0.6) {
        When::BeforeResponse
    } else {
        When::BeforeProcessing
    };
    let label = format!("{} #{nth} {when:?}", kind.label);
    (
        Tripwire {
            target: (kind.target)(),
            nth,
            when,
        },
        label,
    )
}

/// Runs `sync --once` until it succeeds with no message left in the sync folders.
fn complete(env: &common::Env, users: &[String]) -> usize {
    let mut runs = 0;
    loop {
        runs += 1;
        let status = sync_once(&env.config_path()).status().unwrap();
        let left = waiting(env, users);
        if status.success() && left == 0 {
            return runs;
        }
        assert!(
            runs < 10,
            "still {left} messages in sync folders after {runs} runs ({status})"
        );
    }
}

async fn store_of(env: &common::Env) -> std::sync::Arc<dyn gc_store::StateStore> {
    gc_store::open(&format!(
        "sqlite://{}",
        env.dir.path().join("graph-connector-sandbox.db").display()
    ))
    .await
    .unwrap()
}

fn options(plan: &Plan) -> SandboxOptions {
    SandboxOptions {
        users: plan.users,
        seed: plan.seed,
        messages_per_mailbox: plan.per_mailbox,
        ..SandboxOptions::default()
    }
}

async fn crash_and_restart(plan: Plan) {
    let env = all_kinds::start(options(&plan), "").await;
    let mut feeder = Feeder::new(&env, plan.seed).await;
    let users = feeder.mail_users().to_vec();
    eprintln!(
        "{} messages in {} mailboxes",
        waiting(&env, &users),
        users.len()
    );

    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let started = Instant::now();
    let mut killed = Vec::new();
    let mut missed = Vec::new();
    let mut run = 0;
    while killed.len() < plan.kills {
        run += 1;
        assert!(
            run <= plan.kills * 2,
            "only {} of {run} runs killed; not killed: {missed:#?}",
            killed.len()
        );
        let mut left = waiting(&env, &users);
        if left < plan.low_water {
            feeder.top_up(&env, plan.top_up, 2, 2).await;
            left = waiting(&env, &users);
        }
        let (wire, label) = draw(&mut rng, left, plan.max_nth);
        // SIGKILL, while the sandbox holds the request.
        let (handle, status) = sync_once_armed(&env, wire).await;
        if handle.fired() && !status.success() {
            killed.push(format!("{label} ({left} waiting)"));
        } else {
            missed.push(format!(
                "run {run}: {label} not reached ({} seen, {left} waiting, {status})",
                handle.seen()
            ));
        }
    }
    eprintln!(
        "{} kills in {run} runs, {:?}; {} pieces of new work; kill points: {killed:#?}; not reached: {missed:#?}",
        killed.len(),
        started.elapsed(),
        feeder.log.len()
    );
    let runs = complete(&env, &users);
    let store = store_of(&env).await;
    all_kinds::assert_no_duplicates(&env, &*store).await;
    let got = all_kinds::state(&env).await;
    eprintln!(
        "crashed: {:?} after {runs} completion run(s), {:?} in all",
        got.sizes(),
        started.elapsed()
    );

    // The same sandbox and the same new work, without crashes.
    let clean = all_kinds::start(options(&plan), "").await;
    all_kinds::apply_all(&clean, &feeder.log).await;
    complete(&clean, &users);
    all_kinds::assert_no_duplicates(&clean, &*store_of(&clean).await).await;
    let expected = all_kinds::state(&clean).await;
    eprintln!("crash-free: {:?}", expected.sizes());
    for (kind, n) in expected.sizes() {
        assert!(n > 0, "{kind}: nothing synchronized in the crash-free run");
    }
    got.assert_same(&expected);
    // CRM → Microsoft 365: every CRM meeting of the log is one event in its rep's calendar.
    let crm_meetings: Vec<&str> = feeder
        .log
        .iter()
        .filter_map(|w| match w {
            all_kinds::Work::CrmMeeting { subject, .. } => Some(subject.as_str()),
            _ => None,
        })
        .collect();
    assert!(!crm_meetings.is_empty(), "no CRM meeting was given");
    for subject in crm_meetings {
        let n: usize = got
            .events
            .iter()
            .filter(|((_, s), _)| s == subject)
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(n, 1, "{subject}: {n} events");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_kinds_sigkill_at_fifty_points_ci_size() {
    crash_and_restart(Plan {
        users: 6,
        per_mailbox: 12,
        kills: 50,
        low_water: 16,
        top_up: 12,
        max_nth: 16,
        seed: 61,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "bigger: 20 mailboxes, 50 kills; several minutes"]
async fn all_kinds_sigkill_at_fifty_points_twenty_mailboxes() {
    crash_and_restart(Plan {
        users: 20,
        per_mailbox: 40,
        kills: 50,
        low_water: 120,
        top_up: 80,
        max_nth: 200,
        seed: 62,
    })
    .await;
}
