//! Crash safety: `graph-connector sync --once` is SIGKILLed at many seeded points of its work
//! while it files messages; it is restarted each time. At the
//! end: no duplicate activity, no two messages sharing one activity, no message lost or left
//! behind, a decision in the ledger for every message.
//!
//! Kill points are tied to the work, not to the clock: each run arms a sandbox trip wire on
//! the N-th request of a drawn kind (an activity insert, an external-key insert, any CRM write,
//! a Graph move, a delta page, any request), cut either before the sandbox processes it or
//! after it processed it and before the connector hears the answer, and the wire's action
//! SIGKILLs the process. N is bounded by the work still waiting, and new messages are
//! delivered into the sync folders whenever little is left, so nearly every run is killed on
//! any machine, fast or slow. The sequence of kill points (kind, before or after processing,
//! fraction of the work left) is the same in every execution; how far the parallel mailbox
//! tasks of a run got before its kill depends on scheduling.
//!
//! The CI-sized variant runs by default; the full-size one (2,000 messages, 50 kills) with
//! `cargo test -p graph-connector --test email_crash -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::kill::{sync_once, sync_once_armed};
use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{NewMessage, SandboxOptions, Target, Tripwire, When};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Plan {
    users: usize,
    per_mailbox: usize,
    /// Runs to kill (each restarted).
    runs: usize,
    /// Before a run, when fewer messages than this wait in the sync folders, deliver
    /// `top_up` new ones.
    low_water: usize,
    top_up: usize,
    /// Upper bound of N (the N-th matching request is cut), besides the work left.
    max_nth: u64,
    seed: u64,
}

/// Where a run is killed: the kind of request and how many of them a run surely makes per
/// message still waiting (a divisor of the work left, so that the N-th one comes).
struct KillKind {
    label: &'static str,
    target: fn() -> Target,
    /// N ≤ work left / this (at least 1); 0: N ≤ number of mailboxes (one per mailbox and run).
    per_message_divisor: u64,
    weight: u32,
}

const KINDS: &[KillKind] = &[
    KillKind {
        label: "activity insert",
        target: || Target::Crm {
            command: Some(CrmCommand::Insert),
            table: Some("Contact".into()),
        },
        per_message_divisor: 4,
        weight: 25,
    },
    KillKind {
        label: "external-key insert",
        target: || Target::Crm {
            command: Some(CrmCommand::Insert),
            table: Some("ExternalKey".into()),
        },
        per_message_divisor: 4,
        weight: 20,
    },
    KillKind {
        label: "CRM write",
        target: || Target::CrmWrite,
        per_message_divisor: 3,
        weight: 15,
    },
    KillKind {
        label: "Graph move",
        target: || Target::Graph(Some("messages.move".into())),
        per_message_divisor: 3,
        weight: 20,
    },
    KillKind {
        label: "delta page",
        target: || Target::Graph(Some("messages.delta".into())),
        per_message_divisor: 0,
        weight: 10,
    },
    KillKind {
        label: "any request",
        target: || Target::Any,
        per_message_divisor: 1,
        weight: 10,
    },
];

/// Draws a kill point for a run with `waiting` messages in `mailboxes` sync folders.
fn draw(
    rng: &mut ChaCha8Rng,
    waiting: usize,
    mailboxes: usize,
    max_nth: u64,
) -> (Tripwire, String) {
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
    let bound = match kind.per_message_divisor {
        0 => mailboxes as u64,
        d => waiting as u64 / d,
    }
    .clamp(1, max_nth);
    // A fraction of the bound, so that the sequence of draws does not depend on the bounds
    // (which depend on how far each killed run got).
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

/// Delivers `n` new messages into the sync folders of `users` (about one in four to two or
/// three of them with one `internetMessageId`, as a mail to several colleagues that each of
/// them files); returns how many landed per user.
fn top_up(
    env: &Env,
    users: &[String],
    rng: &mut ChaCha8Rng,
    n: usize,
    serial: &mut usize,
) -> BTreeMap<String, usize> {
    let externals: Vec<String> = env
        .demo
        .sandbox
        .directory()
        .externals
        .iter()
        .map(|p| p.email.clone())
        .collect();
    let st = env.demo.sandbox.state();
    let mut landed: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..n {
        *serial += 1;
        let first = rng.random_range(0..users.len());
        let copies = if users.len() > 1 && rng.random_bool(0.25) {
            rng.random_range(2..=users.len().min(3))
        } else {
            1
        };
        let to: Vec<String> = (0..copies)
            .map(|i| users[(first + i) % users.len()].clone())
            .collect();
        let mut cc = Vec::new();
        if rng.random_bool(0.3) {
            cc.push(format!("stranger{}@unknown.example", *serial));
        }
        let msg = NewMessage {
            subject: format!("Follow-up {} on the offer", *serial),
            from: Some(externals[rng.random_range(0..externals.len())].clone()),
            to: to.clone(),
            cc,
            body_html: Some(format!(
                "<p>Follow-up number {} with the figures.<!-- tracking --></p>",
                *serial
            )),
            folder: Some(SYNC.to_owned()),
            internet_message_id: Some(format!("<follow-up-{}@crash.example>", *serial)),
            ..Default::default()
        };
        for u in &to {
            st.deliver(u, msg.clone()).unwrap();
            *landed.entry(u.clone()).or_default() += 1;
        }
    }
    landed
}

/// A sandbox for processes that get killed: short leases, so that a restarted process takes
/// over quickly from the killed one.
async fn killable_env(options: SandboxOptions) -> Env {
    let env = Env::start_with(options, "", true).await;
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let text = text.replace("[state]\n", "[state]\nlease_seconds = 1\n");
    std::fs::write(env.config_path(), text).unwrap();
    env
}

async fn crash_and_restart(plan: Plan) {
    let env = killable_env(SandboxOptions {
        users: plan.users,
        seed: plan.seed,
        messages_per_mailbox: plan.per_mailbox,
        ..SandboxOptions::default()
    })
    .await;

    let enabled = env.enabled_users().await;
    let mut filed = env.file_all_inbox(usize::MAX);
    filed.retain(|u, _| enabled.contains(u));
    let waiting = |env: &Env| -> usize { enabled.iter().map(|u| env.count(u, SYNC)).sum() };
    eprintln!("{} messages in {} mailboxes", waiting(&env), enabled.len());

    // Two streams: the kill points (kind, before or after processing, fraction of the work
    // left) are the same sequence in every execution; the new messages another.
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut mail_rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x6d61_696c);
    let config = env.config_path();
    let started = Instant::now();
    let mut serial = 0;
    let mut delivered = 0;
    let mut killed = Vec::new();
    let mut missed = Vec::new();
    for run in 0..plan.runs {
        let mut left = waiting(&env);
        if left < plan.low_water {
            for (u, n) in top_up(&env, &enabled, &mut mail_rng, plan.top_up, &mut serial) {
                *filed.entry(u).or_default() += n;
                delivered += n;
            }
            left = waiting(&env);
        }
        let (wire, label) = draw(&mut rng, left, enabled.len(), plan.max_nth);
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
        "{} of {} runs killed in {:?}; {delivered} messages delivered on the way; kill points: {killed:#?}",
        killed.len(),
        plan.runs,
        started.elapsed()
    );
    assert!(
        killed.len() * 10 >= plan.runs * 9,
        "most runs must have been killed; not killed: {missed:#?}"
    );
    // Then run to completion: every message out of the sync folders.
    let mut runs = 0;
    loop {
        runs += 1;
        let status = sync_once(&config).status().unwrap();
        let left = waiting(&env);
        if status.success() && left == 0 {
            break;
        }
        assert!(
            runs < 10,
            "still {left} messages in sync folders after {runs} runs"
        );
    }

    // No message lost or left behind.
    for u in &enabled {
        let n = filed.get(u).copied().unwrap_or(0);
        assert_eq!(env.count(u, SYNC), 0, "{u}");
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"))
            + env.count(u, &format!("{SYNC}/Sync_Failure"));
        assert_eq!(moved, n, "{u}: {n} filed, {moved} moved");
    }

    // No duplicate activity: one per key, one external key per key, no orphan.
    let store = gc_store::open(&format!(
        "sqlite://{}",
        env.dir.path().join("graph-connector-sandbox.db").display()
    ))
    .await
    .unwrap();
    let mut f = final_state(&*store).await;
    let mut ours = BTreeSet::new();
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: {ids:?}");
        ours.extend(ids.iter().copied());
    }
    let crm = env.crm();
    let mut keys: Vec<String> = f.by_key.keys().cloned().collect();
    for (k, id) in &f.failed_with_activity {
        if !f.by_key.contains_key(k) {
            keys.push(k.clone());
            f.by_key.entry(k.clone()).or_default().1.insert(*id);
        }
    }
    // Different messages never map to the same activity: in the links …
    let mut keys_of: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for (key, (_, ids)) in &f.by_key {
        for id in ids {
            keys_of.entry(*id).or_default().insert(key);
        }
    }
    let shared: Vec<_> = keys_of.iter().filter(|(_, k)| k.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "activities linked to several messages: {shared:#?}"
    );
    let xks = crm.master().find_external_keys(None, &keys).await.unwrap();
    // … and in CRM's external keys.
    let mut ext_keys_of: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for x in &xks {
        if let Some((_, id)) = &x.record {
            ext_keys_of.entry(id.get()).or_default().insert(&x.ext_key);
        }
    }
    let shared: Vec<_> = ext_keys_of.iter().filter(|(_, k)| k.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "activities with external keys of several messages: {shared:#?}"
    );
    let mut referenced = BTreeSet::new();
    for key in &keys {
        let t: BTreeSet<u64> = xks
            .iter()
            .filter(|x| &x.ext_key == key)
            .filter_map(|x| x.record.as_ref().map(|r| r.1.get()))
            .collect();
        assert_eq!(t.len(), 1, "{key}: external keys point to {t:?}");
        referenced.extend(t);
    }
    let acts = env.email_activities().await;
    let created: Vec<u64> = acts
        .iter()
        .map(|a| a.id.get())
        .filter(|id| id >> 32 == 2)
        .collect();
    let orphans: Vec<String> = acts
        .iter()
        .filter(|a| a.id.get() >> 32 == 2 && !referenced.contains(&a.id.get()))
        .map(|a| {
            format!(
                "{} {:?} rep {:?} {:?} {:?}",
                a.id,
                a.get("Subject"),
                a.get("RepID"),
                a.get("Date"),
                a.get("Time")
            )
        })
        .collect();
    if !orphans.is_empty() {
        let keep = std::env::temp_dir().join("email-crash-debug");
        let _ = std::fs::create_dir_all(&keep);
        for f in ["graph-connector-sandbox.db", "crm-sandbox.db", "child.log"] {
            let _ = std::fs::copy(env.dir.path().join(f), keep.join(f));
        }
    }
    assert!(
        orphans.is_empty(),
        "activities without external key (duplicates): {orphans:#?}"
    );

    // Ledger complete: a decision for every message that left the sync folder.
    let dec = decisions(&*store).await;
    let handled: usize = filed.values().sum();
    assert_eq!(
        dec.len(),
        handled,
        "decisions for {} of {handled} messages",
        dec.len()
    );
    eprintln!(
        "final: {} keys, {} activities created, {} failed links, {} decisions, {runs} completion run(s), {:?} in all",
        f.by_key.len(),
        created.len(),
        f.failed_links,
        dec.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_fifty_points_ci_size() {
    crash_and_restart(Plan {
        users: 8,
        per_mailbox: 24,
        runs: 50,
        low_water: 24,
        top_up: 16,
        max_nth: 24,
        seed: 11,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full size: 2,000 messages, 50 kills; several minutes"]
async fn sigkill_at_fifty_points_two_thousand_messages() {
    crash_and_restart(Plan {
        users: 28,
        per_mailbox: 100,
        runs: 50,
        low_water: 200,
        top_up: 120,
        max_nth: 400,
        seed: 12,
    })
    .await;
}

/// A message that cannot be filed is moved to the failure folder with its notice kept until
/// the run's end (one notice per user and run): a process killed after the move and before
/// that end leaves the notice to the next run, which sends it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notice_outlives_a_kill_after_the_move() {
    let env = killable_env(SandboxOptions {
        users: 2,
        seed: 91,
        messages_per_mailbox: 0,
        ..SandboxOptions::default()
    })
    .await;
    let users = env.enabled_users().await;
    let u = &users[users.len() - 1];
    let st = env.demo.sandbox.state();
    st.create_folder_path(u, SYNC).unwrap();
    st.deliver(u, common::service::bcc_only("Blind copy only"))
        .unwrap();
    let told = || -> Vec<String> {
        st.messages(u, "inbox")
            .unwrap()
            .into_iter()
            .map(|m| m.subject)
            .filter(|s| s.starts_with("Not filed in CRM"))
            .collect()
    };
    let config = env.config_path();
    let (wire, status) = sync_once_armed(
        &env,
        Tripwire {
            target: Target::Graph(Some("messages.move".into())),
            nth: 1,
            when: When::BeforeResponse,
        },
    )
    .await;
    assert!(wire.fired() && !status.success(), "not killed: {status}");
    assert_eq!(env.count(u, &format!("{SYNC}/Sync_Failure")), 1);
    assert!(told().is_empty(), "{:?}", told());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..2 {
        assert!(sync_once(&config).status().unwrap().success());
        assert_eq!(told(), ["Not filed in CRM: Blind copy only"]);
    }
}
