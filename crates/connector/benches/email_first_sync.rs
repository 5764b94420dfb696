//! The first filing cycle of e-mails, against two yardsticks (issue 15):
//!
//! - **the bound** set by 4 concurrent Graph requests per mailbox and one CRM.interface request
//!   at a time per rep: per mailbox `min(4 / (g × Lg), 1 / (c × Lc))` messages per second, times
//!   the mailboxes, with `g`, `c` the measured Graph and CRM requests per filed message and `Lg`,
//!   `Lc` the latencies; and the same bound for the mailboxes as they are: the seeded tenant's
//!   mailboxes are not the same size (colleagues share messages), and no cycle can end before
//!   its largest mailbox is through, so that bound is the messages filed over the largest
//!   mailbox's messages at the per-mailbox rate; besides it, the least time the tenant budget
//!   (`[microsoft] requests_per_second`) allows for the cycle's Graph requests, which bounds a
//!   cycle of many messages per mailbox before the slots do; and the least time the requests
//!   the cycle made allow where they were made (the busiest mailbox's Graph requests four at a
//!   time, the busiest rep's CRM requests one at a time, from the sandbox's per-mailbox and
//!   per-rep counts), which also counts what lands on one mailbox only, such as the notices;
//! - **a straightforward msgraph-sdk script** doing the same job (`benches/msgraph-sdk/filing.py`:
//!   sequential, one CRM query per address, one insert per message, one move), run on an
//!   identical fresh tenant in the same run.
//!
//! Each side gets a fresh sandbox tenant with the same seed (Graph over TLS with `BENCH_GRAPH_MS`
//! latency, default 50; CRM.interface with `BENCH_CRM_MS`, default 20), every Inbox message of
//! every mailbox filed into `Inbox/crm`. The connector runs as `graph-connector sync --once`
//! (a child process, e-mails only, `attachments = "none"` as the script ignores attachments),
//! then twice more: the third run is idle and shows the fixed cost of a cycle (process start,
//! token, CRM preflight, mailbox list), which the "net" figures leave out.
//!
//! `cargo bench -p graph-connector --bench email_first_sync`
//! (`BENCH_USERS` sandbox users, default 27 = 20 mailboxes filing e-mails; `BENCH_MESSAGES`
//! generated messages per mailbox, default 20; `BENCH_SDK=0` skips the script; `BENCH_WRAP` a
//! command to run the connector's first cycle under, e.g. `perf record -g -o FILE --`; `GC_VENV` the
//! virtualenv for it, default `/var/tmp/gc-venv`, created and filled from
//! `benches/msgraph-sdk/requirements.txt` when missing; `BENCH_BIN` another connector binary
//! in place of the one just built; `BENCH_BASELINE_BIN` an older build, run on an identical
//! fresh tenant after this one, both rows and their ratios printed; `BENCH_REVIEW=1` keeps the
//! first-sync review at the product's default instead of turning it off; `BENCH_RUNS` the
//! connector's cycles on fresh tenants, default 1: each row printed, then their medians,
//! the baseline's alternating with them). Figures:
//! docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use gc_sandbox::SandboxOptions;
use support::{Tenant, env_usize};

const SYNC: &str = "Inbox/crm";
const MAILBOX_CONCURRENCY: f64 = 4.0;
/// `[microsoft] requests_per_second`: the product's default, which the bench's configuration
/// keeps. The budget lets this many requests through at once, then this many per second.
const TENANT_RPS: f64 = 500.0;

/// E-mails only: the other kinds would run after e-mails in the same cycle.
const CONNECTOR_TOML: &str = "[emails]\nattachments = \"none\"\n\n\
    [appointments]\nenabled = false\n\n[tasks]\nenabled = false\n\n\
    [contacts]\nenabled = false\n\n[absences]\nenabled = false\n";

struct Setup {
    users: usize,
    messages: usize,
    graph_ms: u64,
    crm_ms: u64,
}

impl Setup {
    /// The Graph and CRM.interface latencies per request, in seconds.
    fn latencies(&self) -> (f64, f64) {
        (self.graph_ms as f64 / 1000.0, self.crm_ms as f64 / 1000.0)
    }
}

async fn tenant(s: &Setup, extra: &str) -> Tenant {
    let opts = SandboxOptions {
        users: s.users,
        seed: 15,
        tls: true,
        messages_per_mailbox: s.messages,
        latency_ms: s.graph_ms,
        ..SandboxOptions::default()
    };
    let t = Tenant::start(opts, s.crm_ms, extra).await;
    let st = t.sandbox.state();
    for u in t.mailbox_users() {
        for m in st.messages(&u, "inbox").unwrap_or_default() {
            st.file_message(&u, &m.immutable_id, SYNC).unwrap();
        }
    }
    t
}

/// Messages still in the sync folder itself (not in its subfolders) of every mailbox.
fn left_in_sync_folder(t: &Tenant) -> usize {
    let st = t.sandbox.state();
    t.mailbox_users()
        .iter()
        .map(|u| st.messages(u, SYNC).map(|v| v.len()).unwrap_or(0))
        .sum()
}

struct Connector {
    mailboxes: usize,
    filed: u64,
    unfiled: u64,
    seconds: f64,
    idle_seconds: f64,
    graph_per_msg: f64,
    crm_per_msg: f64,
    left: usize,
    /// The messages of the mailbox with the most (filed or not).
    largest: u64,
    /// CPU seconds of the sandbox (this process) and of the connector during the first cycle.
    sandbox_cpu: f64,
    connector_cpu: f64,
    graph_requests: u64,
    crm_requests: u64,
    /// The mailbox with the most Graph requests (filing, folders, notices sent from it) and
    /// their count; the rep with the most CRM.interface requests and theirs.
    busiest_mailbox: (String, u64),
    busiest_rep: (String, u64),
}

impl Connector {
    /// The first cycle's seconds without the idle cycle's fixed cost (process start, token,
    /// CRM preflight, mailbox list): what every "net" figure divides by.
    fn net_seconds(&self) -> f64 {
        self.seconds - self.idle_seconds
    }
}

/// The key with the largest count (the first such in key order).
fn busiest(counts: &std::collections::BTreeMap<String, u64>) -> (String, u64) {
    counts.iter().fold((String::new(), 0), |best, (k, n)| {
        if *n > best.1 { (k.clone(), *n) } else { best }
    })
}

async fn connector(s: &Setup, bin: &str) -> Connector {
    let t = tenant(s, CONNECTOR_TOML).await;
    t.sandbox.reset_stats();
    let cpu0 = support::cpu_seconds();
    let wrap = std::env::var("BENCH_WRAP").ok();
    let (first, seconds) = support::sync_once_under(wrap.as_deref(), bin, &t.config_path);
    let cpu1 = support::cpu_seconds();
    let stats = t.sandbox.stats();
    let filed = support::report_sum(&first, "created") + support::report_sum(&first, "adopted");
    let unfiled = support::report_sum(&first, "skipped") + support::report_sum(&first, "failed");
    support::sync_once(bin, &t.config_path);
    let (_, idle_seconds) = support::sync_once(bin, &t.config_path);
    Connector {
        mailboxes: first["mailboxes"].as_array().unwrap().len(),
        filed,
        unfiled,
        seconds,
        idle_seconds,
        graph_per_msg: support::graph_mailbox_requests(&stats) as f64 / filed.max(1) as f64,
        crm_per_msg: support::crm_total(&stats) as f64 / filed.max(1) as f64,
        left: left_in_sync_folder(&t),
        largest: first["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                ["created", "adopted", "skipped", "failed"]
                    .iter()
                    .map(|f| m[*f].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .max()
            .unwrap_or(0),
        sandbox_cpu: cpu1.0 - cpu0.0,
        connector_cpu: cpu1.1 - cpu0.1,
        graph_requests: support::graph_total(&stats),
        crm_requests: support::crm_total(&stats),
        busiest_mailbox: busiest(&stats.graph.by_mailbox),
        busiest_rep: busiest(&stats.crm.by_rep),
    }
}

/// Prints the least time the mailboxes' slots and the reps' turns allow for the requests the
/// cycle made, each where it was made: the busiest mailbox's Graph requests four at a time,
/// the busiest rep's CRM requests one at a time. The bounds in the table spread the requests
/// evenly over the messages; this one also counts what lands on one mailbox only (the notices
/// all go out from `[microsoft] admin_email`, which the sandbox makes its first user, the one
/// with the most messages), so it says how much of the cycle is waiting beyond the requests
/// themselves. It does not say whether the requests were few: the table's requests per message
/// do.
fn slots_floor(s: &Setup, bin: &str, c: &Connector) {
    let (mailbox, g) = &c.busiest_mailbox;
    let (rep, r) = &c.busiest_rep;
    let (graph_floor, crm_floor) = floors(s, c);
    let net = c.net_seconds();
    let name = binary_name(bin);
    println!(
        "{name}: the busiest mailbox ({mailbox}) made {g} Graph requests, {graph_floor:.2} s at the least through its {MAILBOX_CONCURRENCY} slots; \
         the busiest rep ({rep}) {r} CRM requests, {crm_floor:.2} s at the least one at a time; the cycle took {net:.2} s net: \
         {:.1}% of the requests' own bound",
        own_share(s, c)
    );
}

/// The least seconds of the busiest mailbox's Graph requests through its slots and of the
/// busiest rep's CRM requests one at a time.
fn floors(s: &Setup, c: &Connector) -> (f64, f64) {
    let (lg, lc) = s.latencies();
    (
        c.busiest_mailbox.1 as f64 * lg / MAILBOX_CONCURRENCY,
        c.busiest_rep.1 as f64 * lc,
    )
}

/// The net cycle against the least time of its requests where they were made, in percent
/// (see [`slots_floor`]).
fn own_share(s: &Setup, c: &Connector) -> f64 {
    let (graph_floor, crm_floor) = floors(s, c);
    100.0 * graph_floor.max(crm_floor) / c.net_seconds().max(f64::MIN_POSITIVE)
}

/// The issue's bound from one measurement: per mailbox, the messages per second its Graph
/// slots and its rep's CRM turn allow at the measured requests per message.
struct Bounds {
    graph: f64,
    crm: f64,
    /// Messages per second, all mailboxes alike.
    tenant: f64,
    /// Messages per second for the mailboxes as they are: no cycle ends before the largest
    /// mailbox is through at the per-mailbox rate.
    as_they_are: f64,
}

fn bounds(s: &Setup, c: &Connector) -> Bounds {
    let (lg, lc) = s.latencies();
    let graph = MAILBOX_CONCURRENCY / (c.graph_per_msg * lg);
    let crm = 1.0 / (c.crm_per_msg * lc);
    let per_mailbox = graph.min(crm);
    Bounds {
        graph,
        crm,
        tenant: per_mailbox * c.mailboxes as f64,
        as_they_are: c.filed as f64 / (c.largest.max(1) as f64 / per_mailbox),
    }
}

/// Net messages per second (the idle cycle's fixed cost left out).
fn net_rate(c: &Connector) -> f64 {
    c.filed as f64 / c.net_seconds().max(f64::MIN_POSITIVE)
}

/// The net messages per second against the bound for the mailboxes as they are, in percent
/// (the table's "net / that bound").
fn as_they_are_share(s: &Setup, c: &Connector) -> f64 {
    100.0 * net_rate(c) / bounds(s, c).as_they_are
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints the medians of several runs of one binary: one run of this cycle swings by about
/// five points of the bound from the next on this machine, which is more than most changes
/// measured with it.
fn medians(s: &Setup, bin: &str, runs: &[Connector]) {
    let of = |f: &dyn Fn(&Connector) -> f64| median(runs.iter().map(f).collect());
    println!(
        "{}: median of {} runs: {:.2} s ({:.2} s net), {:.1}% of the bound for the mailboxes as they are, {:.1}% of the requests' own bound, {:.2} CPU s",
        binary_name(bin),
        runs.len(),
        of(&|c| c.seconds),
        of(&|c| c.net_seconds()),
        of(&|c| as_they_are_share(s, c)),
        of(&|c| own_share(s, c)),
        of(&|c| c.connector_cpu)
    );
}

/// The run of the median seconds (the lower middle one for an even count).
fn median_run(runs: &[Connector]) -> &Connector {
    let mut order: Vec<&Connector> = runs.iter().collect();
    order.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    order[(order.len() - 1) / 2]
}

/// Prints the table row of one connector measurement.
fn row(s: &Setup, bin: &str, c: &Connector) {
    let b = bounds(s, c);
    let rate = c.filed as f64 / c.seconds;
    let net = net_rate(c);
    let name = binary_name(bin);
    println!(
        "| {name} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1}, {:.1} | {:.0} | {:.1}% | {:.1}% | {} | {:.0} | {:.1}% | {:.1}, {:.1} |",
        c.mailboxes,
        c.filed,
        c.unfiled,
        c.seconds,
        c.idle_seconds,
        rate,
        net,
        c.graph_per_msg,
        c.crm_per_msg,
        b.graph,
        b.crm,
        b.tenant,
        100.0 * rate / b.tenant,
        100.0 * net / b.tenant,
        c.largest,
        b.as_they_are,
        100.0 * net / b.as_they_are,
        c.connector_cpu,
        c.sandbox_cpu
    );
}

/// The binary's file name, as the rows name it.
fn binary_name(bin: &str) -> std::borrow::Cow<'_, str> {
    Path::new(bin)
        .file_name()
        .map_or(bin.into(), |n| n.to_string_lossy())
}

/// Prints the least time the tenant budget allows for the cycle's Graph requests: when it is
/// near the cycle's own net time, the budget and not the mailboxes' slots bound the cycle (as
/// with 100 messages per mailbox).
fn budget_floor(bin: &str, c: &Connector) {
    let floor = (c.graph_requests as f64 - TENANT_RPS).max(0.0) / TENANT_RPS;
    let name = binary_name(bin);
    println!(
        "{name}: the tenant budget ({TENANT_RPS} requests per second, as many at once) lets its {} Graph requests through in {floor:.1} s at the least; the cycle took {:.1} s net",
        c.graph_requests,
        c.net_seconds()
    );
}

struct Script {
    mailboxes: u64,
    filed: u64,
    failed: u64,
    seconds: f64,
    graph_requests: u64,
    crm_requests: u64,
    left: usize,
    client_cpu: f64,
    sandbox_cpu: f64,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The virtualenv's python with the pinned SDK installed.
fn python() -> PathBuf {
    let venv =
        PathBuf::from(std::env::var("GC_VENV").unwrap_or_else(|_| "/var/tmp/gc-venv".into()));
    let py = venv.join("bin/python");
    if !py.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv {} failed", venv.display());
    }
    let req = repo_root().join("benches/msgraph-sdk/requirements.txt");
    let ok = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", "-r"])
        .arg(&req)
        .status()
        .unwrap()
        .success();
    assert!(ok, "pip install -r {} failed", req.display());
    py
}

async fn script(s: &Setup, py: &Path) -> Script {
    let t = tenant(s, "").await;
    t.sandbox.reset_stats();
    let cpu0 = support::cpu_seconds();
    let out = tokio::process::Command::new(py)
        .arg(repo_root().join("benches/msgraph-sdk/filing.py"))
        .arg(&t.config_path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "filing.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cpu1 = support::cpu_seconds();
    let stats = t.sandbox.stats();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Script {
        mailboxes: v["mailboxes"].as_u64().unwrap(),
        filed: v["filed"].as_u64().unwrap(),
        failed: v["failed"].as_u64().unwrap(),
        seconds: v["seconds"].as_f64().unwrap(),
        graph_requests: support::graph_total(&stats),
        crm_requests: support::crm_total(&stats),
        left: left_in_sync_folder(&t),
        client_cpu: cpu1.1 - cpu0.1,
        sandbox_cpu: cpu1.0 - cpu0.0,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let s = Setup {
        users: env_usize("BENCH_USERS", 27),
        messages: env_usize("BENCH_MESSAGES", 20),
        graph_ms: env_usize("BENCH_GRAPH_MS", 50) as u64,
        crm_ms: env_usize("BENCH_CRM_MS", 20) as u64,
    };
    let with_sdk = std::env::var("BENCH_SDK").map_or(true, |v| v != "0");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "first filing cycle: {} sandbox users, {} generated messages per mailbox, every Inbox message filed into {SYNC}; \
         Graph {} ms, CRM.interface {} ms per request",
        s.users, s.messages, s.graph_ms, s.crm_ms
    );
    let bin = std::env::var("BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_graph-connector").to_owned());
    let runs = env_usize("BENCH_RUNS", 1).max(1);
    let baseline_bin = std::env::var("BENCH_BASELINE_BIN").ok();
    // The two binaries alternate, so that the machine's drift weighs on both alike.
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..runs {
        mine.push(rt.block_on(connector(&s, &bin)));
        if let Some(b) = &baseline_bin {
            theirs.push(rt.block_on(connector(&s, b)));
        }
    }
    let base = baseline_bin.as_deref().unwrap_or_default();
    println!();
    println!(
        "| binary | mailboxes | filed | not filed | seconds | idle cycle s | msg/s | net msg/s | Graph req/msg (mailbox slots) | CRM req/msg | bound per mailbox: Graph, CRM msg/s | bound msg/s | msg/s / bound | net / bound | largest mailbox (messages) | bound msg/s, mailboxes as they are | net / that bound | CPU s: connector, sandbox |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for c in &mine {
        row(&s, &bin, c);
    }
    for b in &theirs {
        row(&s, base, b);
    }
    println!();
    for c in &mine {
        budget_floor(&bin, c);
        slots_floor(&s, &bin, c);
    }
    for b in &theirs {
        budget_floor(base, b);
        slots_floor(&s, base, b);
    }
    if runs > 1 {
        println!();
        medians(&s, &bin, &mine);
        if !theirs.is_empty() {
            medians(&s, base, &theirs);
        }
    }
    let c = median_run(&mine);
    if !theirs.is_empty() {
        let of = |v: &[Connector], f: &dyn Fn(&Connector) -> f64| median(v.iter().map(f).collect());
        println!(
            "\nthis / baseline{}: {:.2}× the messages per second (net {:.2}×), {:.2}× the CPU seconds of the connector",
            if runs > 1 { " (medians)" } else { "" },
            of(&theirs, &|c| c.seconds) / of(&mine, &|c| c.seconds),
            of(&theirs, &|c| c.net_seconds()) / of(&mine, &|c| c.net_seconds()),
            of(&mine, &|c| c.connector_cpu)
                / of(&theirs, &|c| c.connector_cpu).max(f64::MIN_POSITIVE)
        );
    }
    if !with_sdk {
        return;
    }
    let py = python();
    let p = rt.block_on(script(&s, &py));
    println!();
    println!(
        "| job | mailboxes | filed | not filed | left in sync folders (reps not on e-mails too) | seconds | msg/s | Graph requests | CRM requests | CPU s: client, sandbox |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| graph-connector sync --once | {} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1}, {:.1} |",
        c.mailboxes,
        c.filed,
        c.unfiled,
        c.left,
        c.seconds,
        c.filed as f64 / c.seconds,
        c.graph_requests,
        c.crm_requests,
        c.connector_cpu,
        c.sandbox_cpu
    );
    println!(
        "| msgraph-sdk script | {} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.1}, {:.1} |",
        p.mailboxes,
        p.filed,
        p.failed,
        p.left,
        p.seconds,
        p.filed as f64 / p.seconds,
        p.graph_requests,
        p.crm_requests,
        p.client_cpu,
        p.sandbox_cpu
    );
    println!(
        "\nscript seconds / connector seconds = {:.1}×; per filed message {:.1}×",
        p.seconds / c.seconds,
        (p.seconds / p.filed.max(1) as f64) / (c.seconds / c.filed.max(1) as f64)
    );
}
