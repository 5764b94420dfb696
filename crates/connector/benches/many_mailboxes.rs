//! `graph-connector run` on a tenant of 10,000 mailboxes (issue 15): peak RSS of the connector
//! process, CPU per synced item, and whether every mailbox was worked within its interval.
//!
//! The sandbox serves a lazy tenant (`SandboxOptions::lazy_mailboxes`: a mailbox's content is
//! generated the first time something touches it) with as many users as it takes for
//! `BENCH_MAILBOXES` reps enabled for e-mails (the sandbox's CRM enables three reps in four);
//! CRM.interface on its own listener. Before the connector starts, one message from an external
//! is delivered into the sync folder (`Inbox/crm`) of every mailbox; `graph-connector run` (a
//! child process, e-mails only, `[emails] interval_minutes = BENCH_INTERVAL_MIN`) then works:
//!
//! 1. **first round**: until every mailbox's message has left its sync folder;
//! 2. **steady state** for one interval plus a minute: every `BENCH_DELIVER_MS` one message is
//!    delivered into a random mailbox's sync folder, and its latency (delivery → moved out of
//!    the sync folder) is recorded; every 5 s the bench reads the state store's schedule
//!    (`mailbox_schedule.last_run_at`, written by every run and every probe that found nothing
//!    new) and records the longest time any mailbox has gone without being worked.
//!
//! It prints the connector's peak RSS (`VmHWM` from `/proc`), its CPU time (user + system, the
//! kernel's task clock over all threads) per filed message for the whole run and per phase,
//! and for the steady state's last minute of deliveries alone (with notifications, the
//! steady state begins with the creation of every mailbox's subscription, which the last
//! minute leaves out, so that figure is the one to compare with polling's), and the two
//! "within its interval" checks: the longest gap without a run or probe against the interval
//! (plus the scheduler's 5 s floor and 30 s of slack), and the steady-state delivery latencies
//! against the same bound.
//!
//! ```sh
//! cargo bench -p graph-connector --bench many_mailboxes
//! # BENCH_MAILBOXES (default 10000), BENCH_INTERVAL_MIN (default 5), BENCH_GRAPH_MS /
//! # BENCH_CRM_MS (latency per request, default 20 / 10), BENCH_RPS ([microsoft]
//! # requests_per_second, default 500 as in the product), BENCH_PARALLEL ([mailboxes] parallel,
//! # default the product's "auto"), BENCH_DELIVER_MS (default 200), BENCH_FIRST_ROUND_MIN
//! # (give up on the first round after this, default 30)
//! # BENCH_NOTIFY=1: `[notifications]` on (the sandbox delivers change notifications to the
//! # connector's endpoint), idle polling at BENCH_SAFETY_NET_MIN (default 60) instead of the
//! # interval: the steady state's CPU is then the filing's, not the idle probes';
//! # BENCH_NOTIFY=both: the binary twice on identical fresh tenants, polling then
//! # notifications, both rows and their ratios
//! # BENCH_GATHER_MS: `[notifications] gather_ms` (unset: the product's default, and no such
//! # key in the configuration, which a build from before that setting refuses)
//! # GRAPH_CONNECTOR__STATE__URL=postgres://…: the connector's state in that PostgreSQL
//! # database instead of the tenant's SQLite file (give every run an empty database: the
//! # bench reads its schedule figures from it)
//! ```
//!
//! With `BENCH_BASELINE_BIN=/path/to/graph-connector` (an older build) the same run is repeated
//! with that binary on an identical fresh tenant, and both rows and their ratios are printed.
//! `BENCH_BIN` runs another binary (or a wrapper, e.g. under a heap profiler) in place of the
//! one just built.
//!
//! Figures: docs/PERFORMANCE.md ("10,000 mailboxes").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use gc_sandbox::{NewMessage, SandboxOptions};
use rand::{Rng, SeedableRng};
use support::{Tenant, env_usize};

const SYNC: &str = "Inbox/crm";
const SUCCESS: &str = "Inbox/crm/Sync_Success";
/// The scheduler's shortest gap between two runs of a mailbox and kind.
const FLOOR_S: f64 = 5.0;
/// Slack on top of interval + floor for a probe round of many mailboxes and the sampling.
const SLACK_S: f64 = 30.0;

/// How many sandbox users give `mailboxes` reps enabled for e-mails with a mailbox (the CRM
/// seed enables every member but each fourth; the last member has no mailbox).
fn users_for(mailboxes: usize) -> usize {
    let enabled = |users: usize| (0..users).filter(|&i| i + 1 != users && i % 4 != 3).count();
    let mut users = mailboxes.max(2);
    while enabled(users) < mailboxes {
        users += 1;
    }
    users
}

/// `(user + system CPU seconds, peak RSS in MB)` of a process, from /proc.
fn proc_usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let cpu = if f.len() > 12 {
        (f[11] + f[12]) / 100.0
    } else {
        0.0
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kb / 1024.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_connector(bin: &str, config: &Path, rps: usize, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .env(
            "GRAPH_CONNECTOR__MICROSOFT__REQUESTS_PER_SECOND",
            rps.to_string(),
        );
    if let Ok(parallel) = std::env::var("BENCH_PARALLEL") {
        cmd.env("GRAPH_CONNECTOR__MAILBOXES__PARALLEL", parallel);
    }
    cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap()
}

/// Seconds since the epoch, as the state store keeps times (microseconds).
fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The state store the connector child writes, opened read-only by the bench: the store
/// `GRAPH_CONNECTOR__STATE__URL` names (the child inherits that override, so both read the same
/// store), or else the SQLite file in the tenant's directory.
enum StateDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl StateDb {
    /// A plain read-only pool rather than the store itself, whose SQLite side would write
    /// (migrations, WAL checkpoints) beside the connector it measures.
    fn open(dir: &Path) -> StateDb {
        let url = std::env::var("GRAPH_CONNECTOR__STATE__URL")
            .ok()
            .map(|u| gc_store::StoreUrl::parse(&u).unwrap());
        match url {
            Some(url) if url.backend() == gc_store::Backend::Postgres => StateDb::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect_lazy(url.expose())
                    .unwrap(),
            ),
            url => {
                let file = match &url {
                    Some(url) => url.expose().to_owned(),
                    None => format!(
                        "sqlite://{}",
                        dir.join("graph-connector-sandbox.db").display()
                    ),
                };
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(&file)
                    .unwrap()
                    .read_only(true);
                StateDb::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_lazy_with(options),
                )
            }
        }
    }

    /// `(mailboxes with a schedule row, the longest time in seconds any of them has gone
    /// without a run or probe)`.
    async fn schedule_gap(&self) -> (i64, f64) {
        const SQL: &str =
            "SELECT COUNT(*), MIN(last_run_at) FROM mailbox_schedule WHERE kind = 'email'";
        let row: Result<(i64, Option<i64>), _> = match self {
            StateDb::Sqlite(db) => sqlx::query_as(SQL).fetch_one(db).await,
            StateDb::Postgres(db) => sqlx::query_as(SQL).fetch_one(db).await,
        };
        match row {
            Ok((n, Some(oldest))) => (n, (now_us() - oldest) as f64 / 1e6),
            _ => (0, 0.0),
        }
    }
}

fn message(rng: &mut rand_chacha::ChaCha20Rng, from: &str, n: usize) -> NewMessage {
    NewMessage {
        subject: format!("Order {} confirmation", 10_000 + n),
        from: Some(from.to_owned()),
        body_text: Some(format!(
            "Hello,\r\n\r\nplease find our confirmation no. {}.\r\n\r\nRegards",
            rng.random_range(1000..99999)
        )),
        folder: Some(SYNC.to_owned()),
        ..NewMessage::default()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What one binary did on one tenant.
struct Figures {
    peak_rss: f64,
    cpu_per_item: f64,
    /// CPU per message filed in the steady state.
    cpu_steady_per_item: f64,
    /// CPU per message filed in the steady state's last minute of deliveries.
    cpu_last_minute_per_item: f64,
    /// The table row.
    row: String,
    /// Every mailbox worked within its interval.
    within: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = std::env::var("BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_graph-connector").to_owned());
    let notify = std::env::var("BENCH_NOTIFY").unwrap_or_default();
    let safety_net = env_usize("BENCH_SAFETY_NET_MIN", 60);
    let mode = (notify == "1").then_some(safety_net);
    let this = measure(&bin, mode).await;
    let notified = if notify == "both" {
        println!();
        println!("the same binary with notifications on, on an identical fresh tenant");
        Some(measure(&bin, Some(safety_net)).await)
    } else {
        None
    };
    let baseline = match std::env::var("BENCH_BASELINE_BIN") {
        Ok(bin) => {
            println!();
            println!("baseline binary: {bin}, on an identical fresh tenant");
            Some(measure(&bin, mode).await)
        }
        Err(_) => None,
    };
    println!();
    println!(
        "| binary | mailboxes | first round s | steady s | filed (first, steady) | peak RSS MB | CPU s (first, steady) | CPU µs per filed message (all, first, steady, last minute) | longest gap without a run s | delivery latency p50 / max s | over the bound | bound s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!("| this build {}", this.row);
    if let Some(n) = &notified {
        println!("| this build, notifications {}", n.row);
        println!();
        println!(
            "polling / notifications: CPU per filed message {:.2}× (steady state {:.2}×, its last minute {:.2}×)",
            this.cpu_per_item / n.cpu_per_item.max(0.1),
            this.cpu_steady_per_item / n.cpu_steady_per_item.max(0.1),
            this.cpu_last_minute_per_item / n.cpu_last_minute_per_item.max(0.1)
        );
    }
    if let Some(b) = &baseline {
        println!("| baseline {}", b.row);
        println!();
        println!(
            "baseline / this build: peak RSS {:.2}×, CPU per filed message {:.2}× (the steady state's last minute {:.2}×)",
            b.peak_rss / this.peak_rss.max(0.1),
            b.cpu_per_item / this.cpu_per_item.max(0.1),
            b.cpu_last_minute_per_item / this.cpu_last_minute_per_item.max(0.1)
        );
    }
    println!();
    println!(
        "peak RSS {:.1} MB (goal ≤ 100): {}",
        this.peak_rss,
        if this.peak_rss <= 100.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "CPU per synced item {:.0} µs (goal ≤ 50): {}",
        this.cpu_per_item,
        if this.cpu_per_item <= 50.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "every mailbox worked within its interval: {}",
        if this.within { "yes" } else { "NO" }
    );
}

/// Runs `bin` on a fresh tenant: the first round, then the steady state; with
/// `[notifications]` on and idle polling at `safety_net_min` when that is given.
async fn measure(bin: &str, safety_net_min: Option<usize>) -> Figures {
    let mailboxes = env_usize("BENCH_MAILBOXES", 10_000);
    let interval_min = env_usize("BENCH_INTERVAL_MIN", 5);
    let graph_ms = env_usize("BENCH_GRAPH_MS", 20) as u64;
    let crm_ms = env_usize("BENCH_CRM_MS", 10) as u64;
    let rps = env_usize("BENCH_RPS", 500);
    let deliver_ms = env_usize("BENCH_DELIVER_MS", 200) as u64;
    let first_round_limit = Duration::from_secs(60 * env_usize("BENCH_FIRST_ROUND_MIN", 30) as u64);
    let interval_s = (interval_min as f64 * 60.0).max(FLOOR_S);
    let bound_s = interval_s + FLOOR_S + SLACK_S;
    // With notifications a mailbox nothing happens in is polled at the safety net only: the
    // longest gap without a run is held to that, deliveries still to the interval.
    let gap_bound_s = safety_net_min.map_or(bound_s, |m| {
        (m as f64 * 60.0).max(FLOOR_S) + FLOOR_S + SLACK_S
    });
    let users = users_for(mailboxes);

    let started = Instant::now();
    let admin = free_port();
    let mut toml = format!(
        "[emails]\ninterval_minutes = {interval_min}\nattachments = \"none\"\n\n\
         [appointments]\nenabled = false\n\n[tasks]\nenabled = false\n\n\
         [contacts]\nenabled = false\n\n[absences]\nenabled = false\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\n"
    );
    if let Some(safety_net) = safety_net_min {
        let port = free_port();
        toml.push_str(&format!(
            "\n[notifications]\nenabled = true\n\
             notification_url = \"http://127.0.0.1:{port}/graph/notifications\"\n\
             listen = \"127.0.0.1:{port}\"\nsafety_net_minutes = {safety_net}\n"
        ));
        if let Ok(gather) = std::env::var("BENCH_GATHER_MS") {
            toml.push_str(&format!("gather_ms = {gather}\n"));
        }
    }
    let opts = SandboxOptions {
        users,
        seed: 15,
        messages_per_mailbox: 0,
        lazy_mailboxes: true,
        latency_ms: graph_ms,
        ..SandboxOptions::default()
    };
    let t = Tenant::start(opts, crm_ms, &toml).await;
    let st = t.sandbox.state();
    let externals: Vec<String> = t
        .sandbox
        .directory()
        .externals
        .iter()
        .map(|p| p.email.clone())
        .collect();
    // The mailboxes the connector works: members whose reps are enabled (CRM seed rule).
    let members: Vec<(usize, String)> = t
        .sandbox
        .directory()
        .users
        .iter()
        .enumerate()
        .filter(|(_, p)| p.has_mailbox())
        .map(|(i, p)| (i, p.email.clone()))
        .collect();
    let worked: Vec<String> = members
        .iter()
        .filter(|(i, _)| i % 4 != 3)
        .map(|(_, e)| e.clone())
        .collect();
    let setup_s = started.elapsed().as_secs_f64();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(15);
    for (n, u) in worked.iter().enumerate() {
        st.create_folder_path(u, SYNC).unwrap();
        st.deliver(u, message(&mut rng, &externals[n % externals.len()], n))
            .unwrap();
    }
    println!(
        "tenant: {users} users, {} mailboxes worked by the connector, lazy; Graph {graph_ms} ms, \
         CRM {crm_ms} ms per request; interval {interval_min} min; requests_per_second {rps}; \
         notifications {}; setup {setup_s:.1} s, deliveries {:.1} s",
        worked.len(),
        safety_net_min.map_or("off".to_owned(), |m| format!("on (safety net {m} min)")),
        started.elapsed().as_secs_f64() - setup_s
    );

    let dir = t.config_path.parent().unwrap().to_path_buf();
    let log = dir.join("connector.log");
    let mut child = start_connector(bin, &t.config_path, rps, &log);
    let pid = child.id();
    let db = StateDb::open(&dir);

    // 1. First round: until every worked mailbox's message left its sync folder.
    let t0 = Instant::now();
    let mut peak_rss = 0.0f64;
    let mut first_round_s = None;
    let mut left = worked.len();
    while t0.elapsed() < first_round_limit {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the connector stopped ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        peak_rss = peak_rss.max(proc_usage(pid).1);
        left = worked
            .iter()
            .map(|u| st.count_messages(u, SYNC).unwrap_or(0))
            .sum();
        let (rows, _) = db.schedule_gap().await;
        println!(
            "  {:>6.0} s: {left} messages left in sync folders, {rows} mailboxes scheduled, \
             RSS peak {peak_rss:.1} MB, CPU {:.1} s",
            t0.elapsed().as_secs_f64(),
            proc_usage(pid).0
        );
        if left == 0 {
            first_round_s = Some(t0.elapsed().as_secs_f64());
            break;
        }
    }
    let (cpu_first, _) = proc_usage(pid);
    let filed_first = worked.len() - left;

    // 2. Steady state: deliveries into random mailboxes, latencies, schedule gaps.
    let steady = Duration::from_secs_f64(interval_s + 60.0);
    let t1 = Instant::now();
    let mut pending: VecDeque<(String, String, Instant)> = VecDeque::new();
    let mut latencies: Vec<f64> = Vec::new();
    let mut delivered = 0usize;
    let mut longest_gap = 0.0f64;
    let mut next_sample = Instant::now();
    let mut next_delivery = Instant::now();
    // The last minute of deliveries: CPU and filed messages at its start and end.
    let last_minute = steady - Duration::from_secs(60);
    let mut minute_start: Option<(f64, usize)> = None;
    let mut minute_end: Option<(f64, usize)> = None;
    let filed_now = || -> usize {
        worked
            .iter()
            .map(|u| st.count_messages(u, SUCCESS).unwrap_or(0))
            .sum()
    };
    while t1.elapsed() < steady || (!pending.is_empty() && t1.elapsed() < steady * 2) {
        if minute_start.is_none() && t1.elapsed() >= last_minute {
            minute_start = Some((proc_usage(pid).0, filed_now()));
        }
        if minute_end.is_none() && t1.elapsed() >= steady {
            minute_end = Some((proc_usage(pid).0, filed_now()));
        }
        tokio::time::sleep(Duration::from_millis(deliver_ms.min(1000))).await;
        if t1.elapsed() < steady && Instant::now() >= next_delivery {
            next_delivery += Duration::from_millis(deliver_ms);
            let u = &worked[rng.random_range(0..worked.len())];
            let from = &externals[rng.random_range(0..externals.len())];
            let id = st
                .deliver(u, message(&mut rng, from, worked.len() + delivered))
                .unwrap();
            delivered += 1;
            pending.push_back((u.clone(), id, Instant::now()));
        }
        pending.retain(|(u, id, at)| match st.message(u, id) {
            Ok(m) if m.folder_path != SYNC => {
                latencies.push(at.elapsed().as_secs_f64());
                false
            }
            _ => true,
        });
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(5);
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the connector stopped ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let (rows, gap) = db.schedule_gap().await;
            if rows as usize >= worked.len() {
                longest_gap = longest_gap.max(gap);
            }
            peak_rss = peak_rss.max(proc_usage(pid).1);
        }
    }
    let steady_s = t1.elapsed().as_secs_f64();
    let (cpu_all, rss_end) = proc_usage(pid);
    let minute_end = minute_end.unwrap_or((cpu_all, filed_now()));
    peak_rss = peak_rss.max(rss_end);
    let (rows, _) = db.schedule_gap().await;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;

    let filed_total = filed_now();
    let unfinished = pending.len();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let over = latencies.iter().filter(|l| **l > bound_s).count() + unfinished;
    let cpu_steady = cpu_all - cpu_first;
    let filed_steady = filed_total.saturating_sub(filed_first);
    let per_item = |cpu: f64, n: usize| cpu / n.max(1) as f64 * 1e6;
    let cpu_last_minute = minute_start.map_or(0.0, |(cpu, filed)| {
        per_item(minute_end.0 - cpu, minute_end.1.saturating_sub(filed))
    });

    let within = first_round_s.is_some()
        && rows as usize >= worked.len()
        && longest_gap <= gap_bound_s
        && over == 0;
    println!(
        "every mailbox worked within its interval ({rows} of {} scheduled, longest gap {longest_gap:.0} s \
         (bound {gap_bound_s:.0} s), {over} deliveries over {bound_s:.0} s): {}",
        worked.len(),
        if within { "yes" } else { "NO" }
    );
    let row = format!(
        "| {} | {} | {steady_s:.0} | {filed_total} ({filed_first}, {filed_steady}) | {peak_rss:.1} | {cpu_first:.1}, {cpu_steady:.1} | {:.0}, {:.0}, {:.0}, {cpu_last_minute:.0} | {longest_gap:.0} | {:.1} / {:.1} | {over} of {delivered} | {bound_s:.0} |",
        worked.len(),
        first_round_s.map_or("not done".to_owned(), |s| format!("{s:.0}")),
        per_item(cpu_all, filed_total),
        per_item(cpu_first, filed_first),
        per_item(cpu_steady, filed_steady),
        percentile(&latencies, 0.5),
        latencies.last().copied().unwrap_or(0.0),
    );
    println!("{row}");
    t.sandbox.shutdown().await;
    Figures {
        peak_rss,
        cpu_per_item: per_item(cpu_all, filed_total),
        cpu_steady_per_item: per_item(cpu_steady, filed_steady),
        cpu_last_minute_per_item: cpu_last_minute,
        row,
        within,
    }
}
