//! The idle cost of all five kinds together, counted by the sandbox (`GET /_sandbox/stats`,
//! Graph and CRM.interface): once everything is synchronized, a `sync --once` that finds
//! nothing new must cost at most 0.25 HTTP round trips per mailbox and kind, the per-process
//! requests (token, mailbox list, CRM schema check) included. Every kind has a change check
//! (e-mail, appointments and tasks by their stored delta links 20 per `$batch`; tasks,
//! appointments, absences and contacts by one CRM request for every rep) and asks nothing per
//! mailbox: no CRM request acting for a rep, contacts' selection reads included. Then one
//! change of each kind is found, and only the changed mailboxes are run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::all_kinds::{self, ALL_KINDS, Work};
use common::{Env, SYNC};
use gc_crm::codec::{CatalogMode, RecordData, WriteKind};
use gc_sandbox::{NewMessage, SandboxOptions};

/// The goal of issue 15: round trips per mailbox and kind of an idle cycle.
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

/// Records written, per kind.
fn changes(report: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut by = BTreeMap::new();
    for m in report["mailboxes"].as_array().unwrap() {
        let n: u64 = ["created", "adopted", "updated", "deleted"]
            .iter()
            .map(|k| m[k].as_u64().unwrap())
            .sum();
        *by.entry(m["kind"].as_str().unwrap().to_owned())
            .or_default() += n;
    }
    by
}

/// Mailboxes run (or left out as idle), per kind.
fn mailboxes(report: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut by = BTreeMap::new();
    for m in report["mailboxes"].as_array().unwrap() {
        *by.entry(m["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    by
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

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(|v| v.as_u64()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_cycle_of_every_kind_costs_at_most_a_quarter_request_per_mailbox() {
    let env = Env::start(
        SandboxOptions {
            users: 27,
            seed: 15,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        },
        &format!("{ALL_KINDS}\n[emails]\nattachments = \"none\"\n"),
    )
    .await;
    env.file_all_inbox(2);
    // Our own writes come back once (moved messages, To Do etags, CRM update stamps of the
    // statuses written back): a few cycles until one writes nothing.
    let mut quiet = false;
    for _ in 0..6 {
        let r = sync_once(&env);
        if changes(&r).values().all(|n| *n == 0) {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the cycles never settled");
    // One more, so that every source finished a round after the last write.
    sync_once(&env);

    reset(&env).await;
    let idle = sync_once(&env);
    assert!(changes(&idle).values().all(|n| *n == 0), "{idle}");
    let per_kind = mailboxes(&idle);
    for kind in ["email", "appointment", "task", "contact", "absence"] {
        assert!(
            per_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} mailbox: {per_kind:?}"
        );
    }
    assert!(per_kind["email"] >= 20, "{per_kind:?}");
    let s = stats(&env).await;
    let graph = &s["graph"];
    let crm = &s["crm"];
    eprintln!(
        "idle cycle, all kinds ({per_kind:?}): Graph {} {} in $batch {}; CRM {} by rep {} by command {}",
        graph["total"],
        graph["by_resource"],
        graph["in_batch"],
        crm["total"],
        crm["by_rep"],
        crm["by_command"]
    );

    // Nothing per mailbox on the Graph side: no list or folder lookups, no delta outside a
    // `$batch`, no contact or event reads.
    let by = graph["by_resource"].as_object().unwrap();
    for resource in by.keys() {
        assert!(
            ["token", "$batch", "mailFolders"].contains(&resource.as_str()),
            "an idle cycle asked {resource} directly: {s}"
        );
    }
    let without = idle["reps_without_mailbox"].as_array().unwrap().len() as u64;
    assert!(
        count(&graph["by_resource"], "mailFolders") <= without,
        "{s}"
    );
    // The delta probes of e-mail, appointments and tasks, one per mailbox, inside `$batch`.
    let in_batch = &graph["in_batch"];
    assert_eq!(count(in_batch, "messages.delta"), per_kind["email"], "{s}");
    assert_eq!(
        count(in_batch, "calendarView.delta"),
        per_kind["appointment"],
        "{s}"
    );
    assert_eq!(count(in_batch, "tasks.delta"), per_kind["task"], "{s}");

    // CRM: the master user's requests are per process or per kind (schema check, enabled
    // reps, one change check of tasks, appointments, absences and contacts for every rep); a
    // request acting for a rep would be per mailbox: none (contacts' selections included).
    let by_rep = crm["by_rep"].as_object().unwrap();
    let per_rep: u64 = by_rep
        .iter()
        .filter(|(rep, _)| rep.contains('@'))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        per_rep, 0,
        "CRM requests acting for reps in an idle cycle: {s}"
    );

    // The goal, per mailbox and kind, for every kind, everything per-process counted
    // against it.
    let total = graph["total"].as_u64().unwrap() + crm["total"].as_u64().unwrap();
    let checked: u64 = per_kind.values().sum();
    let per_mailbox = total as f64 / checked as f64;
    eprintln!(
        "idle cycle: {total} requests (Graph and CRM) for {checked} mailbox runs = {per_mailbox:.3} per mailbox and kind"
    );
    assert!(
        per_mailbox <= IDLE_GOAL,
        "an idle cycle cost {per_mailbox:.3} requests per mailbox and kind (goal ≤ {IDLE_GOAL}): {s}"
    );

    // Still awake: a change of each kind is found by its probe, and only the mailboxes that
    // changed are run.
    let mail_user = env.enabled_users().await[3].clone();
    env.demo
        .sandbox
        .state()
        .deliver(
            &mail_user,
            NewMessage {
                subject: "Arrived while idle".into(),
                to: vec![mail_user.clone()],
                body_text: Some("hello".into()),
                folder: Some(SYNC.into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (task_user, task_rep) = all_kinds::users_with(&env, |r| r.sync_tasks).await[0].clone();
    all_kinds::apply(
        &env,
        &Work::Task {
            rep_id: task_rep.rep_id.clone(),
            subject: "Call back while idle".into(),
            due: 1,
        },
    )
    .await;
    let (meeting_user, _) = all_kinds::users_with(&env, |r| r.sync_appointments).await[0].clone();
    all_kinds::apply(
        &env,
        &Work::Meeting {
            user: meeting_user.clone(),
            subject: "Planned while idle".into(),
            day: 2,
            hour: 10,
        },
    )
    .await;
    let (absent_user, absent_rep) =
        all_kinds::users_with(&env, |r| r.sync_absences).await[0].clone();
    let day = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
        .checked_add(jiff::Span::new().days(3))
        .unwrap()
        .to_string();
    env.crm()
        .master()
        .write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            RecordData::new("Absences")
                .field("RepID", absent_rep.rep_id.clone())
                .field("StartDate", day.clone())
                .field("EndDate", day)
                .field("Type", "Vacation".to_owned())
                .field("Text", "while idle".to_owned()),
        )
        .await
        .unwrap();
    // A new person in a company of a contacts rep.
    let crm = env.crm();
    let mut contact_change = None;
    for (user, rep) in all_kinds::users_with(&env, |r| r.sync_contacts).await {
        let (persons, _) = crm
            .master()
            .persons_of_rep_companies(&rep.rep_id)
            .await
            .unwrap();
        if let Some(company) = persons.iter().find_map(|p| p.company.clone()) {
            contact_change = Some((user, company.id));
            break;
        }
    }
    let (contact_user, company) = contact_change.expect("a contacts rep with a company");
    crm.master()
        .write_one(
            WriteKind::Insert,
            CatalogMode::Text,
            RecordData::new("Person")
                .field("FirstName", "Ida".to_owned())
                .field("LastName", "Idle".to_owned())
                .link("Company", company),
        )
        .await
        .unwrap();
    reset(&env).await;
    let after = sync_once(&env);
    let created = |kind: &str, user: &str| -> u64 {
        after["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == kind && m["mailbox"].as_str() == Some(user))
            .map(|m| m["created"].as_u64().unwrap() + m["adopted"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(created("email", &mail_user), 1, "{after}");
    assert_eq!(created("task", &task_user), 1, "{after}");
    assert_eq!(created("appointment", &meeting_user), 1, "{after}");
    assert_eq!(created("absence", &absent_user), 1, "{after}");
    assert_eq!(created("contact", &contact_user), 1, "{after}");
    let s = stats(&env).await;
    let by = &s["graph"]["by_resource"];
    // Only the changed mailboxes read their deltas.
    assert_eq!(count(by, "messages.delta"), 1, "{s}");
    assert_eq!(count(by, "tasks.delta"), 1, "{s}");
    assert!(count(by, "calendarView.delta") <= 2, "{s}");
    // The changed rep's selection is read (a request acting for it).
    let contacts_read: u64 = s["crm"]["by_rep"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(rep, _)| rep.eq_ignore_ascii_case(&contact_user))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert!(contacts_read >= 1, "{s}");
}
