//! Several `graph-connector run` processes sharing one tenant through one PostgreSQL state:
//! three child processes (e-mail only) against the sandbox, new messages filed into the sync
//! folders all along, and a seeded sequence of SIGKILLs, each restarted a moment later (at
//! least one process stays up). Each kill waits a little for a process that is in the middle
//! of a run and kills that one, so that half-done runs are cut off and taken over even on an
//! idle machine, where a run against the local sandbox is over in a blink. Then a quiet
//! period with all three up.
//!
//! Checked afterwards:
//! - 0 lost: every filed message left the sync folder for `Sync_Success` and has an active
//!   link to an activity (none failed);
//! - 0 duplicates: one activity per internetMessageId, in the links and in CRM's external
//!   keys, and no activity of the connector without an external key;
//! - every mailbox worked within its interval plus the lease time (plus the scheduler's
//!   retry pause, see [`bound`]): the test samples each mailbox's last run time
//!   (`mailbox_schedule`, written by every run and every probe that found nothing new; an
//!   idle mailbox gets no row in the runs table) twice a second on the database clock, for
//!   each mailbox from its first run on;
//! - the admin API of one process lists exactly the three live processes.
//!
//! The CI-sized variant runs by default (PostgreSQL from `DATABASE_URL`, a fresh schema per
//! run; `GC_SKIP_PG=1` skips it); the long one is
//! `cargo test -p graph-connector --test multi_process -- --ignored --nocapture`
//! (docs/PERFORMANCE.md, "Several processes").
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::multi::{
    Schema, Shown, Staleness, admin_sample, deliver, mailbox_holders, nothing_lost_or_doubled,
    pg_url, process_config, sample, working,
};
use common::service::{Run, http};
use common::{Env, SYNC};
use gc_sandbox::SandboxOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PROCESSES: usize = 3;

struct Plan {
    /// Sandbox users (one has no mailbox; CRM enables e-mail for most reps).
    users: usize,
    /// New messages in the sync folders at the start, per mailbox (on average).
    per_mailbox: usize,
    /// How long processes are killed and restarted.
    chaos: Duration,
    /// Pause between two kills (drawn between these).
    kill_every: (Duration, Duration),
    /// A killed process is restarted after (drawn between these).
    restart_after: (Duration, Duration),
    /// New messages delivered after each kill.
    top_up: usize,
    /// `[emails] interval_minutes` (0: as often as possible, every 5 s).
    interval_minutes: u32,
    /// `[state] lease_seconds`.
    lease_seconds: u32,
    /// The quiet period: all processes up, no kill, no new message, at least this long.
    quiet: Duration,
    /// At a kill, how long to wait for a process that is in the middle of a run. On an idle
    /// machine a run against the local sandbox lasts milliseconds, so a kill at a random
    /// moment almost never cuts one off; waiting for one makes sure the takeover of a
    /// half-done run is what gets tested.
    busy_wait: Duration,
    /// Latency the sandbox adds to every request: runs last as long as they would against
    /// Microsoft 365 and CRM.interface over a network, and a kill can land in one.
    latency_ms: u64,
    /// Every sync folder must be empty this long after the last kill.
    drain_limit: Duration,
    seed: u64,
}

/// The longest a mailbox may wait: its interval (at least the scheduler's 5 s floor), plus
/// the lease time (a killed holder's lease runs out), plus the pause after which a process
/// that found the mailbox busy looks again (the floor), plus 5 s for the run or probe itself
/// and the sampling on a loaded machine.
fn bound(plan: &Plan) -> f64 {
    let interval = (f64::from(plan.interval_minutes) * 60.0).max(5.0);
    interval + f64::from(plan.lease_seconds) + 5.0 + 5.0
}

fn between(rng: &mut ChaCha8Rng, (lo, hi): (Duration, Duration)) -> Duration {
    lo + (hi - lo).mul_f64(rng.random::<f64>())
}

async fn several_processes(plan: Plan) {
    let Some(admin_url) = pg_url() else {
        eprintln!("GC_SKIP_PG=1: skipping");
        return;
    };
    let schema = Schema::create(admin_url).await;
    let env = Env::start_with(
        SandboxOptions {
            users: plan.users,
            seed: plan.seed,
            messages_per_mailbox: 1,
            latency_ms: plan.latency_ms,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = {}\n", plan.interval_minutes),
        true,
    )
    .await;
    let configs: Vec<(PathBuf, u16)> = (0..PROCESSES)
        .map(|i| process_config(&env, i, &schema.url, plan.lease_seconds))
        .collect();

    // The messages waiting at the start (new ones: the seeded inbox holds internal mail
    // that is skipped, and mail CRM already has).
    let enabled = env.enabled_users().await;
    for u in &enabled {
        env.demo
            .sandbox
            .state()
            .create_folder_path(u, SYNC)
            .unwrap();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut mail_rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x6d61_696c);
    let mut serial = 0;
    let mut filed: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    deliver(
        &env,
        &enabled,
        &mut mail_rng,
        plan.per_mailbox * enabled.len(),
        &mut serial,
        &mut filed,
        &mut keys,
    );
    eprintln!(
        "{} messages in {} mailboxes, {PROCESSES} processes, lease {} s, interval {} min",
        filed.values().sum::<usize>(),
        enabled.len(),
        plan.lease_seconds,
        plan.interval_minutes
    );

    let started = Instant::now();
    let mut procs: Vec<Option<Run>> = configs
        .iter()
        .map(|(c, _)| Some(Run::start(c, &[])))
        .collect();

    // The store as the test sees it, and the sampler of staleness.
    let store = gc_store::open(&schema.url).await.unwrap();
    let rep_of = {
        let wanted: BTreeSet<String> = enabled.iter().map(|u| u.to_ascii_lowercase()).collect();
        let store = store.clone();
        common::service::eventually("every mailbox in the store", 120, None, move || {
            let (store, wanted) = (store.clone(), wanted.clone());
            async move {
                let all = store.list_mailboxes().await.ok()?;
                let found: BTreeMap<String, String> = all
                    .into_iter()
                    .filter(|m| wanted.contains(&m.address.to_ascii_lowercase()))
                    .map(|m| (m.address.to_ascii_lowercase(), m.rep_id))
                    .collect();
                (found.len() == wanted.len()).then_some(found)
            }
        })
        .await
    };
    let mailboxes: BTreeSet<String> = rep_of.values().cloned().collect();
    let staleness = Arc::new(Mutex::new(Staleness::default()));
    let shown = Arc::new(Mutex::new(Shown::default()));
    let ports: Vec<u16> = configs.iter().map(|(_, p)| *p).collect();
    let sampling = tokio::spawn({
        let (store, mailboxes, staleness) = (store.clone(), mailboxes.clone(), staleness.clone());
        async move {
            loop {
                sample(&*store, &mailboxes, &staleness).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    // The admin API of whichever process is up (round robin), on its own: a slow answer of
    // a busy process must not thin out the samples above.
    let asking = tokio::spawn({
        let shown = shown.clone();
        async move {
            let client = http();
            for n in 0usize.. {
                let _ = admin_sample(&client, ports[n % ports.len()], &shown).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });

    // Kills and restarts, new mail all along.
    let initial = serial;
    let mut restart_at: Vec<Option<Instant>> = vec![None; PROCESSES];
    let mut kills = 0;
    // Kills that hit a process while it held a mailbox lease.
    let mut aimed = 0;
    // Per mailbox, the kills of a process that held its lease: each leaves the mailbox to
    // wait out the lease before another process may take it.
    let mut stranded: BTreeMap<String, usize> = BTreeMap::new();
    let mut next_kill = Instant::now() + between(&mut rng, plan.kill_every);
    while started.elapsed() < plan.chaos {
        let now = Instant::now();
        for i in 0..PROCESSES {
            if restart_at[i].is_some_and(|t| t <= now) {
                restart_at[i] = None;
                procs[i] = Some(Run::start(&configs[i].0, &[]));
            }
            if let Some(r) = procs[i].as_mut()
                && let Some(status) = r.child.try_wait().unwrap()
            {
                panic!("process {i} exited by itself ({status}): {}", r.log());
            }
        }
        if now >= next_kill {
            // New mail first: the runs it brings are what the kill should cut off.
            deliver(
                &env,
                &enabled,
                &mut mail_rng,
                plan.top_up,
                &mut serial,
                &mut filed,
                &mut keys,
            );
            let alive: Vec<usize> = (0..PROCESSES).filter(|i| procs[*i].is_some()).collect();
            if alive.len() >= 2 {
                // A process working a mailbox right now, waited for a little: the kill then
                // cuts off a run and leaves its lease behind, to be taken over.
                let waited = Instant::now();
                let busy: Vec<usize> = loop {
                    let working = working(&*store).await;
                    let busy: Vec<usize> = alive
                        .iter()
                        .copied()
                        .filter(|i| working.contains(i))
                        .collect();
                    if !busy.is_empty() || waited.elapsed() >= plan.busy_wait {
                        break busy;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                let pool = if busy.is_empty() { &alive } else { &busy };
                let i = pool[rng.random_range(0..pool.len())];
                let mut run = procs[i].take().unwrap();
                // The leases it holds as it dies (one released in the instant between is
                // counted too: that only widens the allowance of that mailbox).
                for (_, m) in mailbox_holders(&*store)
                    .await
                    .into_iter()
                    .filter(|(p, _)| *p == i)
                {
                    *stranded.entry(m).or_default() += 1;
                }
                run.child.kill().unwrap();
                run.child.wait().unwrap();
                kills += 1;
                aimed += usize::from(!busy.is_empty());
                restart_at[i] = Some(Instant::now() + between(&mut rng, plan.restart_after));
            }
            next_kill = Instant::now() + between(&mut rng, plan.kill_every);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..PROCESSES {
        if procs[i].is_none() {
            procs[i] = Some(Run::start(&configs[i].0, &[]));
        }
    }
    let chaos_done = Instant::now();
    eprintln!(
        "{kills} SIGKILLs in {:?} ({aimed} while the process held a mailbox); {} messages delivered on the way",
        plan.chaos,
        serial - initial
    );

    // The quiet period: every sync folder empties, and at least `quiet` passes.
    let waiting = |env: &Env| -> usize { enabled.iter().map(|u| env.count(u, SYNC)).sum() };
    let drain_limit = plan.drain_limit;
    loop {
        let left = waiting(&env);
        if left == 0 && chaos_done.elapsed() >= plan.quiet {
            break;
        }
        for (i, p) in procs.iter_mut().enumerate() {
            let r = p.as_mut().unwrap();
            if let Some(status) = r.child.try_wait().unwrap() {
                panic!("process {i} exited by itself ({status}): {}", r.log());
            }
        }
        assert!(
            chaos_done.elapsed() < drain_limit,
            "{left} messages still in sync folders {drain_limit:?} after the last kill"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drained = chaos_done.elapsed();

    // Which process holds what, from the admin API of one of them: the three live ones (the
    // killed ones' presence expired with their leases).
    let (_, port) = configs[0];
    let client = http();
    let processes: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/api/processes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live: BTreeSet<String> = processes["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..PROCESSES).map(|i| format!("proc-{i}")).collect();
    assert_eq!(live, expected, "{processes:#}");
    let this: Vec<&serde_json::Value> = processes["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["this"] == true)
        .collect();
    assert_eq!(this.len(), 1, "{processes:#}");
    assert_eq!(this[0]["name"], "proc-0");

    sampling.abort();
    asking.abort();
    for (i, p) in procs.into_iter().enumerate() {
        let r = p.unwrap();
        let log = r.log();
        let (ok, took) = r.term().await;
        assert!(ok, "process {i} did not stop cleanly: {log}");
        assert!(took < Duration::from_secs(30), "process {i} took {took:?}");
    }

    nothing_lost_or_doubled(&env, &*store, &enabled, &filed, &keys).await;
    let handled: usize = filed.values().sum();

    // Every mailbox worked within its interval plus the lease time.
    let runs = store.list_runs(None, 1_000_000).await.unwrap();
    let cut_off = runs.iter().filter(|r| r.finished_at.is_none()).count();
    let s = std::mem::take(&mut *staleness.lock().unwrap());
    assert!(s.from.is_some(), "the first sync never completed");
    assert_eq!(s.worst.len(), mailboxes.len());
    let (worst_mailbox, worst) = s
        .worst
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(m, w)| (m.clone(), *w))
        .unwrap();
    let mean = s.worst.values().sum::<f64>() / s.worst.len() as f64;
    let first_sync = s.from_seen.unwrap().duration_since(started);
    eprintln!(
        "final: {} messages ({} keys) in {} mailboxes, {kills} SIGKILLs, {cut_off} runs cut off by a kill, {} runs in all; \
         every mailbox worked once {first_sync:?} after the start; drained {drained:?} after the last kill; longest wait of a mailbox {worst:.1} s (mean of the per-mailbox longest {mean:.1} s, \
         bound {:.0} s, {} samples); {:?} in all",
        handled,
        keys.len(),
        mailboxes.len(),
        runs.len(),
        bound(&plan),
        s.samples,
        started.elapsed()
    );
    let shown = std::mem::take(&mut *shown.lock().unwrap());
    eprintln!(
        "admin API: {} processes seen holding mailboxes, {} mailbox rows with a holder ({} held by another process)",
        shown.holders.len(),
        shown.rows_held,
        shown.rows_held_elsewhere
    );
    assert!(
        shown.holders.len() >= 2 && shown.rows_held_elsewhere > 0,
        "the admin API never showed mailboxes held by several processes"
    );
    assert!(
        kills >= 3 && cut_off > 0,
        "the chaos phase killed only {kills} process(es) ({aimed} while holding a mailbox), cutting off {cut_off} run(s)"
    );
    // A mailbox whose holder was killed more than once (its holder killed, the next holder
    // killed too) waits out a lease each time: the bound grows by a lease and the floor for
    // every such kill after the first (seen in CI-size runs on a loaded machine: 21.9 s after
    // two cut-off runs; 22-34 s for seven mailboxes once, when only cut-off runs were
    // counted and a mailbox claimed but not yet started by a killed process was not). A cut
    // off run is such a kill too; the larger of the two counts is taken.
    let allowed = |mailbox: &str| {
        let cuts = runs
            .iter()
            .filter(|r| r.mailbox == mailbox && r.finished_at.is_none())
            .count();
        let kills = cuts.max(stranded.get(mailbox).copied().unwrap_or(0));
        bound(&plan) + kills.saturating_sub(1) as f64 * (f64::from(plan.lease_seconds) + 5.0)
    };
    let over: Vec<String> = s
        .worst
        .iter()
        .filter(|(m, w)| **w > allowed(m))
        .map(|(m, w)| {
            format!(
                "mailbox {m} waited {w:.1} s, more than {:.0} s (its holder killed {} time(s))",
                allowed(m),
                stranded.get(m.as_str()).copied().unwrap_or(0)
            )
        })
        .collect();
    assert!(
        over.is_empty(),
        "{} (worst: {worst_mailbox}, {worst:.1} s)",
        over.join("; ")
    );
    store.close().await;
    schema.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_a_tenant_through_kills_ci_size() {
    several_processes(Plan {
        users: 48,
        per_mailbox: 2,
        chaos: Duration::from_secs(45),
        kill_every: (Duration::from_millis(1500), Duration::from_secs(4)),
        restart_after: (Duration::from_millis(500), Duration::from_secs(3)),
        top_up: 12,
        interval_minutes: 0,
        lease_seconds: 4,
        quiet: Duration::from_secs(15),
        busy_wait: Duration::from_secs(6),
        latency_ms: 30,
        drain_limit: Duration::from_secs(240),
        seed: 15,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long run: 300 mailboxes, 4 minutes of kills; see docs/PERFORMANCE.md"]
async fn three_processes_share_three_hundred_mailboxes_through_kills() {
    several_processes(Plan {
        users: 400,
        per_mailbox: 2,
        chaos: Duration::from_secs(240),
        kill_every: (Duration::from_secs(8), Duration::from_secs(20)),
        restart_after: (Duration::from_secs(1), Duration::from_secs(5)),
        top_up: 10,
        interval_minutes: 1,
        lease_seconds: 10,
        quiet: Duration::from_secs(30),
        busy_wait: Duration::from_secs(6),
        latency_ms: 0,
        drain_limit: Duration::from_secs(900),
        seed: 16,
    })
    .await;
}
