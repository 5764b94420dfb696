//! What the first-sync benches share: a sandbox tenant with its own Graph and CRM latencies,
//! `sync --once` as a child process, and the request counter.
//!
//! The sandbox's own listener serves Graph (with TLS when asked: Microsoft's Python SDK and
//! azure-identity insist on `https`); CRM.interface is served on a second listener with its
//! own fault plan, so that CRM gets another latency than Graph (the sandbox's `--latency-ms`
//! is one value for both). Both report to one request counter.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use gc_sandbox::{FaultPlan, FaultSpec, RequestStats, Sandbox, SandboxOptions};

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh tenant: the sandbox, its CRM.interface and a connector configuration for both.
pub struct Tenant {
    pub sandbox: Sandbox,
    pub crm: Arc<gc_sandbox::crm::CrmSandbox>,
    pub config_path: PathBuf,
    _crm_task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Tenant {
    /// Starts the tenant of `opts` (whose `latency_ms` is Graph's) with `crm_latency_ms` on
    /// every CRM.interface request, and writes the configuration with `extra_toml` appended.
    pub async fn start(opts: SandboxOptions, crm_latency_ms: u64, extra_toml: &str) -> Tenant {
        let dir = tempfile::tempdir().unwrap();
        let seed = opts.seed;
        let sandbox = gc_sandbox::start(opts).await.unwrap();
        let config_path = dir.path().join("graph-connector.toml");
        sandbox.write_config(&config_path).unwrap();
        let creds = sandbox.credentials();
        let crm = Arc::new(
            gc_sandbox::crm::CrmSandbox::new(
                Arc::new(sandbox.directory().clone()),
                Arc::new(FaultPlan::new(seed, FaultSpec::default(), crm_latency_ms)),
                gc_sandbox::crm::CrmOptions {
                    master_user: creds.crm_master_user.clone(),
                    password: creds.crm_password.clone(),
                    seed,
                    legacy: gc_sandbox::crm::legacy_from_tenant(
                        &sandbox.state(),
                        sandbox.directory(),
                    ),
                    monitor: Some(sandbox.monitor().clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
        let (crm_url, task) = gc_sandbox::crm::spawn(crm.clone()).await.unwrap();
        let text = std::fs::read_to_string(&config_path).unwrap();
        let mut text = text.replace(&format!("{}/crm/interface", sandbox.url()), &crm_url);
        text.push('\n');
        text.push_str(extra_toml);
        // The benchmarks measure the sync itself: the first-sync review (default 500, which
        // a benchmark's mailbox may exceed, and which plans a first sync once before running
        // it) is off, as it was for the figures in docs/PERFORMANCE.md; `BENCH_REVIEW=1`
        // keeps the product's default.
        let review = std::env::var("BENCH_REVIEW").is_ok_and(|v| v == "1");
        text = match text.find("[mailboxes]\n") {
            _ if review => text,
            Some(at) => {
                let after = at + "[mailboxes]\n".len();
                format!(
                    "{}confirm_first_sync_above = 0\n{}",
                    &text[..after],
                    &text[after..]
                )
            }
            None => format!("{text}\n[mailboxes]\nconfirm_first_sync_above = 0\n"),
        };
        gc_sandbox::write_private(&config_path, &text).unwrap();
        Tenant {
            sandbox,
            crm,
            config_path,
            _crm_task: task,
            _dir: dir,
        }
    }

    /// The e-mail addresses of the users with a mailbox.
    pub fn mailbox_users(&self) -> Vec<String> {
        self.sandbox
            .directory()
            .mailbox_users()
            .map(|p| p.email.clone())
            .collect()
    }
}

/// `graph-connector sync --once --json`: its report and its wall time in seconds.
pub fn sync_once(bin: &str, config: &Path) -> (serde_json::Value, f64) {
    sync_once_under(None, bin, config)
}

/// [`sync_once`] under a wrapper command, e.g. `perf record -g -o /tmp/perf.data --`
/// (`BENCH_WRAP`), to see where a cycle's CPU goes.
pub fn sync_once_under(wrap: Option<&str>, bin: &str, config: &Path) -> (serde_json::Value, f64) {
    let mut words: Vec<&str> = wrap
        .map(|w| w.split_whitespace().collect())
        .unwrap_or_default();
    words.push(bin);
    let mut cmd = Command::new(words[0]);
    cmd.args(&words[1..]);
    let started = Instant::now();
    let out = cmd
        .args(["sync", "--once", "--json", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "sync --once failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), seconds)
}

/// Sum of a counter over the report's mailbox rows.
pub fn report_sum(report: &serde_json::Value, field: &str) -> u64 {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[field].as_u64().unwrap_or(0))
        .sum()
}

/// Graph requests that take one of a mailbox's concurrent slots: every request except the
/// token and the `$batch` envelopes, plus the requests inside the envelopes.
pub fn graph_mailbox_requests(s: &RequestStats) -> u64 {
    let g = &s.graph;
    let envelope = |name: &str| g.by_resource.get(name).copied().unwrap_or(0);
    g.total - envelope("token") - envelope("$batch") + g.in_batch.values().sum::<u64>()
}

/// Graph requests over the wire (envelopes counted once, the token included).
pub fn graph_total(s: &RequestStats) -> u64 {
    s.graph.total
}

pub fn crm_total(s: &RequestStats) -> u64 {
    s.crm.total
}

/// CPU seconds (user + system) of this process (the sandbox) and of its waited-for children
/// (the connector runs), from /proc/self/stat; zeros where /proc is missing.
pub fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // the fields after the command name, which is in parentheses and may contain spaces
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14–17 of the line, 12–15 after the name
    let tick = 100.0;
    if f.len() < 16 {
        return (0.0, 0.0);
    }
    ((f[11] + f[12]) / tick, (f[13] + f[14]) / tick)
}
