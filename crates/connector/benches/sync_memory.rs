//! Peak memory of `graph-connector sync --once`, measured on the binary as an administrator
//! runs it: a sandbox tenant (served by this process) with 20 mailboxes whose Inbox messages
//! are all filed into the sync folder, among them the sandbox's 12 MB attachments, then one
//! `sync --once` child process under `/usr/bin/time`, whose maximum resident set size is the
//! figure. Every scenario starts from a fresh tenant with the same seed, so the results
//! (activities, documents, bytes stored) are comparable side by side.
//!
//! `cargo bench -p graph-connector --bench sync_memory` (`BENCH_MAILBOXES`, `BENCH_MESSAGES`
//! change the size). With `BENCH_BASELINE_BIN=/path/to/graph-connector` (an older build) every
//! scenario also runs that binary on an identical fresh tenant, and the table shows both peaks
//! and their ratio. Figures and their reading: docs/PERFORMANCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Instant;

use gc_sandbox::SandboxOptions;
use graph_connector::commands::demo::start_sandbox_with;

const SYNC: &str = "Inbox/crm";

struct Outcome {
    max_rss_mb: f64,
    seconds: f64,
    activities: usize,
    documents: usize,
    document_mb: f64,
    biggest_document_mb: f64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn scenario(bin: &str, mailboxes: usize, messages: usize, extra_toml: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let opts = SandboxOptions {
        // one member user of the sandbox has no mailbox
        users: mailboxes + 1,
        seed: 7,
        messages_per_mailbox: messages,
        ..SandboxOptions::default()
    };
    let demo = start_sandbox_with(opts, dir.path(), false).await.unwrap();
    let mut text = std::fs::read_to_string(&demo.config_path).unwrap();
    text.push('\n');
    text.push_str(extra_toml);
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
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss_kb=%M")
        .arg(bin)
        .args(["sync", "--once", "--config"])
        .arg(&demo.config_path)
        .env("RUST_LOG", "warn")
        .output()
        .expect("/usr/bin/time (Debian package `time`) runs the connector");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sync --once failed: {}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let max_rss_kb: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .expect("maxrss in /usr/bin/time's output");
    let records = |table: &str| {
        let url = format!("{}/_sandbox/crm/records/{table}", demo.sandbox.url());
        async move {
            let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            v.as_array().cloned().unwrap_or_default()
        }
    };
    let activities = records("Contact").await.len();
    let docs = records("Document").await;
    let sizes: Vec<f64> = docs
        .iter()
        .filter_map(|d| {
            d["fields"]
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("size"))
                .and_then(|(_, v)| v.as_str()?.parse::<f64>().ok())
        })
        .collect();
    Outcome {
        max_rss_mb: max_rss_kb / 1024.0,
        seconds,
        activities,
        documents: docs.len(),
        document_mb: sizes.iter().fold(0.0, |a, b| a + b) / 1024.0 / 1024.0,
        biggest_document_mb: sizes.iter().copied().fold(0.0, f64::max) / 1024.0 / 1024.0,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mailboxes = env_usize("BENCH_MAILBOXES", 20);
    let messages = env_usize("BENCH_MESSAGES", 40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let scenarios = [
        ("attachments = none", "[emails]\nattachments = \"none\"\n"),
        (
            "attachments = all, budget 16 MB (default)",
            "[emails]\nattachments = \"all\"\n",
        ),
        (
            "attachments = all, budget 64 MB",
            "[emails]\nattachments = \"all\"\n[mailboxes]\nmemory_budget_mb = 64\n",
        ),
        (
            "whole message (.eml up to 25 MB)",
            "[emails]\nwhole_message = true\n",
        ),
    ];
    let this = env!("CARGO_BIN_EXE_graph-connector");
    let baseline_bin = std::env::var("BENCH_BASELINE_BIN").ok();
    println!(
        "sync --once of {mailboxes} sandbox mailboxes, {messages} messages each filed into {SYNC}"
    );
    if let Some(b) = &baseline_bin {
        println!("baseline binary: {b}");
        println!(
            "| scenario | baseline peak RSS (MB) | peak RSS (MB) | baseline / this | seconds (baseline, this) | activities | documents | document MB | biggest (MB) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
    } else {
        println!(
            "| scenario | peak RSS (MB) | ratio to none | seconds | activities | documents | document MB | biggest (MB) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
    }
    let mut none = None;
    for (name, toml) in scenarios {
        let o = rt.block_on(scenario(this, mailboxes, messages, toml));
        // What this binary filed, the same in both tables.
        let filed = format!(
            "{} | {} | {:.1} | {:.1}",
            o.activities, o.documents, o.document_mb, o.biggest_document_mb
        );
        let Some(b) = &baseline_bin else {
            let base = *none.get_or_insert(o.max_rss_mb);
            println!(
                "| {name} | {:.1} | {:.2} | {:.1} | {filed} |",
                o.max_rss_mb,
                o.max_rss_mb / base,
                o.seconds
            );
            continue;
        };
        // (an older binary may not know the newer settings)
        if toml.contains("memory_budget") {
            println!(
                "| {name} | - | {:.1} | - | -, {:.1} | {filed} |",
                o.max_rss_mb, o.seconds
            );
            continue;
        }
        let base = rt.block_on(scenario(b, mailboxes, messages, toml));
        assert_eq!(
            (base.activities, base.documents),
            (o.activities, o.documents),
            "{name}: both binaries must file the same"
        );
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} | {:.1}, {:.1} | {filed} |",
            base.max_rss_mb,
            o.max_rss_mb,
            base.max_rss_mb / o.max_rss_mb,
            base.seconds,
            o.seconds
        );
    }
}
