//! CRM.interface requests per filed message, counted by the sandbox (`GET /_sandbox/stats`):
//! a page's external keys and addresses are asked once for the whole page, and with
//! `[crm.dialect] child_records = "nested"` the activity, its external key and its
//! participants go in one request, so filing costs at most 1.5 requests per message on
//! average (goal of issue 15). What is written stays the same: every activity carries its key
//! and participants, and a second run files nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, final_state};
use gc_sandbox::SandboxOptions;
use gc_store::Kind;
use gc_sync::NoProgress;
use graph_connector::commands::sync::Runtime;

/// The goal of issue 15.
const CRM_GOAL: f64 = 1.5;

async fn crm_total(env: &Env) -> u64 {
    let v: serde_json::Value = reqwest::get(format!("{}/_sandbox/stats", env.demo.sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    eprintln!("CRM: {}", v["crm"]);
    v["crm"]["total"].as_u64().unwrap()
}

async fn records(env: &Env, table: &str) -> Vec<serde_json::Value> {
    let url = format!("{}/_sandbox/crm/records/{table}", env.demo.sandbox.url());
    let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v.as_array().cloned().unwrap_or_default()
}

/// File every Inbox message of 8 mailboxes; requests per filed message.
async fn file_all(child_records: &str) -> (Env, Runtime, f64, u64) {
    let env = Env::start(
        SandboxOptions {
            users: 9,
            seed: 21,
            messages_per_mailbox: 30,
            ..SandboxOptions::default()
        },
        &format!(
            "[emails]\nattachments = \"none\"\n\n[crm.dialect]\nchild_records = \"{child_records}\"\n"
        ),
    )
    .await;
    env.file_all_inbox(usize::MAX);
    env.demo.sandbox.reset_stats();
    let rt = Runtime::build(&env.config()).await.unwrap();
    let report = rt
        .cycle(None, &NoProgress, &Default::default())
        .await
        .unwrap();
    let total = report.total(Kind::Email);
    assert_eq!(total.failed + total.delayed, 0, "{report:?}");
    let filed = total.created + total.adopted;
    assert!(filed >= 60, "only {filed} messages filed");
    let requests = crm_total(&env).await;
    let per_message = requests as f64 / filed as f64;
    eprintln!(
        "child_records = {child_records}: {requests} CRM requests for {filed} messages = {per_message:.2} per message"
    );
    (env, rt, per_message, filed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nested_writes_file_a_message_in_at_most_one_and_a_half_requests() {
    let (env, rt, per_message, filed) = file_all("nested").await;
    assert!(
        per_message <= CRM_GOAL,
        "{per_message:.2} CRM requests per filed message (goal ≤ {CRM_GOAL})"
    );
    // What was written: one activity per message, each with its external key, and the
    // participants the messages named.
    let st = final_state(&*rt.store).await;
    let activities: std::collections::BTreeSet<u64> = st
        .by_key
        .values()
        .flat_map(|(_, a)| a.iter().copied())
        .collect();
    assert_eq!(activities.len() as u64, st.by_key.len() as u64);
    let keys = records(&env, "ExternalKey").await;
    let linked_to = |r: &serde_json::Value, a: u64| {
        r["links"]
            .as_array()
            .is_some_and(|l| l.iter().any(|pair| pair[1].as_u64() == Some(a)))
    };
    for a in &activities {
        let n = keys.iter().filter(|k| linked_to(k, *a)).count();
        assert_eq!(n, 1, "activity {a} has {n} external keys");
    }
    let participants = records(&env, "Participant").await;
    assert!(
        activities
            .iter()
            .all(|a| participants.iter().any(|p| linked_to(p, *a))),
        "every activity has participants"
    );
    assert!(filed as usize >= activities.len());

    // Nothing changed: the next cycle writes nothing and asks CRM little.
    env.demo.sandbox.reset_stats();
    let again = rt
        .cycle(None, &NoProgress, &Default::default())
        .await
        .unwrap();
    let t = again.total(Kind::Email);
    assert_eq!(t.created + t.adopted, 0, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_writes_still_share_the_page_lookups() {
    let (_env, _rt, per_message, _) = file_all("separate").await;
    // Activity, then key and participants: two writes per message, the lookups per page.
    assert!(
        per_message <= 2.5,
        "{per_message:.2} CRM requests per filed message with separate child records"
    );
}
