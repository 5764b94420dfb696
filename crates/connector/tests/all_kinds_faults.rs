//! Fault runs of all five kinds together: e-mails, appointments, tasks, contacts and absences
//! with 30% throttling, 10% 5xx (Graph and CRM.interface alike) and 5% CRM.interface server
//! errors on top converge to the same final state, per kind, as a fault-free run on an
//! identical sandbox; nothing is duplicated on the way.
//!
//! Converged means a cycle left nothing for the next one ([`settled`]): a run called off
//! midway (its lease lost, which a starved machine's one-second leases make likely) counts
//! nothing delayed, yet what it had begun is only finished by the next run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::Env;
use common::all_kinds::{self, KindsState, waiting};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{FaultSpec, SandboxOptions, SeenRequest, Target, Tripwire, When};
use gc_store::Kind;
use gc_sync::{MailboxOutcome, NoProgress, SyncReport};
use graph_connector::commands::sync::Runtime;

/// Fast retries: requests back off for a tenth of a second (doubled up to two tenths), and a
/// delayed item is tried again in the next run (`item_retry_minutes = 0`), so convergence is
/// counted in runs, not minutes.
const FAST_RETRIES: &str = "[errors]\nmax_retries = 10\ninitial_backoff_seconds = 0.1\nmax_backoff_seconds = 0.2\nitem_retry_minutes = 0\n";

const KINDS: [Kind; 5] = [
    Kind::Email,
    Kind::Appointment,
    Kind::Task,
    Kind::Contact,
    Kind::Absence,
];

/// Whether a cycle left nothing for the next one: no message waiting in the sync folders
/// (`left`), no item of any kind delayed, and every mailbox run complete
/// ([`common::every_run_complete`]; an occurrence's record whose commit a called-off run
/// missed looks like a duplicate until the next run adopts it).
fn settled(report: &anyhow::Result<SyncReport>, left: usize) -> bool {
    let Ok(r) = report else { return false };
    left == 0 && KINDS.iter().all(|k| r.total(*k).delayed == 0) && common::every_run_complete(r)
}

/// Cycles until a cycle leaves no message in the sync folders, delays nothing of any kind and
/// completes every mailbox run ([`settled`]); then the faults stop and the final state is
/// read.
async fn run_until_converged(env: &Env, rt: &Runtime, max_runs: usize) -> (KindsState, usize) {
    let users = env.enabled_users().await;
    let mut runs = 0;
    loop {
        runs += 1;
        let report = rt.cycle(None, &NoProgress, &Default::default()).await;
        let left = waiting(env, &users);
        if let Ok(r) = &report {
            for m in r
                .mailboxes
                .iter()
                .filter(|m| m.outcome != MailboxOutcome::Complete)
            {
                eprintln!(
                    "run {runs}: {} {}: {:?} ({})",
                    m.mailbox,
                    m.kind,
                    m.outcome,
                    m.error.as_deref().unwrap_or_default()
                );
            }
        }
        if settled(&report, left) {
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
    let rt = Runtime::build(&clean.config()).await.unwrap();
    let (expected, _) = run_until_converged(&clean, &rt, 3).await;
    eprintln!("fault-free: {:?}", expected.sizes());
    for (kind, n) in expected.sizes() {
        assert!(n > 0, "{kind}: nothing synchronized in the fault-free run");
    }

    // 30% throttling, 10% 5xx. Their `Retry-After: 0` leaves the wait to the backoff above:
    // what is tested is that every fault is survived, not how long Graph asks to wait (with
    // the sandbox's default of up to a second, this test took six minutes).
    let faults: FaultSpec = "429=0.3,503=0.05,504=0.05,retry-after=0".parse().unwrap();
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
    let rt = Runtime::build(&faulty.config()).await.unwrap();
    let (got, runs) = run_until_converged(&faulty, &rt, 15).await;
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

/// A cycle whose appointments runs are called off right after the CRM write of an
/// occurrence's record and before its commit (their leases lost, as a starved process's
/// one-second leases lapse) delays nothing and fails no mailbox, yet that record is named
/// only by the item's intent, and its key (the series' `iCalUId` and the original start) by
/// no event, so it looks like a duplicate: such a cycle is not convergence. The next cycle
/// settles the write (the record adopted by its key); nothing is duplicated.
///
/// No latency is needed: the trip wire picks the occurrence's insert by its contents, armed
/// before the first cycle, so the cut lands on it however fast the machine runs the cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_called_off_after_a_crm_write_is_finished_by_the_next_cycle() {
    let env = all_kinds::start(
        SandboxOptions {
            users: 2,
            seed: 71,
            messages_per_mailbox: 2,
            ..SandboxOptions::default()
        },
        FAST_RETRIES,
    )
    .await;
    let rt = Runtime::build(&env.config()).await.unwrap();
    let crm = env.demo.crm.clone().unwrap();
    let dl = env.crm().dialect().clone();
    // The activity insert that writes an occurrence's record: the external key nested in it
    // has the original start after a `#`. The predicate keeps the key it chose (the wire
    // counts chosen requests one at a time and fires on the first, so the first key kept is
    // the one cut).
    let chosen = Arc::new(OnceLock::<String>::new());
    let select = {
        let chosen = chosen.clone();
        let (activity, xk, ext_key) = (
            dl.activity.table.clone(),
            dl.external_key.table.clone(),
            dl.external_key.ext_key.clone(),
        );
        move |r: &SeenRequest<'_>| {
            let key = r
                .crm_records()
                .filter(|rec| {
                    rec.table().eq_ignore_ascii_case(&xk)
                        && rec
                            .parent_table()
                            .is_some_and(|p| p.eq_ignore_ascii_case(&activity))
                })
                .find_map(|rec| rec.field(&ext_key))
                .filter(|k| k.contains('#'));
            key.inspect(|k| {
                let _ = chosen.set((*k).to_owned());
            })
            .is_some()
        }
    };
    // Before the cut answer goes out (the connector hears of nothing meanwhile), the
    // appointments runs lose their leases; the CRM client sends the insert again after its
    // backoff (a tenth of a second) and gets the stored answer (CRM.interface's duplicate
    // protection), and the run that wrote the record is called off at its commit.
    let release = {
        let store = rt.store.clone();
        move || {
            let suffix = format!("/{}", Kind::Appointment);
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    for l in store.list_leases().await.unwrap() {
                        if l.key.ends_with(&suffix) {
                            store.release_lease(&l.fence()).await.unwrap();
                        }
                    }
                })
            });
        }
    };
    let wire = crm.monitor().arm_tripwire_where(
        Tripwire {
            target: Target::Crm {
                command: Some(CrmCommand::Insert),
                table: Some(dl.activity.table.clone()),
            },
            nth: 1,
            when: When::BeforeResponse,
        },
        select,
        release,
    );
    let (_, runs) = run_until_converged(&env, &rt, 4).await;
    assert!(wire.fired(), "no occurrence's record was inserted");
    let key = chosen.get().unwrap();
    // One record under that key (nothing duplicated), written by the cut insert.
    let cut: Vec<u64> = crm
        .records(&dl.external_key.table)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.fields.get(&dl.external_key.ext_key) == Some(key))
        .flat_map(|k| k.links)
        .filter(|(t, _)| t.eq_ignore_ascii_case(&dl.activity.table))
        .map(|(_, id)| id)
        .collect();
    let [cut] = cut[..] else {
        panic!("{key}: activities {cut:?}")
    };
    eprintln!("the commit of activity {cut} ({key}) was called off; converged after {runs} run(s)");
    assert!(runs >= 2, "the called-off cycle counted as converged");
    // The run called off never committed the record; a later one adopted it by its key.
    let entries = rt
        .store
        .query_ledger(&gc_store::LedgerFilter {
            crm_id: Some(gc_store::CrmId(cut)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == gc_store::LedgerAction::Adopted),
        "activity {cut}: {entries:#?}"
    );
}
