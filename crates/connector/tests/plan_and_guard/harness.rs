//! How the tests drive the binary and look at what it did: the binary run with its exit code
//! and output, the sandbox's request counter, the state store as text, the calendars' events
//! and a `sync --json` report's parts. Shared by every test of the file, so kept apart from
//! any one of them.

use std::process::Command;

use gc_store::{Kind, LedgerFilter, StateStore};
use serde_json::Value;

use crate::common::Env;

/// Run the binary; its exit code and standard output.
pub(super) fn bin(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(args)
        .arg("--config")
        .arg(env.config_path())
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{args:?}: exit {:?}\n{stderr}", out.status.code());
    (out.status.code().unwrap_or(-1), stdout)
}

pub(super) fn json_of(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Value {
    let (_, out) = bin(env, args, vars);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

pub(super) async fn stats(env: &Env) -> Value {
    reqwest::get(format!("{}/_sandbox/stats", env.demo.sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(super) async fn reset(env: &Env) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/stats/reset", env.demo.sandbox.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Writes the sandbox saw since the last reset: Graph requests other than GET (also inside
/// `$batch`), CRM insert/update/delete/import commands.
pub(super) fn writes(s: &Value) -> (Value, Vec<(String, u64)>) {
    let crm: Vec<(String, u64)> = s["crm"]["by_command"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "insert" | "update" | "delete" | "import"))
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    (s["graph"]["writes"].clone(), crm)
}

pub(super) async fn store(env: &Env) -> std::sync::Arc<dyn StateStore> {
    graph_connector::wiring::store(&env.config()).await.unwrap()
}

/// Everything the state store holds, as text.
pub(super) async fn snapshot(store: &dyn StateStore) -> String {
    let mut out = String::new();
    let mailboxes = store.list_mailboxes().await.unwrap();
    out.push_str(&format!("{mailboxes:?}\n"));
    for m in &mailboxes {
        out.push_str(&format!(
            "{:?}\n",
            store.list_cursors(&m.rep_id, None).await.unwrap()
        ));
        for k in Kind::ALL {
            out.push_str(&format!(
                "{:?}\n",
                store.list_links(&m.rep_id, *k, None, 10_000).await.unwrap()
            ));
        }
    }
    out.push_str(&format!(
        "{:?}\n",
        store.list_runs(None, 10_000).await.unwrap()
    ));
    let ledger = store
        .query_ledger(&LedgerFilter {
            limit: Some(100_000),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    out.push_str(&format!("{ledger:?}\n"));
    out.push_str(&format!(
        "{:?}\n",
        store.list_retries(None, 10_000).await.unwrap()
    ));
    out.push_str(&format!("{:?}\n", store.list_leases().await.unwrap()));
    out.push_str(&format!("{:?}\n", store.list_alerts(10_000).await.unwrap()));
    out.push_str(&format!(
        "{:?}\n",
        store.list_resolved("hold").await.unwrap()
    ));
    out
}

pub(super) fn graph(env: &Env) -> gc_graph::GraphClient {
    gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
        .unwrap()
}

/// `graph-connector plan --json` of `user`'s appointments.
pub(super) fn appointment_plan(env: &Env, user: &str) -> Value {
    json_of(
        env,
        &["plan", "--json", "--mailbox", user, "--kind", "appointment"],
        &[],
    )
}

/// The events of `user` in the window.
pub(super) async fn events(g: &gc_graph::GraphClient, user: &str) -> Vec<gc_graph::models::Event> {
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    g.calendar_view(user, now - day * 7, now + day * 14)
        .collect_ok()
        .await
        .unwrap()
}

/// The report of `mailbox` and `kind` in a `sync --json` report.
pub(super) fn report_of<'a>(report: &'a Value, mailbox: &str, kind: &str) -> &'a Value {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mailbox"] == mailbox && m["kind"] == kind)
        .unwrap_or_else(|| panic!("no {mailbox} {kind} in {report:#}"))
}

/// The subjects of `user`'s events starting with `prefix`.
pub(super) async fn subjects(g: &gc_graph::GraphClient, user: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = events(g, user)
        .await
        .into_iter()
        .filter_map(|e| e.subject)
        .filter(|s| s.starts_with(prefix))
        .collect();
    v.sort();
    v
}
