//! End to end: CRM appointments to Microsoft 365 calendars and back, against the in-process
//! sandbox (Graph calendar over HTTP with attendee copies, CRM.interface with update stamps,
//! SQLite state): a CRM appointment becomes one event with its participants invited (their
//! copies join the same appointment), CRM edits and deletions follow, both sides edited
//! between two runs follow `[appointments] conflict` with the losing version in the ledger,
//! an event written just before a crash is adopted, not written twice, a CRM appointment
//! held behind a write a crash interrupted reaches the calendar in the next run, and a CRM
//! edit of the record such a write made is weighed by the conflict rule when it is adopted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use gc_crm::{Activity, CrmId, NewActivity, NewParticipant, ParticipantRole};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{SandboxOptions, Target, Tripwire, When};
use gc_store::{Kind, LedgerAction, LedgerFilter, LinkState};
use graph_connector::commands::sync::Runtime;
use graph_connector::config::{AppointmentConflict, Config};
use serde_json::json;

/// Every run walks the CRM window in full, so CRM deletions are seen at once.
const CONFIG: &str =
    "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n";

const CRM_ID: &str = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId";

async fn start(seed: u64) -> Env {
    Env::start(
        SandboxOptions {
            users: 4,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        CONFIG,
    )
    .await
}

fn config(env: &Env, conflict: AppointmentConflict) -> Config {
    let mut c = env.config();
    c.crm.time_zone = Some("Europe/Vienna".into());
    c.appointments.conflict = conflict;
    c
}

fn graph(config: &Config) -> gc_graph::GraphClient {
    gc_graph::GraphClient::new(graph_connector::wiring::graph_options(config).unwrap()).unwrap()
}

/// Two mailbox users whose reps synchronize appointments.
async fn two_reps(env: &Env) -> Vec<(String, gc_crm::Rep)> {
    let v: Vec<_> = env.appointment_reps().await.into_iter().take(2).collect();
    assert_eq!(v.len(), 2, "two reps synchronize appointments");
    v
}

async fn cycle(rt: &Runtime) -> gc_sync::MailboxReport {
    let r = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert!(r.stopped.is_none(), "{r:#?}");
    assert!(!r.any_mailbox_failed(), "{r:#?}");
    let t = r.total(Kind::Appointment);
    assert_eq!((t.failed, t.delayed), (0, 0), "{r:#?}");
    t
}

fn day(days: i64) -> jiff::civil::Date {
    jiff::tz::TimeZone::get("Europe/Vienna")
        .unwrap()
        .to_datetime(jiff::Timestamp::now())
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
}

/// The events of `user` with this subject in the window.
async fn events(
    g: &gc_graph::GraphClient,
    user: &str,
    subject: &str,
) -> Vec<gc_graph::models::Event> {
    let now = jiff::Timestamp::now();
    let d = jiff::SignedDuration::from_hours(24);
    g.calendar_view(user, now - d * 8, now + d * 15)
        .collect_ok()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(subject))
        .collect()
}

async fn one_event(
    g: &gc_graph::GraphClient,
    user: &str,
    subject: &str,
) -> gc_graph::models::Event {
    let found = events(g, user, subject).await;
    assert_eq!(found.len(), 1, "{user}: {subject:?}: {found:#?}");
    found.into_iter().next().unwrap()
}

async fn entries(rt: &Runtime) -> Vec<gc_store::LedgerEntry> {
    rt.store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Appointment),
            ..LedgerFilter::default()
        })
        .await
        .unwrap()
}

/// A CRM meeting of `rep` on day `d` from hour `hours.0` to `hours.1`.
fn meeting(subject: &str, d: jiff::civil::Date, hours: (i8, i8), rep: &gc_crm::Rep) -> NewActivity {
    let mut a = NewActivity::new("Meeting", subject, d);
    a.time = Some(jiff::civil::time(hours.0, 0, 0, 0));
    a.end_date = Some(d);
    a.end_time = Some(jiff::civil::time(hours.1, 0, 0, 0));
    a.rep_id = Some(rep.rep_id.clone());
    a
}

/// A trip wire on the next insert into CRM's activity table.
fn first_activity_insert(crm: &gc_crm::CrmClient, when: When) -> Tripwire {
    Tripwire {
        target: Target::Crm {
            command: Some(CrmCommand::Insert),
            table: Some(crm.dialect().activity.table.clone()),
        },
        nth: 1,
        when,
    }
}

/// Activities with this subject (any rep).
async fn activities(env: &Env, subject: &str) -> Vec<Activity> {
    let crm = env.crm();
    let d = crm.dialect().activity.clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: day(-30),
            to: day(30),
            rep_id: None,
            condition: None,
            fields: vec![d.subject.clone(), d.deleted.clone(), d.rep_id.clone()],
            with_participants: true,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.get(&d.subject) == Some(subject))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crm_appointments_travel_to_calendars_and_edits_and_deletions_follow() {
    let env = start(31).await;
    let config = config(&env, AppointmentConflict::Newest);
    let g = graph(&config);
    let reps = two_reps(&env).await;
    let (anna, anna_rep) = &reps[0];
    let (bob, bob_rep) = &reps[1];
    let person = env.demo.sandbox.directory().externals[0].email.clone();
    let crm = env.crm();
    let dl = crm.dialect().clone();

    // A CRM appointment of Anna's with Bob and a customer: 29 March is the night Vienna
    // moves its clocks, so 10:00 there is 08:00 UTC after it (09:00 before).
    let mut a = NewActivity::new("Meeting", "Budget review", day(3));
    a.time = Some(jiff::civil::time(10, 0, 0, 0));
    a.end_date = Some(day(3));
    a.end_time = Some(jiff::civil::time(11, 30, 0, 0));
    a.rep_id = Some(anna_rep.rep_id.clone());
    a.text = "Numbers for Q3".into();
    a.extra = vec![(dl.appointment.location.clone(), "Room 7".into())];
    a.participants = vec![
        NewParticipant {
            role: ParticipantRole::Required,
            email: bob.clone(),
            person: None,
            rep: Some(bob_rep.id),
            status: None,
        },
        NewParticipant {
            role: ParticipantRole::Required,
            email: person.clone(),
            person: None,
            rep: None,
            status: None,
        },
    ];
    let budget = crm.as_rep(anna).insert_activity(&a).await.unwrap();
    // And one that the rules keep out: marked deleted already.
    let mut gone = NewActivity::new("Meeting", "Cancelled before sync", day(2));
    gone.time = Some(jiff::civil::time(9, 0, 0, 0));
    gone.rep_id = Some(anna_rep.rep_id.clone());
    gone.extra = vec![(dl.activity.deleted.clone(), dl.format_bool(true))];
    crm.as_rep(anna).insert_activity(&gone).await.unwrap();

    let rt = Runtime::build(&config).await.unwrap();
    let first = cycle(&rt).await;
    assert!(first.created >= 1, "{first:?}");

    // One event in Anna's calendar, with the appointment's id, times in CRM's zone, the
    // customer and Bob invited; Bob's copy joined the same appointment.
    let ev = one_event(&g, anna, "Budget review").await;
    let start = ev.start.as_ref().unwrap();
    let expect = jiff::tz::TimeZone::get("Europe/Vienna")
        .unwrap()
        .to_ambiguous_timestamp(jiff::civil::DateTime::from_parts(
            day(3),
            jiff::civil::time(10, 0, 0, 0),
        ))
        .compatible()
        .unwrap();
    let got: jiff::Timestamp = format!("{}Z", start.date_time.trim_end_matches('Z'))
        .parse()
        .unwrap_or_else(|_| panic!("{start:?}"));
    assert_eq!(got, expect, "start in UTC: {start:?}");
    let full = g
        .get_event(
            anna,
            &ev.id,
            Some(&format!(
                "singleValueExtendedProperties($filter=id eq '{CRM_ID}')"
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        full.extended_property(CRM_ID),
        Some(budget.to_string().as_str())
    );
    let invited: Vec<String> = ev
        .attendees
        .iter()
        .flatten()
        .filter_map(|a| a.email_address.as_ref()?.address.clone())
        .map(|a| a.to_ascii_lowercase())
        .collect();
    assert!(invited.contains(&bob.to_ascii_lowercase()), "{invited:?}");
    assert!(
        invited.contains(&person.to_ascii_lowercase()),
        "{invited:?}"
    );
    assert!(events(&g, anna, "Cancelled before sync").await.is_empty());
    // Bob's copy arrives once Anna's event invites him: his calendar is read in the next run
    // (or in the same one, when his mailbox comes after Anna's).
    let second = cycle(&rt).await;
    assert_eq!(second.created, 0, "{second:?}");
    let bob_copy = one_event(&g, bob, "Budget review").await;
    assert_eq!(bob_copy.ical_uid, ev.ical_uid);
    assert_eq!(activities(&env, "Budget review").await.len(), 1);
    let links = rt
        .store
        .links_by_crm_id(Kind::Appointment, budget)
        .await
        .unwrap();
    assert_eq!(
        links
            .iter()
            .filter(|l| l.state == LinkState::Active)
            .count(),
        2,
        "Anna's event and Bob's copy: {links:#?}"
    );

    // Quiet: nothing is written again, on either side.
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.adopted, quiet.deleted),
        (0, 0, 0, 0),
        "{quiet:?}"
    );

    // A CRM edit: the event follows (and Bob's copy with it), no second appointment.
    crm.as_rep(anna)
        .update_activity(
            budget,
            &[
                (dl.activity.subject.clone(), "Budget review (final)".into()),
                (dl.activity.time.clone(), "14:00".into()),
                (dl.activity.end_time.clone(), "15:00".into()),
            ],
        )
        .await
        .unwrap();
    let r = cycle(&rt).await;
    assert!(r.updated >= 1, "{r:?}");
    let moved = one_event(&g, anna, "Budget review (final)").await;
    assert_eq!(moved.id, ev.id);
    one_event(&g, bob, "Budget review (final)").await;
    assert_eq!(activities(&env, "Budget review (final)").await.len(), 1);

    // Marked deleted in CRM: Anna's event goes, Bob's copy is cancelled.
    crm.as_rep(anna)
        .update_activity(
            budget,
            &[(dl.activity.deleted.clone(), dl.format_bool(true))],
        )
        .await
        .unwrap();
    let r = cycle(&rt).await;
    assert!(r.deleted >= 1, "{r:?}");
    assert!(events(&g, anna, "Budget review (final)").await.is_empty());
    let log = entries(&rt).await;
    assert!(
        log.iter()
            .any(|e| e.action == LedgerAction::Deleted && e.reason.contains("deleted in CRM")),
        "{log:#?}"
    );

    // Physically deleted in CRM: the full walk misses it, the event goes.
    let mut b = NewActivity::new("Meeting", "Short sync", day(1));
    b.time = Some(jiff::civil::time(8, 0, 0, 0));
    b.end_date = Some(day(1));
    b.end_time = Some(jiff::civil::time(8, 15, 0, 0));
    b.rep_id = Some(anna_rep.rep_id.clone());
    let short = crm.as_rep(anna).insert_activity(&b).await.unwrap();
    cycle(&rt).await;
    one_event(&g, anna, "Short sync").await;
    crm.master()
        .delete(&dl.activity.table, short)
        .await
        .unwrap();
    assert!(crm.master().activity(short).await.unwrap().is_none());
    let r = cycle(&rt).await;
    assert!(
        r.deleted >= 1,
        "{r:?} {:#?}",
        entries(&rt)
            .await
            .iter()
            .filter(|e| e.crm_id == Some(short))
            .map(|e| (e.action, e.reason.clone()))
            .collect::<Vec<_>>()
    );
    assert!(events(&g, anna, "Short sync").await.is_empty());

    // Leaving the window is not a deletion: a narrower window keeps the event.
    let mut far = NewActivity::new("Meeting", "Far ahead", day(12));
    far.time = Some(jiff::civil::time(9, 0, 0, 0));
    far.rep_id = Some(anna_rep.rep_id.clone());
    crm.as_rep(anna).insert_activity(&far).await.unwrap();
    cycle(&rt).await;
    one_event(&g, anna, "Far ahead").await;
    let mut narrow = self::config(&env, AppointmentConflict::Newest);
    narrow.appointments.days_future = 5;
    let rt2 = Runtime::build(&narrow).await.unwrap();
    let r = cycle(&rt2).await;
    assert_eq!(r.deleted, 0, "{r:?}");
    one_event(&g, anna, "Far ahead").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_sides_edited_follow_the_conflict_rule_and_keep_the_losing_version() {
    let env = start(32).await;
    let reps = two_reps(&env).await;
    let (anna, anna_rep) = &reps[0];
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let newest = config(&env, AppointmentConflict::Newest);
    let g = graph(&newest);

    let mut a = NewActivity::new("Meeting", "Plan", day(2));
    a.time = Some(jiff::civil::time(9, 0, 0, 0));
    a.end_date = Some(day(2));
    a.end_time = Some(jiff::civil::time(10, 0, 0, 0));
    a.rep_id = Some(anna_rep.rep_id.clone());
    let id = crm.as_rep(anna).insert_activity(&a).await.unwrap();
    let rt = Runtime::build(&newest).await.unwrap();
    cycle(&rt).await;
    let ev = one_event(&g, anna, "Plan").await;

    // Microsoft 365 first, CRM later: with "newest" CRM's version wins.
    g.update_event(anna, &ev.id, &json!({"subject": "Plan (event)"}))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    crm.as_rep(anna)
        .update_activity(id, &[(dl.activity.subject.clone(), "Plan (crm)".into())])
        .await
        .unwrap();
    let r = cycle(&rt).await;
    assert!(r.updated >= 1, "{r:?}");
    one_event(&g, anna, "Plan (crm)").await;
    let act = crm.master().activity(id).await.unwrap().unwrap();
    assert_eq!(act.get(&dl.activity.subject), Some("Plan (crm)"));
    let log = entries(&rt).await;
    let conflict = log
        .iter()
        .find(|e| e.reason.contains("both sides changed"))
        .unwrap_or_else(|| panic!("no conflict entry: {log:#?}"));
    let detail = conflict.detail.as_ref().unwrap();
    assert_eq!(detail["conflict"]["winner"], "crm");
    assert_eq!(
        detail["conflict"]["losingVersion"]["subject"], "Plan (event)",
        "the event's version is kept: {detail}"
    );

    // The same with "microsoft365": the event wins, CRM's version is in the ledger.
    let ms = config(&env, AppointmentConflict::Microsoft365);
    let rt_ms = Runtime::build(&ms).await.unwrap();
    cycle(&rt_ms).await;
    crm.as_rep(anna)
        .update_activity(id, &[(dl.activity.subject.clone(), "Plan (crm 2)".into())])
        .await
        .unwrap();
    g.update_event(anna, &ev.id, &json!({"subject": "Plan (event 2)"}))
        .await
        .unwrap();
    let r = cycle(&rt_ms).await;
    assert!(r.updated >= 1, "{r:?}");
    let act = crm.master().activity(id).await.unwrap().unwrap();
    assert_eq!(act.get(&dl.activity.subject), Some("Plan (event 2)"));
    one_event(&g, anna, "Plan (event 2)").await;
    let log = entries(&rt_ms).await;
    let conflict = log
        .iter()
        .filter(|e| e.reason.contains("both sides changed"))
        .find(|e| e.detail.as_ref().unwrap()["conflict"]["winner"] == "microsoft365")
        .unwrap_or_else(|| panic!("no conflict entry: {log:#?}"));
    assert_eq!(
        conflict.detail.as_ref().unwrap()["conflict"]["losingVersion"]["subject"],
        "Plan (crm 2)"
    );
    // Settled: a quiet run writes nothing.
    let quiet = cycle(&rt_ms).await;
    assert_eq!((quiet.created, quiet.updated), (0, 0), "{quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_written_just_before_a_crash_is_adopted_not_written_twice() {
    let env = start(33).await;
    let reps = two_reps(&env).await;
    let (anna, anna_rep) = &reps[0];
    let crm = env.crm();
    let config = config(&env, AppointmentConflict::Newest);
    let g = graph(&config);
    let a = meeting("Interrupted", day(1), (13, 14), anna_rep);
    let id: CrmId = crm.as_rep(anna).insert_activity(&a).await.unwrap();
    // What a run killed after the Graph create and before its commit leaves behind.
    g.create_event(
        anna,
        &json!({
            "subject": "Interrupted",
            "start": {"dateTime": format!("{}T12:00:00", day(1)), "timeZone": "UTC"},
            "end": {"dateTime": format!("{}T13:00:00", day(1)), "timeZone": "UTC"},
            "singleValueExtendedProperties": [{"id": CRM_ID, "value": id.to_string()}],
        }),
    )
    .await
    .unwrap();
    let rt = Runtime::build(&config).await.unwrap();
    let r = cycle(&rt).await;
    assert!(r.adopted >= 1, "{r:?}");
    one_event(&g, anna, "Interrupted").await;
    let log = entries(&rt).await;
    assert!(
        log.iter()
            .any(|e| e.action == LedgerAction::Adopted && e.reason.contains("CrmId")),
        "{log:#?}"
    );
    assert_eq!(activities(&env, "Interrupted").await.len(), 1);
}

/// A new CRM appointment read while an interrupted event-to-CRM write is unsettled is held
/// for that run (it might be the record the write made), and written to the calendar by the
/// next run: the CRM source's update stamp does not move past it while it is held, so it is
/// not left to the next full walk of the window (an hour later by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_appointment_held_behind_an_interrupted_write_reaches_the_calendar_next_run() {
    let env = start(37).await;
    let reps = two_reps(&env).await;
    let (anna, anna_rep) = &reps[0];
    let crm = env.crm();
    let mut config = config(&env, AppointmentConflict::Newest);
    config.appointments.full_walk_minutes = 60;
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    g.create_event(
        anna,
        &json!({
            "subject": "Written before the cut",
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
        }),
    )
    .await
    .unwrap();
    // The run is killed while the appointment is written (before its answer arrives): the
    // write stays unsettled.
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let wire = env
        .demo
        .sandbox
        .arm_tripwire(first_activity_insert(&crm, When::BeforeResponse), {
            let cut = cut.clone();
            move || cut.notify_one()
        });
    let options = Default::default();
    tokio::select! {
        biased;
        () = cut.notified() => {}
        r = rt.cycle(None, &gc_sync::NoProgress, &options) => panic!("not cut: {r:#?}"),
    }
    assert!(wire.fired());
    drop(wire);
    let mut unsettled = 0;
    for m in rt.store.list_mailboxes().await.unwrap() {
        let links = rt.store.unsettled_links(&m.rep_id, Kind::Appointment, None);
        unsettled += links.await.unwrap().len();
    }
    assert_eq!(unsettled, 1, "the cut write is unsettled");
    // Meanwhile a new appointment in CRM.
    let a = meeting("New in CRM meanwhile", d, (15, 16), anna_rep);
    crm.as_rep(anna).insert_activity(&a).await.unwrap();
    // This run settles the interrupted write, holding the new appointment; the next writes it.
    let settled = cycle(&rt).await;
    assert_eq!((settled.adopted, settled.created), (1, 0), "{settled:?}");
    let next = cycle(&rt).await;
    assert_eq!(next.created, 1, "{next:?}");
    one_event(&g, anna, "New in CRM meanwhile").await;
    one_event(&g, anna, "Written before the cut").await;
    assert_eq!(activities(&env, "Written before the cut").await.len(), 1);
    assert_eq!(activities(&env, "New in CRM meanwhile").await.len(), 1);
}

/// An event whose write to CRM was cut off after the insert (the record exists, with its
/// external key, but no link) and whose record CRM edited before the next run: the run that
/// adopts the record by its external key weighs the CRM edit by the conflict rule instead of
/// copying the event's fields over it without a trace (the model-based test's m8-33).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_edit_of_a_record_whose_write_was_cut_off_is_not_lost_at_its_adoption() {
    let env = start(39).await;
    let reps = two_reps(&env).await;
    let anna = &reps[0].0;
    let crm = env.crm();
    let config = config(&env, AppointmentConflict::Crm);
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(3);
    g.create_event(
        anna,
        &json!({
            "subject": "Cut before its link",
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
        }),
    )
    .await
    .unwrap();
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let wire = env
        .demo
        .sandbox
        .arm_tripwire(first_activity_insert(&crm, When::BeforeResponse), {
            let cut = cut.clone();
            move || cut.notify_one()
        });
    let options = Default::default();
    tokio::select! {
        biased;
        () = cut.notified() => {}
        r = rt.cycle(None, &gc_sync::NoProgress, &options) => panic!("not cut: {r:#?}"),
    }
    assert!(wire.fired());
    drop(wire);
    // The record the cut write made, edited in CRM before the next run.
    let written = activities(&env, "Cut before its link").await;
    assert_eq!(written.len(), 1);
    let subject = crm.dialect().activity.subject.clone();
    crm.as_rep(anna)
        .update_activity(written[0].id, &[(subject, "Edited in CRM".into())])
        .await
        .unwrap();
    let settled = cycle(&rt).await;
    assert_eq!(settled.created, 0, "{settled:?}");
    cycle(&rt).await;
    // CRM wins by rule: its edit is on both sides, the event's version in the ledger.
    assert!(activities(&env, "Cut before its link").await.is_empty());
    assert_eq!(activities(&env, "Edited in CRM").await.len(), 1);
    one_event(&g, anna, "Edited in CRM").await;
    let log = entries(&rt).await;
    assert!(
        log.iter()
            .any(|e| e.detail.as_ref().is_some_and(
                |d| d["conflict"]["losingVersion"]["subject"] == "Cut before its link"
            )),
        "{log:#?}"
    );
}

/// A meeting whose attendee's copy wrote the appointment, deleted physically in CRM (its
/// external key with it) before the organizer's copy was ever linked (the organizer's runs
/// were cut off): the attendee's link, closed with the record, still names it, so the
/// organizer's copy is a deletion in CRM (the meeting is cancelled), never a new appointment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_meeting_deleted_in_crm_before_its_organizer_linked_it_is_cancelled_not_written_again() {
    let env = start(35).await;
    let reps = two_reps(&env).await;
    let (anna, _) = &reps[0];
    let (bruno, _) = &reps[1];
    let config = config(&env, AppointmentConflict::Newest);
    let g = graph(&config);
    // The seeded calendars first: the organizer's later run is not a first sync (which,
    // with a deletion in its plan, would wait for review).
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    g.create_event(
        anna,
        &json!({
            "subject": "Deleted before linked",
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
            "attendees": [{"type": "required", "emailAddress": {"address": bruno}}],
        }),
    )
    .await
    .unwrap();
    // Only the attendee's mailbox runs: its copy writes the appointment.
    rt.cycle(Some(bruno), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let written = activities(&env, "Deleted before linked").await;
    assert_eq!(written.len(), 1, "{written:#?}");
    let crm = env.crm();
    let table = crm.dialect().activity.table.clone();
    crm.master().delete(&table, written[0].id).await.unwrap();
    // The attendee's run closes its link; then the organizer's first run.
    rt.cycle(Some(bruno), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let r = cycle(&rt).await;
    assert_eq!(r.deleted, 1, "{r:?}");
    assert!(
        events(&g, anna, "Deleted before linked").await.is_empty(),
        "the organizer's event is cancelled"
    );
    assert!(
        activities(&env, "Deleted before linked").await.is_empty(),
        "no appointment written again"
    );
}

/// An event linked by a round whose checkpoint was never stored (another item of its page was
/// delayed), then deleted by the user before the next run: the next delta, read from the old
/// checkpoint, never reports an event created and deleted since, so the run reads the links
/// written after that checkpoint by id, and the deletion reaches CRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_linked_by_a_round_without_checkpoint_and_then_deleted_is_deleted_in_crm() {
    let env = start(36).await;
    let reps = two_reps(&env).await;
    let (anna, _) = &reps[0];
    let crm = env.crm();
    let mut config = config(&env, AppointmentConflict::Newest);
    // A CRM request that fails is not tried again in the run: its item is delayed.
    config.errors.max_retries = 0;
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    for (subject, hour) in [("Linked, then deleted", 9), ("Delayed once", 11)] {
        g.create_event(
            anna,
            &json!({
                "subject": subject,
                "start": {"dateTime": format!("{d}T{hour:02}:00:00"), "timeZone": "UTC"},
                "end": {"dateTime": format!("{d}T{:02}:00:00", hour + 1), "timeZone": "UTC"},
            }),
        )
        .await
        .unwrap();
    }
    // One of the two writes to CRM never arrives: that item is delayed, so its page (the
    // only one) keeps the old checkpoint, while the other item is written and linked.
    let wire = env
        .demo
        .sandbox
        .arm_tripwire(first_activity_insert(&crm, When::BeforeProcessing), || {});
    let r = rt
        .cycle(Some(anna), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert!(wire.fired());
    drop(wire);
    assert_eq!(r.total(Kind::Appointment).delayed, 1, "{r:#?}");
    let written: Vec<_> = [("Linked, then deleted", 9), ("Delayed once", 11)]
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let mut linked = None;
    for subject in &written {
        if activities(&env, subject).await.len() == 1 {
            linked = Some(*subject);
        }
    }
    let linked = linked.expect("one of the two was written");
    let other = written.iter().find(|s| **s != linked).unwrap();
    // The user deletes the linked event before the next run.
    let ev = one_event(&g, anna, linked).await;
    g.delete_event(anna, &ev.id).await.unwrap();
    let r = cycle(&rt).await;
    assert_eq!((r.created, r.deleted), (1, 1), "{r:?}");
    let dl = crm.dialect().activity.clone();
    let gone = activities(&env, linked).await;
    assert_eq!(gone.len(), 1, "{gone:#?}");
    assert_eq!(
        gone[0]
            .get(&dl.deleted)
            .map(|v| crm.dialect().parse_bool(v)),
        Some(true),
        "the deletion reached CRM: {gone:#?}"
    );
    assert_eq!(activities(&env, other).await.len(), 1);
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:?}"
    );
}
