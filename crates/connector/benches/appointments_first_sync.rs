//! First sync of appointments (issue 13): 20 mailboxes with 200 generated events each in the
//! window, on the sandbox with Graph 50 ms and CRM.interface 20 ms latency per request.
//!
//! A fresh sandbox tenant (seed 15; 27 users = 20 mailboxes whose reps sync appointments)
//! gets `BENCH_EVENTS` single events (default 200) in every mailbox's calendar, spread over the
//! days of the window (`POST /_sandbox/mailboxes/{user}/events/generate`), next to the seeded
//! calendar (meetings shared by several reps, series, all-day and private events). Then
//! `graph-connector sync --once` runs three times as a child process with only `[appointments]`
//! enabled (`days_past = days_future = 7`): the first is the first sync (seconds, events per
//! second, Graph and CRM requests per event), the second sees what the first wrote, the third
//! is the steady state when nothing changed (requests per mailbox).
//!
//! `cargo bench -p graph-connector --bench appointments_first_sync` (`BENCH_USERS`, default
//! 27; `BENCH_EVENTS`, default 200; `BENCH_GRAPH_MS`, default 50; `BENCH_CRM_MS`, default 20).
//! Figures: docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use gc_sandbox::{RequestStats, SandboxOptions};
use support::{Tenant, env_usize};

const CONFIG: &str = "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 7\n\n\
    [emails]\nenabled = false\n\n[tasks]\nenabled = false\n\n\
    [contacts]\nenabled = false\n\n[absences]\nenabled = false\n";

struct Cycle {
    seconds: f64,
    mailboxes: usize,
    created: u64,
    adopted: u64,
    updated: u64,
    unchanged: u64,
    skipped: u64,
    failed: u64,
    delayed: u64,
    stats: RequestStats,
}

fn cycle(t: &Tenant) -> Cycle {
    t.sandbox.reset_stats();
    let (report, seconds) =
        support::sync_once(env!("CARGO_BIN_EXE_graph-connector"), &t.config_path);
    let sum = |f: &str| support::report_sum(&report, f);
    Cycle {
        seconds,
        mailboxes: report["mailboxes"].as_array().unwrap().len(),
        created: sum("created"),
        adopted: sum("adopted"),
        updated: sum("updated"),
        unchanged: sum("unchanged"),
        skipped: sum("skipped"),
        failed: sum("failed"),
        delayed: sum("delayed"),
        stats: t.sandbox.stats(),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let users = env_usize("BENCH_USERS", 27);
    let events = env_usize("BENCH_EVENTS", 200);
    let graph_ms = env_usize("BENCH_GRAPH_MS", 50) as u64;
    let crm_ms = env_usize("BENCH_CRM_MS", 20) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (seeded, cycles) = rt.block_on(async {
        let opts = SandboxOptions {
            users,
            seed: 15,
            latency_ms: graph_ms,
            mailbox_budget: u32::MAX,
            ..SandboxOptions::default()
        };
        let t = Tenant::start(opts, crm_ms, CONFIG).await;
        let st = t.sandbox.state();
        let mut seeded = 0;
        for u in t.mailbox_users() {
            seeded += st.event_count(&u).unwrap();
            st.generate_events(&u, events, 7, 7).unwrap();
        }
        let cycles: Vec<Cycle> = (0..3).map(|_| cycle(&t)).collect();
        (seeded, cycles)
    });
    println!(
        "appointments, sync --once three times: {users} sandbox users, {events} generated events per mailbox \
         (plus {seeded} seeded events and series in all calendars); Graph {graph_ms} ms, CRM.interface {crm_ms} ms per request"
    );
    println!(
        "| cycle | mailboxes | seconds | created | adopted | updated | unchanged | skipped | failed | delayed | events/s | Graph req | Graph req/event (mailbox slots) | CRM req | CRM req/event | Graph req/mailbox | CRM req/mailbox |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, c) in cycles.iter().enumerate() {
        let written = c.created + c.adopted;
        let per_event = |n: u64| {
            if written == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", n as f64 / written as f64)
            }
        };
        let n = c.mailboxes.max(1) as f64;
        let name = ["first sync", "second", "steady state (nothing changed)"][i];
        println!(
            "| {name} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {:.2} | {:.2} |",
            c.mailboxes,
            c.seconds,
            c.created,
            c.adopted,
            c.updated,
            c.unchanged,
            c.skipped,
            c.failed,
            c.delayed,
            written as f64 / c.seconds,
            support::graph_total(&c.stats),
            per_event(support::graph_mailbox_requests(&c.stats)),
            support::crm_total(&c.stats),
            per_event(support::crm_total(&c.stats)),
            support::graph_total(&c.stats) as f64 / n,
            support::crm_total(&c.stats) as f64 / n,
        );
    }
    let first = &cycles[0];
    println!(
        "\nfirst sync, Graph requests by resource: {:?}",
        first.stats.graph.by_resource
    );
    println!(
        "first sync, Graph requests inside $batch: {:?}",
        first.stats.graph.in_batch
    );
    println!("first sync, CRM commands: {:?}", first.stats.crm.by_command);
    println!(
        "first sync, CRM records written by table: {:?}",
        first.stats.crm.written_by_table
    );
    let idle = &cycles[2];
    println!(
        "steady state, Graph requests by resource: {:?}",
        idle.stats.graph.by_resource
    );
    println!(
        "steady state, CRM commands: {:?}",
        idle.stats.crm.by_command
    );
}
