//! The idle cost of e-mail filing, counted by the sandbox (`GET /_sandbox/stats`): after the
//! mailboxes were filed, a `sync --once` that finds nothing new must cost at most 0.25 Graph
//! requests per mailbox (the token, the grouped user lookups and the grouped delta probes,
//! not a folder lookup and a delta per mailbox), already right after the cycle that filed
//! (whose moves out of the sync folders are no news), and must still file what arrives later.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{Env, SYNC};
use gc_sandbox::{NewMessage, SandboxOptions};

/// The success folder under the sync folder (the default name).
const SUCCESS: &str = "Inbox/crm/Sync_Success";
/// The failure folder (the default name).
const FAILURE: &str = "Inbox/crm/Sync_Failure";

/// The goal of issue 15: Graph round trips per mailbox of an idle cycle.
const IDLE_GOAL: f64 = 0.25;

fn sync_once(env: &Env) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["sync", "--once", "--json", "--config"])
        .arg(env.config_path())
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

fn filed(report: &serde_json::Value) -> u64 {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["created"].as_u64().unwrap() + m["adopted"].as_u64().unwrap())
        .sum()
}

/// The report's row of mailbox `user`.
fn row_of(report: &serde_json::Value, user: &str) -> serde_json::Value {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mailbox"].as_str() == Some(user))
        .cloned()
        .unwrap()
}

/// A tenant of three users (two messages in each Inbox), and its first user whose rep files
/// e-mails.
async fn small_tenant(seed: u64) -> (Env, String) {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed,
            messages_per_mailbox: 2,
            ..SandboxOptions::default()
        },
        "[emails]\nattachments = \"none\"\n",
    )
    .await;
    let u = env.enabled_users().await[0].clone();
    (env, u)
}

/// Deliver a message from outside to `to` straight into `user`'s sync folder.
fn deliver_to_sync(env: &Env, user: &str, subject: &str, to: &str) {
    env.demo
        .sandbox
        .state()
        .deliver(
            user,
            NewMessage {
                subject: subject.into(),
                to: vec![to.to_owned()],
                body_text: Some("hello".into()),
                folder: Some(SYNC.into()),
                ..Default::default()
            },
        )
        .unwrap();
}

async fn stats(env: &Env) -> serde_json::Value {
    reqwest::get(format!("{}/_sandbox/stats", env.demo.sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reset(env: &Env) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/stats/reset", env.demo.sandbox.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_cycle_costs_at_most_a_quarter_request_per_mailbox() {
    let env = Env::start(
        SandboxOptions {
            users: 27,
            seed: 15,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        },
        "[emails]\nattachments = \"none\"\n",
    )
    .await;
    env.file_all_inbox(2);
    let first = sync_once(&env);
    let mailboxes = first["mailboxes"].as_array().unwrap().len();
    assert!(
        mailboxes >= 20,
        "{mailboxes} mailboxes: the goal is measured on 20 or more"
    );
    assert!(filed(&first) > 0, "{first}");
    // The filed messages left their sync folders: their removals are behind the stored
    // delta links, and need no run. So the very next cycle is idle.

    reset(&env).await;
    let idle = sync_once(&env);
    assert_eq!(filed(&idle), 0, "{idle}");
    let s = stats(&env).await;
    // The counter's shape, as the benchmarks read it.
    let graph_total = s["graph"]["total"].as_u64().expect("graph.total");
    assert!(s["graph"]["by_resource"].is_object(), "{s}");
    assert!(s["crm"]["total"].is_u64(), "{s}");
    assert!(s["crm"]["by_rep"].is_object(), "{s}");
    let per_mailbox = graph_total as f64 / mailboxes as f64;
    eprintln!(
        "idle cycle: {graph_total} Graph requests for {mailboxes} mailboxes = {per_mailbox:.3} per mailbox; {}",
        s["graph"]["by_resource"]
    );
    assert!(
        per_mailbox <= IDLE_GOAL,
        "an idle cycle cost {per_mailbox:.3} Graph requests per mailbox (goal ≤ {IDLE_GOAL}): {s}"
    );
    // Nothing per mailbox: no folder lookups, no delta outside a batch, no user lookups;
    // only the reps without a usable mailbox are probed again (they are not stored).
    let by = s["graph"]["by_resource"].as_object().unwrap();
    for resource in ["childFolders", "messages.delta", "users"] {
        assert!(
            !by.contains_key(resource),
            "an idle cycle asked {resource} directly: {s}"
        );
    }
    let without = idle["reps_without_mailbox"].as_array().unwrap().len() as u64;
    assert!(
        by.get("mailFolders").and_then(|v| v.as_u64()).unwrap_or(0) <= without,
        "mailbox probes beyond the {without} rep(s) without a mailbox: {s}"
    );
    assert_eq!(
        s["graph"]["in_batch"]["messages.delta"].as_u64(),
        Some(mailboxes as u64),
        "one delta probe per mailbox, inside $batch: {s}"
    );

    // Still awake: a message filed now is found by the probe and filed by the next cycle.
    let users = env.enabled_users().await;
    let u = &users[3];
    deliver_to_sync(&env, u, "Arrived while idle", u);
    reset(&env).await;
    let after = sync_once(&env);
    assert_eq!(filed(&after), 1, "{after}");
    let s = stats(&env).await;
    let delta = s["graph"]["by_resource"]["messages.delta"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(delta, 1, "only the changed mailbox reads its delta: {s}");
    assert!(
        !s["graph"]["by_resource"]
            .as_object()
            .unwrap()
            .contains_key("childFolders"),
        "the success folder's id is kept, not looked up for the move: {s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_sync_folder_is_looked_up_again() {
    let (env, u) = small_tenant(16).await;
    let st = env.demo.sandbox.state();
    st.create_folder_path(&u, SYNC).unwrap();
    sync_once(&env);
    sync_once(&env);
    // The user deletes the sync folder and makes a new one of the same name.
    st.delete_folder_path(&u, SYNC).unwrap();
    st.create_folder_path(&u, SYNC).unwrap();
    deliver_to_sync(&env, &u, "Into the new folder", &u);
    // The kept id answers 404: that run forgets it (delayed), the next one files.
    let forgot = sync_once(&env);
    let mine = row_of(&forgot, &u);
    assert_eq!(mine["outcome"], "delayed", "{forgot}");
    assert!(
        mine["error"].as_str().unwrap().contains("looked up again"),
        "{forgot}"
    );
    assert_eq!(filed(&forgot), 0);
    assert_eq!(filed(&sync_once(&env)), 1);
    assert_eq!(
        env.count(&u, SYNC),
        0,
        "the message left the new sync folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_success_folder_is_made_again() {
    let (env, u) = small_tenant(16).await;
    let st = env.demo.sandbox.state();
    st.create_folder_path(&u, SYNC).unwrap();
    let deliver = |subject: &str| deliver_to_sync(&env, &u, subject, &u);
    deliver("Makes the success folder");
    assert_eq!(filed(&sync_once(&env)), 1);
    assert_eq!(env.count(&u, SUCCESS), 1);
    let activities = env.email_activities().await.len();
    // The user deletes the success folder; the kept id answers 404 for the next move.
    st.delete_folder_path(&u, SUCCESS).unwrap();
    deliver("Into a folder that is gone");
    let forgot = sync_once(&env);
    let mine = row_of(&forgot, &u);
    assert_eq!(mine["outcome"], "delayed", "{forgot}");
    assert!(
        mine["error"].as_str().unwrap().contains("looked up again"),
        "{forgot}"
    );
    assert_eq!(env.count(&u, SYNC), 1, "filed, not moved yet");
    // The next run makes the folder again and moves the message; nothing is filed twice.
    let again = sync_once(&env);
    assert_eq!(filed(&again), 0, "{again}");
    assert_eq!(env.count(&u, SYNC), 0, "the message left the sync folder");
    assert_eq!(env.count(&u, SUCCESS), 1);
    assert_eq!(
        env.email_activities().await.len(),
        activities + 1,
        "one activity for the message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_that_files_and_fails_lists_the_sync_folder_once() {
    let (env, u) = small_tenant(17).await;
    let st = env.demo.sandbox.state();
    for path in [SYNC, SUCCESS, FAILURE] {
        st.create_folder_path(&u, path).unwrap();
    }
    // A first cycle with nothing to file keeps the sync folder's id; neither subfolder is
    // needed yet.
    assert_eq!(filed(&sync_once(&env)), 0);
    deliver_to_sync(&env, &u, "Filed", &u);
    // The owner is not a recipient (BCC): not filed by default, to the failure folder.
    deliver_to_sync(&env, &u, "Not filed", "someone@elsewhere.example");
    reset(&env).await;
    assert_eq!(filed(&sync_once(&env)), 1);
    assert_eq!(env.count(&u, SUCCESS), 1);
    assert_eq!(env.count(&u, FAILURE), 1);
    // Both subfolders from one listing of the sync folder's children (a POST to
    // `childFolders`, a folder made, would count here too).
    let s = stats(&env).await;
    assert_eq!(s["graph"]["by_resource"]["childFolders"], 1, "{s:#}");
}
