//! Round trips of e-mail filing, counted by the sandbox's request counter (`/_sandbox/stats`):
//! Graph requests per mailbox of an idle cycle, and CRM.interface requests per filed message.
//!
//! Every scenario starts from a fresh sandbox tenant with the same seed (served by this
//! process, `BENCH_LATENCY_MS` added to every request, default 50), files every Inbox message
//! of its mailboxes into the sync folder and runs `graph-connector sync --once` as a child
//! process three times: the first files (CRM requests per message, seconds), the second comes
//! right after it (the first one's moves out of the sync folders are behind its delta links:
//! Graph requests per mailbox), the third is idle (Graph requests per mailbox). With
//! `BENCH_BASELINE_BIN=/path/to/graph-connector` (an older build that knows the same settings:
//! any since `[crm.dialect] child_records`) every scenario also runs it on an identical fresh
//! tenant, and the table shows both figures and their ratio.
//!
//! `cargo bench -p graph-connector --bench round_trips` (`BENCH_USERS` sandbox users, default
//! 27, which are 20 mailboxes filing e-mails;
//! `BENCH_MESSAGES` Inbox messages per mailbox, default 10). The counts do not depend on the
//! build profile. Figures and their reading: docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Instant;

use gc_sandbox::SandboxOptions;
use graph_connector::commands::demo::start_sandbox_with;

const SYNC: &str = "Inbox/crm";

/// The other kinds off, as in the e-mail throughput benchmark.
const EMAIL_ONLY: &str = "\n[appointments]\nenabled = false\n\n[tasks]\nenabled = false\n\n\
    [contacts]\nenabled = false\n\n[absences]\nenabled = false\n";

struct Outcome {
    mailboxes: usize,
    filed: u64,
    filing_seconds: f64,
    crm_per_message: f64,
    graph_per_message: f64,
    after_filing_graph_per_mailbox: f64,
    idle_graph_per_mailbox: f64,
    idle_crm_per_mailbox: f64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sync_once(bin: &str, config: &std::path::Path) -> serde_json::Value {
    let out = Command::new(bin)
        .args(["sync", "--once", "--json", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sync --once failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn stats(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/_sandbox/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reset(url: &str) {
    reqwest::Client::new()
        .post(format!("{url}/_sandbox/stats/reset"))
        .send()
        .await
        .unwrap();
}

async fn scenario(bin: &str, users: usize, messages: usize, extra_toml: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let opts = SandboxOptions {
        // one member user of the sandbox has no mailbox, and not every rep files e-mails
        users,
        seed: 15,
        messages_per_mailbox: messages,
        latency_ms: env_usize("BENCH_LATENCY_MS", 50) as u64,
        ..SandboxOptions::default()
    };
    let demo = start_sandbox_with(opts, dir.path(), false).await.unwrap();
    let mut text = std::fs::read_to_string(&demo.config_path).unwrap();
    text.push('\n');
    text.push_str(extra_toml);
    // Round trips of the sync itself: the first-sync review (which plans a first sync once
    // before running it) is off, as it was for the figures in docs/PERFORMANCE.md.
    text.push_str("\n[mailboxes]\nconfirm_first_sync_above = 0\n");
    std::fs::write(&demo.config_path, text).unwrap();
    let st = demo.sandbox.state();
    let users: Vec<String> = demo
        .sandbox
        .directory()
        .mailbox_users()
        .map(|p| p.email.clone())
        .collect();
    for u in &users {
        for m in st.messages(u, "inbox").unwrap_or_default() {
            st.file_message(u, &m.immutable_id, SYNC).unwrap();
        }
    }
    let url = demo.sandbox.url();
    reset(&url).await;
    let started = Instant::now();
    let first = sync_once(bin, &demo.config_path);
    let filing_seconds = started.elapsed().as_secs_f64();
    let filing = stats(&url).await;
    let rows = first["mailboxes"].as_array().unwrap();
    let filed: u64 = rows
        .iter()
        .map(|m| m["created"].as_u64().unwrap() + m["adopted"].as_u64().unwrap())
        .sum();
    reset(&url).await;
    sync_once(bin, &demo.config_path);
    let after_filing = stats(&url).await;
    reset(&url).await;
    sync_once(bin, &demo.config_path);
    let idle = stats(&url).await;
    let n = rows.len() as f64;
    let count = |v: &serde_json::Value, side: &str| v[side]["total"].as_u64().unwrap() as f64;
    Outcome {
        mailboxes: rows.len(),
        filed,
        filing_seconds,
        crm_per_message: count(&filing, "crm") / filed.max(1) as f64,
        graph_per_message: count(&filing, "graph") / filed.max(1) as f64,
        after_filing_graph_per_mailbox: count(&after_filing, "graph") / n,
        idle_graph_per_mailbox: count(&idle, "graph") / n,
        idle_crm_per_mailbox: count(&idle, "crm") / n,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // 27 sandbox users (seed 15) are 20 mailboxes that file e-mails.
    let users = env_usize("BENCH_USERS", 27);
    let messages = env_usize("BENCH_MESSAGES", 10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // (name, configuration). The baseline binary gets the same configuration: it must know
    // `child_records` and the kinds' sections (any build since issue 15's nested records).
    let scenarios = [
        (
            "child_records = separate",
            "[emails]\nattachments = \"none\"\n\n[crm.dialect]\nchild_records = \"separate\"\n",
        ),
        (
            "child_records = nested (default)",
            "[emails]\nattachments = \"none\"\n",
        ),
        (
            "nested, attachments = limited (1 MB)",
            "[emails]\nattachments = \"limited\"\nmax_attachment_kb = 1024\n",
        ),
    ];
    let this = env!("CARGO_BIN_EXE_graph-connector");
    let baseline_bin = std::env::var("BENCH_BASELINE_BIN").ok();
    println!(
        "sync --once on a sandbox tenant of {users} users, {messages} Inbox messages each filed into {SYNC}; \
         latency {} ms per request",
        env_usize("BENCH_LATENCY_MS", 50)
    );
    if let Some(b) = &baseline_bin {
        println!("baseline binary: {b}");
    }
    println!(
        "| scenario | binary | mailboxes | filed | filing s | CRM req/msg | Graph req/msg | Graph req/mailbox right after | idle Graph req/mailbox | idle CRM req/mailbox |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let row = |name: &str, which: &str, o: &Outcome| {
        println!(
            "| {name} | {which} | {} | {} | {:.1} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} |",
            o.mailboxes,
            o.filed,
            o.filing_seconds,
            o.crm_per_message,
            o.graph_per_message,
            o.after_filing_graph_per_mailbox,
            o.idle_graph_per_mailbox,
            o.idle_crm_per_mailbox
        );
    };
    for (name, toml) in scenarios {
        // E-mail only: the other kinds' requests are not the e-mail job's.
        let toml = format!("{toml}{EMAIL_ONLY}");
        let o = rt.block_on(scenario(this, users, messages, &toml));
        row(name, "this", &o);
        if let Some(b) = baseline_bin.as_deref() {
            let base = rt.block_on(scenario(b, users, messages, &toml));
            assert_eq!(
                base.filed, o.filed,
                "{name}: both binaries must file the same"
            );
            row(name, "baseline", &base);
            println!(
                "| {name} | baseline / this | | | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
                base.filing_seconds / o.filing_seconds,
                base.crm_per_message / o.crm_per_message,
                base.graph_per_message / o.graph_per_message,
                base.after_filing_graph_per_mailbox / o.after_filing_graph_per_mailbox,
                base.idle_graph_per_mailbox / o.idle_graph_per_mailbox,
                base.idle_crm_per_mailbox / o.idle_crm_per_mailbox.max(f64::MIN_POSITIVE)
            );
        }
    }
}
