//! End to end, the two crash windows the model test of appointments found, each cut at its
//! exact point with a sandbox trip wire and the run dropped there (a crash):
//!
//! - an event written from CRM by a run cut while the create's answer was on its way, deleted
//!   by the user before the next run: the next run finds the intent, no event carrying the
//!   CrmId property, and takes it for a deletion in Microsoft 365 (not written again);
//! - a meeting copy of another rep cut between the CRM insert and the external key: the
//!   organizer's CRM side writes no event for the appointment without key (the write's record
//!   holds it), and the organizer's copy adopts it instead of writing a second one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Mutex;

use common::Env;
use gc_crm::{Activity, CrmId, NewActivity};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{SandboxOptions, Target, Tripwire, When};
use gc_store::{Kind, LedgerFilter};
use graph_connector::commands::sync::Runtime;
use serde_json::json;

const CONFIG: &str =
    "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n";

async fn start(seed: u64) -> (Env, Vec<(String, gc_crm::Rep)>) {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        CONFIG,
    )
    .await;
    let reps = env.crm().master().enabled_reps().await.unwrap();
    let users: Vec<_> = env
        .users()
        .into_iter()
        .filter_map(|u| {
            reps.iter()
                .find(|r| r.sync_appointments && r.email.as_deref() == Some(u.as_str()))
                .map(|r| (u.clone(), r.clone()))
        })
        .take(2)
        .collect();
    assert_eq!(users.len(), 2, "two reps synchronize appointments");
    (env, users)
}

fn day(days: i64) -> jiff::civil::Date {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
}

/// A complete run (of every mailbox, or only `only`'s).
async fn cycle(rt: &Runtime, only: Option<&str>) -> gc_sync::MailboxReport {
    let r = rt
        .cycle(only, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert!(r.stopped.is_none() && !r.any_mailbox_failed(), "{r:#?}");
    let t = r.total(Kind::Appointment);
    assert_eq!((t.failed, t.delayed), (0, 0), "{r:#?}");
    t
}

/// A run of `only`'s mailbox dropped (a crash) exactly when `wire` is reached.
async fn cut_run(env: &Env, rt: &Runtime, only: &str, wire: Tripwire) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let handle = env.demo.sandbox.arm_tripwire(wire, move || {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
    });
    let cancel = Default::default();
    let run = rt.cycle(Some(only), &gc_sync::NoProgress, &cancel);
    tokio::select! {
        r = run => panic!("the run ended before its cut: {r:#?}"),
        _ = rx => {}
    }
    assert!(handle.fired());
}

/// The events of `user` with this subject.
fn events(env: &Env, user: &str, subject: &str) -> Vec<String> {
    env.demo
        .sandbox
        .state()
        .events(user)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, s, _)| s == subject)
        .map(|(id, _, _)| id)
        .collect()
}

/// Activities with this subject, live ones only.
async fn live(env: &Env, subject: &str) -> Vec<Activity> {
    let crm = env.crm();
    let dl = crm.dialect().clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: day(-30),
            to: day(30),
            rep_id: None,
            condition: None,
            fields: vec![dl.activity.subject.clone(), dl.activity.deleted.clone()],
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.get(&dl.activity.subject) == Some(subject))
        .filter(|a| {
            !a.get(&dl.activity.deleted)
                .is_some_and(|v| dl.parse_bool(v))
        })
        .collect()
}

async fn reasons(rt: &Runtime) -> Vec<String> {
    rt.store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Appointment),
            ..LedgerFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_from_crm_deleted_before_its_cut_create_was_linked_stays_deleted() {
    let (env, users) = start(41).await;
    let (anna, anna_rep) = &users[0];
    let rt = Runtime::build(&env.config()).await.unwrap();
    cycle(&rt, None).await;
    let crm = env.crm();
    let mut a = NewActivity::new("Meeting", "Cut create", day(2));
    a.time = Some(jiff::civil::time(10, 0, 0, 0));
    a.end_date = Some(day(2));
    a.end_time = Some(jiff::civil::time(11, 0, 0, 0));
    a.rep_id = Some(anna_rep.rep_id.clone());
    let id: CrmId = crm.as_rep(anna).insert_activity(&a).await.unwrap();
    // The event is created; the run dies while the answer is on its way.
    cut_run(
        &env,
        &rt,
        anna,
        Tripwire {
            target: Target::GraphWrite,
            nth: 1,
            when: When::BeforeResponse,
        },
    )
    .await;
    let written = events(&env, anna, "Cut create");
    assert_eq!(written.len(), 1, "the cut create was carried out");
    // The user deletes it before any run could link it.
    let g =
        gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
            .unwrap();
    g.delete_event(anna, &written[0]).await.unwrap();
    let t = cycle(&rt, None).await;
    assert_eq!((t.created, t.deleted), (0, 1), "{t:?}");
    assert!(
        events(&env, anna, "Cut create").is_empty(),
        "not written again"
    );
    assert!(
        live(&env, "Cut create").await.is_empty(),
        "deleted in CRM too"
    );
    let log = reasons(&rt).await;
    assert!(
        log.iter().any(|r| r.contains("an interrupted run wrote")),
        "{log:#?}"
    );
    let act = crm.master().activity(id).await.unwrap().unwrap();
    let dl = crm.dialect();
    assert!(dl.parse_bool(act.get(&dl.activity.deleted).unwrap_or_default()));
    // And it stays so.
    let t = cycle(&rt, None).await;
    assert_eq!((t.created, t.updated, t.deleted), (0, 0, 0), "{t:?}");
    assert!(events(&env, anna, "Cut create").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_meeting_copy_cut_before_its_key_leaves_no_second_event_or_appointment() {
    let (env, users) = start(42).await;
    let (anna, _) = &users[0];
    let (bob, _) = &users[1];
    let rt = Runtime::build(&env.config()).await.unwrap();
    cycle(&rt, None).await;
    let g =
        gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
            .unwrap();
    let d = day(3);
    g.create_event(
        anna,
        &json!({
            "subject": "Cut meeting",
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
            "attendees": [{"type": "required", "emailAddress": {"address": bob}}],
        }),
    )
    .await
    .unwrap();
    assert_eq!(events(&env, bob, "Cut meeting").len(), 1, "bob's copy");
    // Bob's copy is synchronized first; its run dies after the appointment's insert, before
    // its external key.
    cut_run(
        &env,
        &rt,
        bob,
        Tripwire {
            target: Target::Crm {
                command: Some(CrmCommand::Insert),
                table: Some("ExternalKey".into()),
            },
            nth: 1,
            when: When::BeforeProcessing,
        },
    )
    .await;
    assert_eq!(live(&env, "Cut meeting").await.len(), 1, "inserted, no key");
    // The organizer's run meets that appointment on its CRM side (no key, no link) and its
    // own copy on the calendar side.
    cycle(&rt, Some(anna)).await;
    assert_eq!(
        events(&env, anna, "Cut meeting").len(),
        1,
        "no second event for the appointment bob's copy left"
    );
    assert_eq!(
        live(&env, "Cut meeting").await.len(),
        1,
        "adopted, not a second one"
    );
    let log = reasons(&rt).await;
    assert!(
        log.iter()
            .any(|r| r.contains("left by an interrupted attempt")),
        "{log:#?}"
    );
    // Bob's next run finds the organizer's link; then everything is quiet.
    cycle(&rt, None).await;
    let t = cycle(&rt, None).await;
    assert_eq!((t.created, t.updated, t.deleted), (0, 0, 0), "{t:?}");
    assert_eq!(events(&env, anna, "Cut meeting").len(), 1);
    assert_eq!(events(&env, bob, "Cut meeting").len(), 1);
    assert_eq!(live(&env, "Cut meeting").await.len(), 1);
}
