//! Benchmark of e-mail filing on the sandbox with realistic latency (Graph 50 ms, CRM 20 ms):
//! messages per second for 20 and 200 mailboxes, Graph and CRM requests per message, peak
//! memory, and the ratio to the bound set by 4 concurrent Graph requests per mailbox.
//!
//! `cargo bench -p gc-sync --bench email_filing` (set `BENCH_MAILBOXES=20` to run one size,
//! `BENCH_MESSAGES` for messages per mailbox, default 20).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gc_sandbox::{FaultPlan, FaultSpec, SandboxOptions};
use gc_sync::adapters::{CrmActivities, GraphMail, TenantDirectory};
use gc_sync::{AttachmentPolicy, EmailKind, EmailRules, Engine, NoProgress, RunPolicy};
use tokio_util::sync::CancellationToken;

const GRAPH_LATENCY_MS: u64 = 50;
const CRM_LATENCY_MS: u64 = 20;
const MAILBOX_CONCURRENCY: f64 = 4.0;

/// Peak resident memory of this process (kB), from /proc (Linux).
fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Result {
    runs: usize,
    mailboxes: usize,
    messages: u64,
    secs: f64,
    graph_per_msg: f64,
    crm_per_msg: f64,
    bound: f64,
    hwm_before_mb: f64,
    hwm_after_mb: f64,
}

async fn run(target_mailboxes: usize, per_mailbox: usize) -> Result {
    // Members are 3/4 enabled for e-mails in the sandbox's CRM seed; one has no mailbox.
    let users = target_mailboxes * 4 / 3 + 2;
    let opts = SandboxOptions {
        users,
        seed: 5,
        messages_per_mailbox: per_mailbox + 8,
        latency_ms: GRAPH_LATENCY_MS,
        mailbox_budget: u32::MAX,
        ..SandboxOptions::default()
    };
    let sandbox = gc_sandbox::start(opts.clone()).await.unwrap();
    let creds = sandbox.credentials().clone();
    let crm_faults = Arc::new(FaultPlan::new(5, FaultSpec::default(), CRM_LATENCY_MS));
    let crm_state = Arc::new(
        gc_sandbox::crm::CrmSandbox::new(
            Arc::new(sandbox.directory().clone()),
            crm_faults,
            gc_sandbox::crm::CrmOptions {
                master_user: creds.crm_master_user.clone(),
                password: creds.crm_password.clone(),
                seed: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap(),
    );
    let (crm_url, _task) = gc_sandbox::crm::spawn(crm_state.clone()).await.unwrap();

    let mut gopts = gc_graph::GraphOptions::new(
        &creds.tenant_id,
        &creds.client_id,
        gc_graph::Credential::secret(creds.client_secret.clone()),
    )
    .with_urls(format!("{}/v1.0", sandbox.url()), sandbox.url());
    gopts.tenant_budget = None;
    gopts.mailbox_budget = None;
    let graph = gc_graph::GraphClient::new(gopts).unwrap();
    let crm = gc_crm::CrmClient::new(gc_crm::CrmConfig::new(
        url::Url::parse(&crm_url).unwrap(),
        &creds.crm_master_user,
        creds.crm_password.clone().into(),
    ))
    .unwrap();
    let directory = TenantDirectory::new(crm.clone(), graph.clone());
    let graph = Arc::new(GraphMail::new(
        graph,
        sandbox.directory().admin().email.clone(),
    ));
    let crm = Arc::new(CrmActivities::new(crm, "E-mail"));
    let dir = tempfile::tempdir().unwrap();
    let store = gc_store::open(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .await
    .unwrap();
    let rules = EmailRules {
        managed_domains: vec![sandbox.directory().domain.clone()],
        attachments: AttachmentPolicy::Limited {
            max_bytes: 1024 * 1024,
        },
        ..EmailRules::default()
    };
    let policy = RunPolicy {
        key_wait: Duration::from_secs(120),
        ..RunPolicy::default()
    };
    let list = gc_sync::mailboxes::refresh(
        &directory,
        &store,
        &rules.managed_domains,
        gc_sync::mailboxes::RepOverrides::Ignore,
    )
    .await
    .unwrap();
    let targets: Vec<_> = list
        .targets_of(gc_store::Kind::Email)
        .into_iter()
        .take(target_mailboxes)
        .collect();
    let state = sandbox.state();
    for t in &targets {
        state
            .file_inbox_messages(&t.owner.email, per_mailbox, "Inbox/crm")
            .unwrap();
    }
    let engine = Engine::new(store.clone(), policy, "bench");
    let kind = EmailKind::new(graph.clone(), crm.clone(), graph.clone(), rules, list.reps);
    let hwm_before = vm_hwm_kb().unwrap_or(0);
    let g0 = graph.client().stats().requests;
    let c0 = crm_state.stats().requests;
    let start = Instant::now();
    // Messages delayed (e.g. waiting too long for another mailbox filing the same message)
    // are picked up by the next run, as in production.
    let mut messages = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let reports = engine
            .run_all(
                &kind,
                &targets,
                targets.len(),
                &NoProgress,
                &CancellationToken::new(),
            )
            .await;
        messages += reports
            .iter()
            .map(gc_sync::MailboxReport::handled)
            .sum::<u64>();
        let delayed: u64 = reports.iter().map(|r| r.delayed).sum();
        if delayed == 0 {
            break;
        }
        eprintln!("run {runs}: {delayed} delayed");
        assert!(runs < 5, "{reports:#?}");
    }
    let secs = start.elapsed().as_secs_f64();
    let graph_per_msg = (graph.client().stats().requests - g0) as f64 / messages as f64;
    let crm_per_msg = (crm_state.stats().requests - c0) as f64 / messages as f64;
    let bound = targets.len() as f64 * MAILBOX_CONCURRENCY
        / (graph_per_msg * GRAPH_LATENCY_MS as f64 / 1000.0);
    sandbox.shutdown().await;
    Result {
        runs,
        mailboxes: targets.len(),
        messages,
        secs,
        graph_per_msg,
        crm_per_msg,
        bound,
        hwm_before_mb: hwm_before as f64 / 1024.0,
        hwm_after_mb: vm_hwm_kb().unwrap_or(0) as f64 / 1024.0,
    }
}

fn main() {
    let sizes: Vec<usize> = match std::env::var("BENCH_MAILBOXES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![20, 200],
    };
    let per_mailbox = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| mailboxes | runs | messages | seconds | messages/s | Graph req/msg | CRM req/msg | bound (4 conc./mailbox) msg/s | ratio | peak RSS before → after (MB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let r = rt.block_on(run(n, per_mailbox));
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.0} | {:.1}% | {:.0} → {:.0} |",
            r.mailboxes,
            r.runs,
            r.messages,
            r.secs,
            r.messages as f64 / r.secs,
            r.graph_per_msg,
            r.crm_per_msg,
            r.bound,
            100.0 * (r.messages as f64 / r.secs) / r.bound,
            r.hwm_before_mb,
            r.hwm_after_mb,
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
