//! `graph-connector run` as a child process against the sandbox: a message filed after the
//! start lands in CRM; `/metrics` parses as Prometheus text; SIGTERM during a busy run stops
//! the process with nothing lost (the next `run` completes the rest); `[logging]` is honoured
//! and SIGHUP reloads the configuration.
//!
//! Deadlines below are generous upper bounds for a loaded CI machine; no test asserts speed.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

use common::service::{Run, eventually, free_port, http, message, run_log, store_of};
use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_files_messages_filed_after_start_and_exports_metrics() {
    let port = free_port();
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 3,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let mut run = Run::start(&env.config_path(), &[]);
    let client = http();

    // Up, with the mailbox list read and every mailbox run once.
    let rows: Vec<serde_json::Value> = eventually("every mailbox ran", 60, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/mailboxes");
        async move {
            let rows: Vec<serde_json::Value> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            (!rows.is_empty() && rows.iter().all(|r| !r["last_run"].is_null())).then_some(rows)
        }
    })
    .await;
    let user = env.enabled_users().await[0].clone();
    let row = rows.iter().find(|r| r["mailbox"] == user.as_str()).unwrap();
    for key in [
        "mailbox",
        "kind",
        "state",
        "last_success",
        "next_due",
        "last_error",
    ] {
        assert!(row.get(key).is_some(), "{key} missing in {row}");
    }
    assert_eq!(row["kind"], "email");
    assert_eq!(row["state"], "ok");
    let health: serde_json::Value = client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true, "{health}");
    assert!(health["checks"].as_array().unwrap().len() >= 5);

    // A message filed now lands in CRM by itself.
    let subject = "Filed while the service runs";
    env.demo
        .sandbox
        .state()
        .deliver(&user, message(subject, &user))
        .unwrap();
    let filed_at = Instant::now();
    eventually("the activity in CRM", 60, Some(&mut run), || async {
        env.email_activities()
            .await
            .iter()
            .any(|a| a.get("Subject") == Some(subject))
            .then_some(())
    })
    .await;
    eprintln!("filed message in CRM after {:?}", filed_at.elapsed());
    // The ledger entry is committed right after the CRM write: on a busy machine the API may
    // answer in between, so it is asked until it has the entry.
    eventually("the ledger's created entry", 30, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/ledger?mailbox={user}&action=created");
        async move {
            let entries: Vec<serde_json::Value> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            entries
                .iter()
                .any(|e| e["detail"]["subject"] == subject)
                .then_some(())
        }
    })
    .await;

    // /metrics in the Prometheus text format, by a parser. The item is counted when it is
    // finished (after its move), which on a busy machine may come after the ledger entry
    // above: scraped until it is.
    let scrape = eventually(
        "the filed item counted in /metrics",
        30,
        Some(&mut run),
        || {
            let client = client.clone();
            let url = format!("{base}/metrics");
            async move {
                let text = client.get(url).send().await.ok()?.text().await.ok()?;
                let scrape =
                    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
                        .unwrap();
                scrape
                    .samples
                    .iter()
                    .any(|s| {
                        s.metric == "graph_connector_items_total"
                            && s.labels.get("kind") == Some("email")
                            && s.labels.get("action") == Some("created")
                    })
                    .then_some(scrape)
            }
        },
    )
    .await;
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .reduce(|a, b| a + b)
    };
    assert!(
        value(
            "graph_connector_items_total",
            &[("kind", "email"), ("action", "created")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(value("graph_connector_requests_total", &[("side", "graph")]).unwrap() > 0.0);
    assert!(
        value(
            "graph_connector_requests_total",
            &[("side", "crm"), ("status", "ok")]
        )
        .unwrap()
            > 0.0
    );
    assert!(
        value(
            "graph_connector_runs_total",
            &[("kind", "email"), ("outcome", "success")]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(value("graph_connector_tenant_up", &[]), Some(1.0));
    assert!(value("graph_connector_mailboxes", &[("state", "ok")]).unwrap() >= 1.0);
    assert_eq!(value("graph_connector_build_info", &[]), Some(1.0));
    assert!(
        scrape.samples.iter().any(|s| s.metric
            == "graph_connector_store_operation_duration_seconds_count"
            || s.metric == "graph_connector_store_operation_duration_seconds"),
        "store latency histogram missing"
    );
    for s in &scrape.samples {
        assert!(s.metric.starts_with("graph_connector_"), "{}", s.metric);
    }
    for (name, _) in scrape.docs.iter() {
        assert!(name.starts_with("graph_connector_"), "{name}");
    }
    // Counters end in _total (the parser types them from the TYPE lines).
    for s in &scrape.samples {
        if matches!(s.value, prometheus_parse::Value::Counter(_)) {
            assert!(s.metric.ends_with("_total"), "{}", s.metric);
        }
    }

    // Pause from the command line: the table says so; resume through the API.
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["mailbox", "pause", "--mailbox", &user, "--config"])
        .arg(env.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = rows.iter().find(|r| r["mailbox"] == user.as_str()).unwrap();
    assert_eq!(row["state"], "paused", "{row}");
    assert_eq!(row["paused"], true);
    // The API wants the CSRF token of a session (or the bearer token, when one is set).
    let refused = client
        .post(format!("{base}/api/mailboxes/{user}/resume"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let session = client
        .get(format!("{base}/api/session"))
        .send()
        .await
        .unwrap();
    let cookie = session
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf: serde_json::Value = session.json().await.unwrap();
    let resumed = client
        .post(format!("{base}/api/mailboxes/{user}/resume"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf["csrf"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let store = store_of(&env).await;
    let m = store
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap();
    assert!(!m.is_paused(Kind::Email));

    let (ok, took) = run.term().await;
    eprintln!("idle service stopped {took:?} after SIGTERM");
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_busy_run_loses_nothing() {
    let port = free_port();
    let env = Env::start_with(
        SandboxOptions {
            users: 5,
            seed: 21,
            messages_per_mailbox: 30,
            latency_ms: 40,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
        true,
    )
    .await;
    let enabled = env.enabled_users().await;
    let filed = env.file_all_inbox(usize::MAX);
    let total: usize = filed
        .iter()
        .filter(|(u, _)| enabled.contains(u))
        .map(|(_, n)| n)
        .sum();
    let store = store_of(&env).await;
    let created = |store: std::sync::Arc<dyn StateStore>| async move {
        store
            .query_ledger(&LedgerFilter {
                action: Some(LedgerAction::Created),
                ..Default::default()
            })
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    };

    let mut run = Run::start(&env.config_path(), &["--shutdown-timeout", "3"]);
    eventually("the first filed message", 90, Some(&mut run), || {
        let store = store.clone();
        async move { (created(store).await > 0).then_some(()) }
    })
    .await;
    let (ok, took) = run.term().await;
    let left: usize = enabled.iter().map(|u| env.count(u, SYNC)).sum();
    eprintln!(
        "busy service stopped {took:?} after SIGTERM; {left} of {total} messages still to file"
    );
    assert!(ok, "exit status after SIGTERM");

    // The next `run` completes the rest.
    let mut run = Run::start(&env.config_path(), &[]);
    eventually("every sync folder empty", 180, Some(&mut run), || async {
        (enabled.iter().map(|u| env.count(u, SYNC)).sum::<usize>() == 0).then_some(())
    })
    .await;
    let (ok, _) = run.term().await;
    assert!(ok);

    for u in &enabled {
        let n = filed.get(u).copied().unwrap_or(0);
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"))
            + env.count(u, &format!("{SYNC}/Sync_Failure"));
        assert_eq!(moved, n, "{u}: {n} filed, {moved} moved");
    }
    let f = final_state(&*store).await;
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: {ids:?}");
    }
    let ours: BTreeSet<u64> = f.by_key.values().flat_map(|(_, ids)| ids.clone()).collect();
    let acts: Vec<u64> = env
        .email_activities()
        .await
        .iter()
        .map(|a| a.id.get())
        .filter(|id| id >> 32 == 2)
        .collect();
    let failed_ids: BTreeSet<u64> = f.failed_with_activity.iter().map(|(_, id)| *id).collect();
    for id in &acts {
        assert!(
            ours.contains(id) || failed_ids.contains(id),
            "activity {id} is not linked: a duplicate"
        );
    }
    assert_eq!(decisions(&*store).await.len(), total);
}

/// `[logging]` decides level and format (no RUST_LOG here); SIGHUP reloads the configuration,
/// and an invalid file on SIGHUP leaves the running service alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_follows_the_configuration_and_sighup_reloads_it() {
    let port = free_port();
    let env = Env::start(
        SandboxOptions {
            users: 3,
            messages_per_mailbox: 1,
            ..SandboxOptions::default()
        },
        &format!(
            "[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [logging]\nlevel = \"debug\"\nformat = \"json\"\n"
        ),
    )
    .await;
    let user = env.enabled_users().await[0].clone();
    let mut run = Run::start_with_log(&env.config_path(), &[], None);
    let client = http();
    let health = |port: u16| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{port}/api/health"))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        }
    };
    eventually("the admin server", 60, Some(&mut run), || health(port)).await;
    env.demo
        .sandbox
        .state()
        .deliver(&user, message("Logged at debug level", &user))
        .unwrap();
    let lines: Vec<serde_json::Value> =
        eventually("the item's debug line", 60, Some(&mut run), || {
            let text = run_log(&env);
            async move {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    // The last line may be half written.
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                lines
                    .iter()
                    .any(|l| l["fields"]["message"] == "item" && l["fields"]["action"] == "created")
                    .then_some(lines)
            }
        })
        .await;
    let item = lines
        .iter()
        .find(|l| l["fields"]["message"] == "item")
        .unwrap();
    assert_eq!(item["level"], "DEBUG");
    let runs: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "run")
        .collect();
    assert!(!runs.is_empty());
    assert!(
        runs.iter()
            .all(|l| l["level"] == "INFO" && l["fields"]["mailbox"].is_string())
    );

    // SIGHUP with an invalid file: reported, the service goes on.
    let good = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        good.replace("interval_minutes = 0", "interval_minutes = \"x\""),
    )
    .unwrap();
    run.signal("-HUP");
    eventually("the refusal in the log", 30, Some(&mut run), || {
        let text = run_log(&env);
        async move { text.contains("was not reloaded").then_some(()) }
    })
    .await;
    health(port).await.expect("still serving");
    // SIGHUP with a valid new file: the service restarts with it (admin on its new port).
    let port2 = free_port();
    std::fs::write(
        env.config_path(),
        good.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{port2}")),
    )
    .unwrap();
    run.signal("-HUP");
    eventually(
        "the admin server on its new address",
        60,
        Some(&mut run),
        || health(port2),
    )
    .await;
    assert!(run_log(&env).contains("configuration reloaded"));
    assert!(health(port).await.is_none(), "the old address is closed");
    let (ok, _) = run.term().await;
    assert!(ok);
    for line in run_log(&env).lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}
