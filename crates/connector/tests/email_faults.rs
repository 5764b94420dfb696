//! Fault runs: the same sync with 30% throttling, 10% 5xx (Graph and CRM.interface alike) and
//! extra CRM.interface server errors converges to the same final state as a fault-free run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Env, SYNC, final_state};
use gc_sandbox::{FaultSpec, SandboxOptions};
use gc_sync::NoProgress;
use graph_connector::commands::sync::Runtime;

/// Requests back off for a tenth of a second, doubled up to two tenths.
const FAST_RETRIES: &str =
    "[errors]\nmax_retries = 10\ninitial_backoff_seconds = 0.1\nmax_backoff_seconds = 0.2\n";

/// What must be equal between runs: per user the folder counts, and the activities written
/// (subject, participant count, missing-participants text), as a multiset. (Dates follow the
/// sandbox's clock at generation, so they are not compared.)
type Snapshot = (
    BTreeMap<String, (usize, usize, usize)>,
    BTreeMap<(String, usize, String), usize>,
    usize,
);

async fn run_until_converged(env: &Env, users: &[String], max_runs: usize) -> (Snapshot, usize) {
    let rt = Runtime::build(&env.config()).await.unwrap();
    let mut runs = 0;
    loop {
        runs += 1;
        let report = rt.cycle(None, &NoProgress, &Default::default()).await;
        let left: usize = users.iter().map(|u| env.count(u, SYNC)).sum();
        // Every mailbox run complete, not only none failed: a run called off (its lease
        // lost) delays nothing, yet may have filed a message it never committed.
        if let Ok(r) = &report
            && left == 0
            && r.total(gc_store::Kind::Email).delayed == 0
            && common::every_run_complete(r)
        {
            break;
        }
        assert!(
            runs < max_runs,
            "not converged after {runs} runs: {left} left, {report:?}"
        );
    }
    env.demo.sandbox.faults().set_spec(FaultSpec::default());
    let folders = users
        .iter()
        .map(|u| {
            (
                u.clone(),
                (
                    env.count(u, SYNC),
                    env.count(u, &format!("{SYNC}/Sync_Success")),
                    env.count(u, &format!("{SYNC}/Sync_Failure")),
                ),
            )
        })
        .collect();
    let crm = env.crm();
    let mut acts = BTreeMap::new();
    for a in env.email_activities().await {
        if a.id.get() >> 32 != 2 {
            continue;
        }
        let full = crm.master().activity(a.id).await.unwrap().unwrap();
        let k = (
            full.get("Subject").unwrap_or_default().to_owned(),
            full.participants.len(),
            // The block's language follows the rep whose filing created the activity; with
            // faults another rep of a shared message may get there first. Compare the
            // addresses it names, not its labels.
            missing_addresses(full.get("MissingParticipants").unwrap_or_default()),
        );
        *acts.entry(k).or_insert(0) += 1;
    }
    let f = final_state(&*rt.store).await;
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: {ids:?}");
    }
    ((folders, acts, f.by_key.len()), runs)
}

/// The addresses a missing-participants block names, sorted, without its (translated) labels.
fn missing_addresses(block: &str) -> String {
    let mut addresses: Vec<&str> = block
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .filter(|t| t.contains('@'))
        .collect();
    addresses.sort_unstable();
    addresses.join(" ")
}

async fn env(seed: u64, faults: FaultSpec) -> (Env, Vec<String>) {
    let env = Env::start_with(
        SandboxOptions {
            users: 8,
            seed,
            messages_per_mailbox: 16,
            faults,
            ..SandboxOptions::default()
        },
        FAST_RETRIES,
        true,
    )
    .await;
    let spec = env.demo.sandbox.faults().spec();
    env.demo.sandbox.faults().set_spec(FaultSpec::default());
    let users = env.enabled_users().await;
    env.file_all_inbox(usize::MAX);
    env.demo.sandbox.faults().set_spec(spec);
    (env, users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_5xx_and_crm_errors_converge_to_the_same_state() {
    let (clean, users) = env(21, FaultSpec::default()).await;
    let (expected, _) = run_until_converged(&clean, &users, 3).await;
    assert!(expected.2 > 50, "{} messages only", expected.2);

    // `Retry-After: 0` on the injected 429s and 503s leaves the wait to the backoff above.
    let faults: FaultSpec = "429=0.3,503=0.05,504=0.05,expired-delta=0.05,retry-after=0"
        .parse()
        .unwrap();
    let (faulty, users2) = env(21, faults).await;
    assert_eq!(users, users2);
    // 5% CRM.interface server errors on top: every 20th request answers 511.
    let stop = Arc::new(AtomicBool::new(false));
    let injector = {
        let crm = faulty.demo.crm.clone().unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let n = crm.stats().requests;
                if n / 20 > last / 20 {
                    crm.fail_next(1, 511, "SERVER_FAILURE");
                }
                last = n;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let (got, runs) = run_until_converged(&faulty, &users2, 12).await;
    stop.store(true, Ordering::Relaxed);
    injector.await.unwrap();
    eprintln!("converged after {runs} run(s)");
    assert_eq!(got.0, expected.0, "folder counts differ");
    assert_eq!(got.2, expected.2, "number of filed messages differs");
    assert_eq!(got.1, expected.1, "activities differ");
}
