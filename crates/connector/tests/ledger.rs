//! `graph-connector ledger`: after a sync, every decision can be searched and exported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::Env;
use gc_sandbox::SandboxOptions;
use serde_json::Value;

fn run(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

async fn run_async(config: &Path, args: &[&str]) -> (i32, String, String) {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&config, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_can_be_searched_and_exported() {
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 6,
            ..SandboxOptions::default()
        },
        "",
    )
    .await;
    let filed = env.file_all_inbox(3);
    let total: usize = filed.values().sum();
    assert!(total > 0);
    let config = env.config_path();

    let (code, _, err) = run_async(&config, &["sync", "--once", "--json"]).await;
    assert_eq!(code, 0, "{err}");

    // Everything filed is in the ledger as created or adopted.
    let (code, out, err) =
        run_async(&config, &["ledger", "show", "--json", "--limit", "1000"]).await;
    assert_eq!(code, 0, "{err}");
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let filed_entries = entries
        .iter()
        .filter(|e| e["action"] == "created" || e["action"] == "adopted")
        .count();
    assert!(filed_entries > 0, "{out}");

    // Filter by mailbox address and action.
    let mailbox = filed
        .iter()
        .find(|(_, n)| **n > 0)
        .map(|(m, _)| m.clone())
        .unwrap();
    let (code, out, err) = run_async(
        &config,
        &[
            "ledger",
            "show",
            "--json",
            "--mailbox",
            &mailbox,
            "--action",
            "created",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let mine: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(mine.iter().all(|e| e["action"] == "created"), "{out}");
    assert!(mine.len() <= filed_entries);

    // The export is one JSON object per line, as many as the store holds.
    let (code, out, err) = run_async(&config, &["ledger", "export"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), entries.len());
    assert!(
        err.contains(&format!("exported {} ledger entries", lines.len())),
        "{err}"
    );

    // Bad filters are explained.
    let (code, _, err) = run_async(&config, &["ledger", "show", "--action", "exploded"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("unknown action; write one of"), "{err}");
    let (code, _, err) = run_async(
        &config,
        &["ledger", "show", "--mailbox", "nobody@nowhere.example"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("no mailbox nobody@nowhere.example"), "{err}");

    // Retention keeps what is younger than the configured days.
    let (code, out, err) = run_async(&config, &["ledger", "purge"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed 0 ledger entries"), "{out}");
}
