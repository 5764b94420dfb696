//! End to end: appointments from Microsoft 365 to CRM against the in-process sandbox (Graph
//! calendar writes over HTTP, CRM.interface, SQLite state).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::Env;
use gc_crm::{Activity, CrmId};
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter, LinkState};
use graph_connector::commands::sync::Runtime;
use graph_connector::config::Config;
use serde_json::json;

const CONFIG: &str = "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\n";

async fn start(users: usize, seed: u64) -> Env {
    Env::start(
        SandboxOptions {
            users,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        CONFIG,
    )
    .await
}

fn graph(config: &Config) -> gc_graph::GraphClient {
    gc_graph::GraphClient::new(graph_connector::wiring::graph_options(config).unwrap()).unwrap()
}

async fn cycle(rt: &Runtime) -> gc_sync::SyncReport {
    let r = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert!(r.stopped.is_none(), "{r:#?}");
    r
}

/// The activities whose external key is `key`.
async fn by_key(env: &Env, key: &str) -> Vec<Activity> {
    let crm = env.crm();
    let master = crm.master();
    let table = crm.dialect().activity.table.clone();
    let mut ids: Vec<CrmId> = master
        .find_external_keys(None, &[key.to_owned()])
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.ext_key == key)
        .filter_map(|k| k.record.filter(|(t, _)| *t == table).map(|(_, id)| id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        out.push(master.activity(id).await.unwrap().unwrap());
    }
    out
}

/// The one activity of an event of `user` found by subject in its calendar.
async fn activity_of(env: &Env, g: &gc_graph::GraphClient, user: &str, subject: &str) -> Activity {
    let ev = find_event(g, user, subject).await;
    let key = ev.ical_uid.clone().unwrap();
    let found = by_key(env, &key).await;
    assert_eq!(found.len(), 1, "{subject}: {found:?}");
    found.into_iter().next().unwrap()
}

async fn find_event(
    g: &gc_graph::GraphClient,
    user: &str,
    subject: &str,
) -> gc_graph::models::Event {
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    g.calendar_view(user, now - day * 7, now + day * 14)
        .collect_ok()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.subject.as_deref() == Some(subject))
        .unwrap_or_else(|| panic!("{user} has no event {subject:?}"))
}

fn at(days: i64, hour: i8) -> String {
    let d = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap();
    format!("{d}T{hour:02}:00:00")
}

async fn ledger(rt: &Runtime, item: Option<&str>) -> Vec<gc_store::LedgerEntry> {
    rt.store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Appointment),
            item_key: item.map(str::to_owned),
            ..LedgerFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_become_appointments_one_per_meeting_and_follow_edits_and_deletions() {
    let env = start(8, 13).await;
    let config = env.config();
    let g = graph(&config);
    let reps = env.appointment_reps().await;
    assert!(
        reps.len() >= 5,
        "{} reps synchronize appointments",
        reps.len()
    );
    let five: Vec<&(String, gc_crm::Rep)> = reps.iter().take(5).collect();
    let organizer = five[0].0.clone();
    let person = env.demo.sandbox.directory().externals[0].email.clone();

    // A meeting of five reps, a CRM person and an address CRM does not know.
    let mut attendees: Vec<serde_json::Value> = five[1..]
        .iter()
        .map(|(u, _)| json!({"emailAddress": {"address": u}, "type": "required"}))
        .collect();
    attendees.push(json!({"emailAddress": {"address": person}, "type": "required"}));
    attendees
        .push(json!({"emailAddress": {"address": "ghost@unknown.example"}, "type": "optional"}));
    let meeting = g
        .create_event(
            &organizer,
            &json!({
                "subject": "Five reps review",
                "body": {"contentType": "html", "content": "<p>The <b>agenda</b></p>"},
                "start": {"dateTime": at(2, 9), "timeZone": "UTC"},
                "end": {"dateTime": at(2, 10), "timeZone": "UTC"},
                "location": {"displayName": "Room 4.01"},
                "importance": "high",
                "showAs": "tentative",
                "attendees": attendees,
            }),
        )
        .await
        .unwrap();
    let key = meeting.ical_uid.clone().unwrap();

    let rt = Runtime::build(&config).await.unwrap();
    env.demo.sandbox.reset_stats();
    let first = cycle(&rt).await;
    let t = first.total(Kind::Appointment);
    let stats = env.demo.sandbox.stats();
    eprintln!(
        "first sync: {t:?}; {} Graph and {} CRM.interface requests",
        stats.graph.total, stats.crm.total
    );
    assert!(!first.any_mailbox_failed(), "{first:#?}");
    assert!(t.created > 10, "{t:?}");
    assert!(t.adopted >= 4, "attendee copies adopt the meeting: {t:?}");
    assert_eq!((t.delayed, t.failed), (0, 0), "{first:#?}");

    // One meeting, one activity, five rep participants, the person, the missing block.
    let found = by_key(&env, &key).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let a = &found[0];
    let dl = env.crm().dialect().clone();
    let rep_ids: BTreeSet<CrmId> = a.participants.iter().filter_map(|p| p.rep).collect();
    for (u, r) in &five {
        assert!(rep_ids.contains(&r.id), "{u} is not a participant: {a:#?}");
    }
    assert!(a.participants.iter().any(|p| p.person.is_some()), "{a:#?}");
    assert_eq!(a.get(&dl.activity.subject), Some("Five reps review"));
    assert_eq!(a.get(&dl.appointment.location), Some("Room 4.01"));
    assert_eq!(a.get(&dl.appointment.priority), Some("3"));
    assert_eq!(a.get(&dl.appointment.show_as), Some("Tentative"));
    assert_eq!(
        a.get(&dl.appointment.body),
        Some("<p>The <b>agenda</b></p>")
    );
    assert_eq!(a.get(&dl.activity.rep_id), Some(five[0].1.rep_id.as_str()));
    assert!(!dl.parse_bool(a.get(&dl.appointment.published).unwrap_or("")));
    assert!(
        a.get("MissingParticipants")
            .is_some_and(|m| m.contains("ghost@unknown.example")),
        "{a:#?}"
    );
    // Every copy is linked to it.
    let links = rt
        .store
        .links_by_global_key(Kind::Appointment, &key)
        .await
        .unwrap();
    assert_eq!(links.len(), 5, "{links:#?}");
    assert!(
        links
            .iter()
            .all(|l| l.crm_id == Some(a.id) && l.state == LinkState::Active)
    );

    // The seeded calendar: an external organizer publishes, all-day stays all-day, private
    // stays private.
    let fair = activity_of(&env, &g, &organizer, "Trade fair").await;
    assert_eq!(fair.get(&dl.activity.time).unwrap_or(""), "");
    let start = dl.parse_date(fair.get(&dl.activity.date).unwrap()).unwrap();
    let end = dl
        .parse_date(fair.get(&dl.activity.end_date).unwrap())
        .unwrap();
    assert_eq!(end, start.tomorrow().unwrap(), "two days, end inclusive");
    let private = activity_of(&env, &g, &organizer, "Doctor appointment").await;
    assert!(dl.parse_bool(private.get(&dl.appointment.private).unwrap()));
    let external = env.demo.sandbox.directory().companies.clone();
    let ext_event = g
        .calendar_view(
            &organizer,
            jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 7),
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 14),
        )
        .collect_ok()
        .await
        .unwrap()
        .into_iter()
        .find(|e| {
            e.subject
                .as_deref()
                .is_some_and(|s| s.ends_with("product presentation"))
        })
        .expect("the seeded meeting of an external organizer");
    assert!(!external.is_empty());
    let published = by_key(&env, ext_event.ical_uid.as_deref().unwrap()).await;
    assert_eq!(published.len(), 1);
    assert!(dl.parse_bool(published[0].get(&dl.appointment.published).unwrap()));

    // Steady state: nothing is written again.
    env.demo.sandbox.reset_stats();
    let again = cycle(&rt).await.total(Kind::Appointment);
    let stats = env.demo.sandbox.stats();
    eprintln!(
        "steady state: {again:?}; {} Graph and {} CRM.interface requests",
        stats.graph.total, stats.crm.total
    );
    assert_eq!(
        (again.created, again.updated, again.adopted, again.failed),
        (0, 0, 0, 0),
        "{again:?}"
    );

    // The organizer edits the meeting: the one activity follows.
    let copy = find_event(&g, &organizer, "Five reps review").await;
    g.update_event(
        &organizer,
        &copy.id,
        &json!({"subject": "Five reps review (moved room)", "location": {"displayName": "Room 2.10"}}),
    )
    .await
    .unwrap();
    let r = cycle(&rt).await.total(Kind::Appointment);
    assert_eq!(r.updated, 1, "{r:?}");
    let a = &by_key(&env, &key).await[0];
    assert_eq!(
        a.get(&dl.activity.subject),
        Some("Five reps review (moved room)")
    );
    assert_eq!(a.get(&dl.appointment.location), Some("Room 2.10"));
    let entries = ledger(&rt, Some(&copy.id)).await;
    assert!(
        entries
            .iter()
            .any(|e| e.action == LedgerAction::Updated && e.reason.contains("field(s) updated")),
        "{entries:#?}"
    );

    // A deleted single event: ConnectorDeleted, never a physical delete.
    let forecast = find_event(&g, &organizer, "Prepare quarterly forecast").await;
    let forecast_activity = activity_of(&env, &g, &organizer, "Prepare quarterly forecast").await;
    g.delete_event(&organizer, &forecast.id).await.unwrap();
    // The organizer cancels the meeting: every copy is cancelled, the activity goes too.
    g.delete_event(&organizer, &copy.id).await.unwrap();
    let r = cycle(&rt).await.total(Kind::Appointment);
    assert!(r.deleted >= 2, "{r:?}");
    let crm = env.crm();
    let gone = crm
        .master()
        .activity(forecast_activity.id)
        .await
        .unwrap()
        .expect("soft delete only");
    assert!(dl.parse_bool(gone.get(&dl.activity.deleted).unwrap()));
    let cancelled = &by_key(&env, &key).await[0];
    assert!(dl.parse_bool(cancelled.get(&dl.activity.deleted).unwrap()));
    let entries = ledger(&rt, Some(&forecast.id)).await;
    assert!(
        entries.iter().any(|e| e.action == LedgerAction::Deleted),
        "{entries:#?}"
    );
    // And it is not brought back.
    let r = cycle(&rt).await.total(Kind::Appointment);
    assert_eq!((r.created, r.deleted, r.updated), (0, 0, 0), "{r:?}");

    // Leaving the window is not a deletion: a shorter window drops the vacation (day 10).
    let vacation = activity_of(&env, &g, &organizer, "Vacation").await;
    let mut narrow = env.config();
    narrow.appointments.days_future = 5;
    let rt2 = Runtime::build(&narrow).await.unwrap();
    let r = cycle(&rt2).await.total(Kind::Appointment);
    assert_eq!((r.deleted, r.created), (0, 0), "{r:?}");
    let still = crm.master().activity(vacation.id).await.unwrap().unwrap();
    assert!(!dl.parse_bool(still.get(&dl.activity.deleted).unwrap_or("false")));
    let all = ledger(&rt2, None).await;
    assert!(
        all.iter().any(|e| e.reason.contains("not a deletion")),
        "no entry says the event left the window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn private_and_absence_events_are_left_out() {
    let env = start(3, 21).await;
    let mut config = env.config();
    config.appointments.sync_private = false;
    let g = graph(&config);
    let (first, _) = env.appointment_reps().await.into_iter().next().unwrap();
    // An event the absences kind wrote (its extended property) is none of this kind's.
    let absence = g
        .create_event(
            &first,
            &json!({
                "subject": "Out of office (absence)",
                "start": {"dateTime": at(1, 0), "timeZone": "UTC"},
                "end": {"dateTime": at(2, 0), "timeZone": "UTC"},
                "isAllDay": true,
                "showAs": "oof",
                "singleValueExtendedProperties": [{
                    "id": "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmAbsenceId",
                    "value": "4294967301",
                }],
            }),
        )
        .await
        .unwrap();
    let rt = Runtime::build(&config).await.unwrap();
    let r = cycle(&rt).await;
    assert!(!r.any_mailbox_failed(), "{r:#?}");
    let (user, _) = env.appointment_reps().await.into_iter().next().unwrap();
    let ev = find_event(&g, &user, "Doctor appointment").await;
    // Not linked, nothing written (a legacy record of the previous connector may exist).
    let mailbox = rt
        .store
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap()
        .rep_id;
    assert!(
        rt.store
            .get_link(Kind::Appointment, &mailbox, &ev.id)
            .await
            .unwrap()
            .is_none()
    );
    let entries = ledger(&rt, Some(&ev.id)).await;
    assert!(
        entries
            .iter()
            .any(|e| e.action == LedgerAction::Skipped && e.reason.contains("sync_private")),
        "{entries:#?}"
    );
    assert!(
        by_key(&env, absence.ical_uid.as_deref().unwrap())
            .await
            .is_empty()
    );
    let entries = ledger(&rt, Some(&absence.id)).await;
    assert!(
        entries
            .iter()
            .any(|e| e.action == LedgerAction::Skipped && e.reason.contains("absence")),
        "{entries:#?}"
    );
}
