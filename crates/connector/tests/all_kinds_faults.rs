//! Fault runs of all five kinds together: e-mails, appointments, tasks, contacts and absences
//! with 30% throttling, 10% 5xx (Graph and CRM.interface alike) and 5% CRM.interface server
//! errors on top converge to the same final state, per kind, as a fault-free run on an
//! identical sandbox; nothing is duplicated on the way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::Env;
use common::all_kinds::{self, KindsState, waiting};
use gc_sandbox::{FaultSpec, SandboxOptions};
use gc_store::Kind;
use gc_sync::NoProgress;
use graph_connector::commands::sync::Runtime;

/// Fast retries: requests back off for seconds, and a delayed item is tried again in the
/// next run (`item_retry_minutes = 0`), so convergence is counted in runs, not minutes.
const FAST_RETRIES: &str = "[errors]\nmax_retries = 10\ninitial_backoff_seconds = 1\nmax_backoff_seconds = 2\nitem_retry_minutes = 0\n";

const KINDS: [Kind; 5] = [
    Kind::Email,
    Kind::Appointment,
    Kind::Task,
    Kind::Contact,
    Kind::Absence,
];

/// Cycles until a cycle leaves no message in the sync folders, delays nothing of any kind and
/// fails no mailbox; then the faults stop and the final state is read.
async fn run_until_converged(env: &Env, max_runs: usize) -> (KindsState, usize) {
    let users = env.enabled_users().await;
    let rt = Runtime::build(&env.config()).await.unwrap();
    let mut runs = 0;
    loop {
        runs += 1;
        let report = rt.cycle(None, &NoProgress, &Default::default()).await;
        let left = waiting(env, &users);
        if let Ok(r) = &report
            && left == 0
            && KINDS.iter().all(|k| r.total(*k).delayed == 0)
            && !r.any_mailbox_failed()
            && r.stopped.is_none()
        {
            break;
        }
        assert!(
            runs < max_runs,
            "not converged after {runs} runs: {left} messages left, {report:#?}"
        );
    }
    env.demo.sandbox.faults().set_spec(FaultSpec::default());
    all_kinds::assert_no_duplicates(env, &*rt.store).await;
    (all_kinds::state(env).await, runs)
}

async fn env(seed: u64, faults: FaultSpec) -> Env {
    all_kinds::start(
        SandboxOptions {
            users: 5,
            seed,
            messages_per_mailbox: 8,
            faults,
            ..SandboxOptions::default()
        },
        FAST_RETRIES,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_kinds_converge_under_throttling_5xx_and_crm_errors() {
    let clean = env(71, FaultSpec::default()).await;
    let (expected, _) = run_until_converged(&clean, 3).await;
    eprintln!("fault-free: {:?}", expected.sizes());
    for (kind, n) in expected.sizes() {
        assert!(n > 0, "{kind}: nothing synchronized in the fault-free run");
    }

    // 30% throttling, 10% 5xx.
    let faults: FaultSpec = "429=0.3,503=0.05,504=0.05".parse().unwrap();
    let faulty = env(71, faults).await;
    // 5% CRM.interface server errors on top: every 20th request answers 511.
    let stop = Arc::new(AtomicBool::new(false));
    let injector = {
        let crm = faulty.demo.crm.clone().unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut last = 0;
            let mut injected = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let n = crm.stats().requests;
                if n / 20 > last / 20 {
                    crm.fail_next(1, 511, "SERVER_FAILURE");
                    injected += 1;
                }
                last = n;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            injected
        })
    };
    let (got, runs) = run_until_converged(&faulty, 15).await;
    stop.store(true, Ordering::Relaxed);
    let injected = injector.await.unwrap();
    let stats = faulty.demo.sandbox.stats();
    eprintln!(
        "converged after {runs} run(s); {injected} CRM errors injected; {} Graph and {} CRM.interface requests",
        stats.graph.total, stats.crm.total
    );
    assert!(injected > 0, "no CRM error injected");
    got.assert_same(&expected);
}
