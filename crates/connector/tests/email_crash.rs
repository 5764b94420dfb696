//! Crash safety: `graph-connector sync --once` is SIGKILLed at many random (seeded, hence
//! reproducible) points while it files messages; it is restarted each time. At the end: no
//! duplicate activity, no message lost or left behind, a decision in the ledger for every
//! message.
//!
//! The CI-sized variant runs by default; the full-size one (2,000 messages, 50 kills) with
//! `cargo test -p graph-connector --test email_crash -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::SandboxOptions;
use rand::{Rng, SeedableRng};

struct Plan {
    users: usize,
    per_mailbox: usize,
    kills: usize,
    /// Kill delays are drawn from this range (milliseconds after the start).
    delay_ms: std::ops::Range<u64>,
    seed: u64,
}

fn sync_once(config: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graph-connector"));
    c.env("RUST_LOG", "gc_sync=info,warn");
    c.args(["sync", "--once", "--json", "--config"])
        .arg(config)
        .stdout(Stdio::null());
    let log = config.with_file_name("child.log");
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        Ok(f) => c.stderr(f),
        Err(_) => c.stderr(Stdio::null()),
    };
    c
}

async fn crash_and_restart(plan: Plan) {
    let env = Env::start_with(
        SandboxOptions {
            users: plan.users,
            seed: plan.seed,
            messages_per_mailbox: plan.per_mailbox,
            ..SandboxOptions::default()
        },
        "",
        true,
    )
    .await;
    // Short leases so that a restarted process takes over quickly from the killed one.
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let text = text.replace("[state]\n", "[state]\nlease_seconds = 1\n");
    std::fs::write(env.config_path(), text).unwrap();

    let enabled = env.enabled_users().await;
    let filed = env.file_all_inbox(usize::MAX);
    let total: usize = filed
        .iter()
        .filter(|(u, _)| enabled.contains(u))
        .map(|(_, n)| n)
        .sum();
    eprintln!("{total} messages in {} mailboxes", enabled.len());

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(plan.seed);
    let config = env.config_path();
    let started = Instant::now();
    let mut kill_points = Vec::new();
    for _ in 0..plan.kills {
        let delay = Duration::from_millis(rng.random_range(plan.delay_ms.clone()));
        let mut child = sync_once(&config).spawn().unwrap();
        let t0 = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if t0.elapsed() >= delay {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kill_points.push(delay.as_millis());
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    eprintln!(
        "{} kills at ms {:?} in {:?}",
        kill_points.len(),
        kill_points,
        started.elapsed()
    );
    assert!(
        kill_points.len() * 10 >= plan.kills * 9,
        "most runs must have been killed: {}",
        std::fs::read_to_string(config.with_file_name("child.log")).unwrap_or_default()
    );
    // Then run to completion: every message out of the sync folders.
    let mut runs = 0;
    loop {
        runs += 1;
        let status = sync_once(&config).status().unwrap();
        let left: usize = enabled.iter().map(|u| env.count(u, SYNC)).sum();
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
    let xks = crm.master().find_external_keys(None, &keys).await.unwrap();
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
    let handled: usize = enabled
        .iter()
        .map(|u| filed.get(u).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        dec.len(),
        handled,
        "decisions for {} of {handled} messages",
        dec.len()
    );
    eprintln!(
        "final: {} keys, {} activities created, {} failed links, {} decisions, {runs} completion run(s)",
        f.by_key.len(),
        created.len(),
        f.failed_links,
        dec.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_fifty_points_ci_size() {
    crash_and_restart(Plan {
        users: 8,
        per_mailbox: 24,
        kills: 50,
        delay_ms: 300..2500,
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
        kills: 50,
        delay_ms: 300..6000,
        seed: 12,
    })
    .await;
}
