//! Several `graph-connector run` processes sharing one tenant through one PostgreSQL state:
//! three child processes (e-mail only) against the sandbox, new messages filed into the sync
//! folders all along, and a seeded sequence of SIGKILLs of random processes, each restarted
//! a moment later (at least one process stays up). Then a quiet period with all three up.
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

use common::service::{Run, free_port, http};
use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::{NewMessage, SandboxOptions};
use gc_store::{Kind, StateStore};
use jiff::Timestamp;
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
    /// Every sync folder must be empty this long after the last kill.
    drain_limit: Duration,
    seed: u64,
}

/// The PostgreSQL URL of the tests, or `None` when PostgreSQL tests are skipped on purpose.
fn pg_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("GC_SKIP_PG").as_deref() == Ok("1") => None,
        _ => panic!(
            "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test); set GC_SKIP_PG=1 to skip PostgreSQL tests"
        ),
    }
}

/// A fresh schema in the test database, dropped by [`Schema::drop_it`].
struct Schema {
    admin_url: String,
    name: String,
    url: String,
}

impl Schema {
    async fn create(admin_url: String) -> Schema {
        let name = format!("gc_multi_{:016x}", rand::rng().random::<u64>());
        let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-csearch_path%3D{name}");
        Schema {
            admin_url,
            name,
            url,
        }
    }

    async fn drop_it(self) {
        let pool = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        )))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
}

/// One process's configuration: the shared state, its own name and admin port.
fn process_config(env: &Env, i: usize, state_url: &str, plan: &Plan) -> (PathBuf, u16) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let url_line = text
        .lines()
        .skip_while(|l| *l != "[state]")
        .find(|l| l.starts_with("url = "))
        .unwrap()
        .to_owned();
    let quoted = toml::Value::String(state_url.to_owned()).to_string();
    let text = text.replace(
        &url_line,
        &format!(
            "url = {quoted}\nlease_seconds = {}\ninstance_name = \"proc-{i}\"",
            plan.lease_seconds
        ),
    );
    let port = free_port();
    let text = format!("{text}\n[admin]\nlisten = \"127.0.0.1:{port}\"\n");
    let path = env.dir.path().join(format!("proc-{i}.toml"));
    std::fs::write(&path, text).unwrap();
    (path, port)
}

/// Delivers `n` new messages into the sync folders of `users`, about one in four to two or
/// three of them with one internetMessageId (a mail to colleagues that each of them files:
/// one activity, written by whichever process gets there first). Returns the new
/// internetMessageIds and the count per user.
fn deliver(
    env: &Env,
    users: &[String],
    rng: &mut ChaCha8Rng,
    n: usize,
    serial: &mut usize,
    filed: &mut BTreeMap<String, usize>,
    keys: &mut BTreeSet<String>,
) {
    let externals: Vec<String> = env
        .demo
        .sandbox
        .directory()
        .externals
        .iter()
        .map(|p| p.email.clone())
        .collect();
    let st = env.demo.sandbox.state();
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
        let id = format!("<multi-{}@processes.example>", *serial);
        let msg = NewMessage {
            subject: format!("Order {} confirmation", *serial),
            from: Some(externals[rng.random_range(0..externals.len())].clone()),
            to: to.clone(),
            body_html: Some(format!("<p>Order number {}.</p>", *serial)),
            folder: Some(SYNC.to_owned()),
            internet_message_id: Some(id.clone()),
            ..Default::default()
        };
        for u in &to {
            st.deliver(u, msg.clone()).unwrap();
            *filed.entry(u.clone()).or_default() += 1;
        }
        keys.insert(id);
    }
}

/// How stale each mailbox got: per rep id, the longest time between "now" (database clock,
/// sampled) and its last e-mail run, from its first run on; `from`: when every mailbox had
/// had its first run.
#[derive(Default)]
struct Staleness {
    from: Option<Timestamp>,
    /// When `from` was seen (test clock).
    from_seen: Option<Instant>,
    worst: BTreeMap<String, f64>,
    samples: usize,
}

async fn sample(store: &dyn StateStore, mailboxes: &BTreeSet<String>, s: &Mutex<Staleness>) {
    let (Ok(all), Ok(now)) = (store.list_mailboxes().await, store.now().await) else {
        return;
    };
    let last: BTreeMap<&str, Option<Timestamp>> = all
        .iter()
        .filter(|m| mailboxes.contains(&m.rep_id))
        .map(|m| {
            (
                m.rep_id.as_str(),
                m.kinds.get(&Kind::Email).and_then(|k| k.last_run_at),
            )
        })
        .collect();
    let mut s = s.lock().unwrap();
    if s.from.is_none() && last.len() == mailboxes.len() && last.values().all(Option::is_some) {
        s.from = Some(now);
        s.from_seen = Some(Instant::now());
    }
    s.samples += 1;
    // Each mailbox from its first run on: the first sync of a whole tenant is not the steady
    // state the interval speaks of (how long it took is reported on its own).
    for (m, t) in last {
        let Some(t) = t else { continue };
        let stale = t.duration_until(now).as_secs_f64();
        let w = s.worst.entry(m.to_owned()).or_default();
        *w = w.max(stale);
    }
}

/// The processes (by index) holding an unexpired mailbox lease now.
async fn working(store: &dyn StateStore) -> BTreeSet<usize> {
    let (Ok(leases), Ok(now)) = (store.list_leases().await, store.now().await) else {
        return BTreeSet::new();
    };
    leases
        .iter()
        .filter(|l| l.expires_at > now && l.key.ends_with("/email"))
        .filter(|l| !l.key.starts_with(gc_store::PROCESS_LEASE_PREFIX))
        .filter_map(|l| {
            let name = l.holder.split(':').next()?;
            name.strip_prefix("proc-")?.parse().ok()
        })
        .collect()
}

/// What the admin API of the processes showed while they worked.
#[derive(Default)]
struct Shown {
    /// Processes seen holding mailbox leases (`/api/processes`).
    holders: BTreeSet<String>,
    /// Mailbox rows seen with a holder (`/api/mailboxes`), and with another process's.
    rows_held: usize,
    rows_held_elsewhere: usize,
}

async fn admin_sample(
    client: &reqwest::Client,
    port: u16,
    shown: &Mutex<Shown>,
) -> Result<(), reqwest::Error> {
    let base = format!("http://127.0.0.1:{port}");
    let p: serde_json::Value = client
        .get(format!("{base}/api/processes"))
        .send()
        .await?
        .json()
        .await?;
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await?
        .json()
        .await?;
    let this = p["this"].as_str().unwrap_or_default().to_owned();
    let mut s = shown.lock().unwrap();
    for l in p["leases"].as_array().into_iter().flatten() {
        if l["leased"]["type"] == "mailbox" && l["expired"] == false {
            s.holders
                .insert(l["process"].as_str().unwrap_or_default().to_owned());
        }
    }
    for r in &rows {
        if let Some(h) = r["holder"].as_str() {
            s.rows_held += 1;
            if h != this {
                s.rows_held_elsewhere += 1;
            }
        }
    }
    Ok(())
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
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = {}\n", plan.interval_minutes),
        true,
    )
    .await;
    let configs: Vec<(PathBuf, u16)> = (0..PROCESSES)
        .map(|i| process_config(&env, i, &schema.url, &plan))
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
            // A process working a mailbox right now, if one is: the kill then cuts off a
            // run and leaves its lease behind, to be taken over.
            let working = working(&*store).await;
            let alive: Vec<usize> = (0..PROCESSES).filter(|i| procs[*i].is_some()).collect();
            let busy: Vec<usize> = alive
                .iter()
                .copied()
                .filter(|i| working.contains(i))
                .collect();
            let pool = if busy.is_empty() { &alive } else { &busy };
            let i = pool[rng.random_range(0..pool.len())];
            if alive.len() >= 2 {
                let mut run = procs[i].take().unwrap();
                run.child.kill().unwrap();
                run.child.wait().unwrap();
                kills += 1;
                restart_at[i] = Some(now + between(&mut rng, plan.restart_after));
            }
            deliver(
                &env,
                &enabled,
                &mut mail_rng,
                plan.top_up,
                &mut serial,
                &mut filed,
                &mut keys,
            );
            next_kill = now + between(&mut rng, plan.kill_every);
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
        "{kills} SIGKILLs in {:?}; {} messages delivered on the way",
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

    // 0 lost: every message left its sync folder for Sync_Success.
    for u in &enabled {
        let n = filed.get(u).copied().unwrap_or(0);
        assert_eq!(env.count(u, SYNC), 0, "{u}");
        assert_eq!(
            env.count(u, &format!("{SYNC}/Sync_Failure")),
            0,
            "{u}: messages failed"
        );
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"));
        assert_eq!(moved, n, "{u}: {n} filed, {moved} moved to Sync_Success");
    }
    let f = final_state(&*store).await;
    let handled: usize = filed.values().sum();
    assert_eq!(f.failed_links, 0, "failed links");
    assert_eq!(f.active_links, handled, "one active link per filed message");
    let found: BTreeSet<String> = f.by_key.keys().cloned().collect();
    assert_eq!(
        found, keys,
        "the links' keys are the filed internetMessageIds"
    );

    // 0 duplicates: one activity per internetMessageId, in the links …
    let mut owner_of: BTreeMap<u64, &str> = BTreeMap::new();
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: activities {ids:?}");
        let id = *ids.first().unwrap();
        if let Some(other) = owner_of.insert(id, key) {
            panic!("activity {id} linked to {key} and {other}");
        }
    }
    // … in CRM's external keys …
    let crm = env.crm();
    let all_keys: Vec<String> = keys.iter().cloned().collect();
    let xks = crm
        .master()
        .find_external_keys(None, &all_keys)
        .await
        .unwrap();
    let mut records_of: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for x in &xks {
        if let Some((_, id)) = &x.record {
            records_of.entry(&x.ext_key).or_default().insert(id.get());
        }
    }
    for key in &keys {
        let ids = records_of.get(key.as_str()).cloned().unwrap_or_default();
        assert_eq!(ids.len(), 1, "{key}: external keys point to {ids:?}");
        assert_eq!(
            owner_of.get(ids.first().unwrap()).copied(),
            Some(key.as_str()),
            "{key}: the external key and the link name different activities"
        );
    }
    // … and no activity of the connector outside them.
    let acts = env.email_activities().await;
    let orphans: Vec<u64> = acts
        .iter()
        .map(|a| a.id.get())
        .filter(|id| id >> 32 == 2 && !owner_of.contains_key(id))
        .collect();
    assert!(
        orphans.is_empty(),
        "activities without an external key (duplicates): {orphans:?}"
    );
    let dec = decisions(&*store).await;
    assert_eq!(dec.len(), handled, "a ledger decision per filed message");

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
        "the chaos phase killed only {kills} process(es), cutting off {cut_off} run(s)"
    );
    assert!(
        worst <= bound(&plan),
        "mailbox {worst_mailbox} waited {worst:.1} s, more than {:.0} s",
        bound(&plan)
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
        kill_every: (Duration::from_secs(2), Duration::from_secs(6)),
        restart_after: (Duration::from_secs(1), Duration::from_secs(5)),
        top_up: 10,
        interval_minutes: 1,
        lease_seconds: 10,
        quiet: Duration::from_secs(30),
        drain_limit: Duration::from_secs(900),
        seed: 16,
    })
    .await;
}
