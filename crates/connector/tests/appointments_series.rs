//! End to end: a recurring series across a change of daylight saving time, against the
//! in-process sandbox (Graph calendar over HTTP with attendee copies, CRM.interface, SQLite
//! state). A weekly meeting at 09:00 Vienna time, organized by one synced rep with another
//! as attendee, becomes one master record and one serial record per occurrence in the window,
//! every one at 09:00 CRM time on both sides of the change, each rep a participant; a moved
//! occurrence updates its record, a cancelled one marks its record `ConnectorDeleted`; a run
//! with nothing new writes nothing. A serial record created in CRM becomes a single event; a
//! master record created in CRM is not written as an event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use gc_crm::{Activity, NewActivity};
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter};
use graph_connector::commands::sync::Runtime;
use jiff::civil::{Date, Weekday, date, time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::json;

const SUBJECT: &str = "Weekly planning";

fn vienna() -> TimeZone {
    TimeZone::get("Europe/Vienna").unwrap()
}

fn today() -> Date {
    vienna().to_datetime(Timestamp::now()).date()
}

/// The change of daylight saving time in Vienna (the last Sunday of March or October)
/// nearest to today, so that the window around it stays small whatever the date.
fn nearest_dst_change() -> Date {
    let t = today();
    let last_sunday = |y: i16, m: i8| {
        let mut d = date(y, m, 1).last_of_month();
        while d.weekday() != Weekday::Sunday {
            d = d.yesterday().unwrap();
        }
        d
    };
    (t.year() - 1..=t.year() + 1)
        .flat_map(|y| [last_sunday(y, 3), last_sunday(y, 10)])
        .min_by_key(|d| (t - *d).get_days().abs())
        .unwrap()
}

/// The Mondays of the series: two before the change, three after.
fn mondays(change: Date) -> Vec<Date> {
    (0..5)
        .map(|w| change.checked_add((w * 7 - 13).days()).unwrap())
        .collect()
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

/// Activities with this subject (any rep), with the series fields.
async fn activities(env: &Env, subject: &str, from: Date, to: Date) -> Vec<Activity> {
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let (d, m) = (&dl.activity, &dl.appointment);
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from,
            to,
            rep_id: None,
            condition: None,
            fields: vec![
                d.subject.clone(),
                d.date.clone(),
                d.time.clone(),
                d.end_time.clone(),
                d.deleted.clone(),
                m.is_master.clone(),
                m.is_serial.clone(),
                m.master_stat_no.clone(),
                m.master_seq_no.clone(),
            ],
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
async fn a_series_with_a_moved_and_a_cancelled_occurrence_across_a_dst_change() {
    let change = nearest_dst_change();
    let days = mondays(change);
    let (first, last) = (days[0], days[4]);
    let days_past = (today() - first).get_days().max(0) + 2;
    let days_future = (last - today()).get_days().max(0) + 2;
    let env = Env::start(
        SandboxOptions {
            users: 4,
            seed: 41,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        &format!(
            "[appointments]\nenabled = true\ndays_past = {days_past}\ndays_future = {days_future}\n\
             deletion_window_days = 400\nfull_walk_minutes = 0\n"
        ),
    )
    .await;
    let mut config = env.config();
    config.crm.time_zone = Some("Europe/Vienna".into());
    // Deleting the whole series marks every record of it at once: more than the mass-delete
    // guard lets through by default (docs/SAFETY.md). This test is about series, not the guard.
    config.errors.max_delete_fraction = 1.0;
    let g = gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
        .unwrap();
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let reps = crm.master().enabled_reps().await.unwrap();
    let two: Vec<(String, gc_crm::Rep)> = env
        .users()
        .into_iter()
        .filter_map(|u| {
            reps.iter()
                .find(|r| r.sync_appointments && r.email.as_deref() == Some(u.as_str()))
                .map(|r| (u.clone(), r.clone()))
        })
        .take(2)
        .collect();
    assert_eq!(two.len(), 2, "two reps synchronize appointments");
    let (anna, anna_rep) = &two[0];
    let (bob, bob_rep) = &two[1];

    // Anna's weekly meeting with Bob, Mondays 09:00-10:00 Vienna time (a Windows zone name,
    // as Outlook writes it), five times.
    let zone = "W. Europe Standard Time";
    let master = g
        .create_event(
            anna,
            &json!({
                "subject": SUBJECT,
                "body": {"contentType": "text", "content": "Plans for the week"},
                "location": {"displayName": "Room 4"},
                "start": {"dateTime": format!("{first}T09:00:00"), "timeZone": zone},
                "end": {"dateTime": format!("{first}T10:00:00"), "timeZone": zone},
                "attendees": [{"type": "required", "emailAddress": {"address": bob}}],
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                    "range": {"type": "numbered", "startDate": first.to_string(), "numberOfOccurrences": 5, "recurrenceTimeZone": zone},
                },
            }),
        )
        .await
        .unwrap();

    let rt = Runtime::build(&config).await.unwrap();
    let r = cycle(&rt).await;
    assert!(r.created >= 6, "{r:?}");

    let from = first.checked_sub(1.days()).unwrap();
    let to = last.checked_add(1.days()).unwrap();
    let found = activities(&env, SUBJECT, from, to).await;
    let is = |a: &Activity, f: &str| a.get(f).is_some_and(|v| dl.parse_bool(v));
    let masters: Vec<&Activity> = found
        .iter()
        .filter(|a| is(a, &dl.appointment.is_master))
        .collect();
    assert_eq!(masters.len(), 1, "one master record: {found:#?}");
    let m = masters[0];
    assert_eq!(m.get(&dl.activity.date), Some(first.to_string().as_str()));
    assert_eq!(m.get(&dl.activity.time), Some("09:00"));
    let serials = |found: &[Activity]| -> Vec<Activity> {
        let mut v: Vec<Activity> = found
            .iter()
            .filter(|a| is(a, &dl.appointment.is_serial))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.get(&dl.activity.date).cmp(&b.get(&dl.activity.date)));
        v
    };
    let s = serials(&found);
    assert_eq!(s.len(), 5, "one serial record per occurrence: {found:#?}");
    assert_eq!(found.len(), 6, "nothing else: {found:#?}");
    for (a, d) in s.iter().zip(&days) {
        // 09:00 in Vienna on both sides of the change (07:00 or 08:00 UTC).
        assert_eq!(a.get(&dl.activity.date), Some(d.to_string().as_str()));
        assert_eq!(a.get(&dl.activity.time), Some("09:00"), "{a:#?}");
        assert_eq!(a.get(&dl.activity.end_time), Some("10:00"), "{a:#?}");
        assert_eq!(
            a.get(&dl.appointment.master_stat_no),
            Some(m.id.stat_no().to_string().as_str())
        );
        assert_eq!(
            a.get(&dl.appointment.master_seq_no),
            Some(m.id.seq_no().to_string().as_str())
        );
        assert!(!is(a, &dl.activity.deleted));
        // Anna's copy and Bob's: one record, both reps participants.
        let reps_in: Vec<_> = a.participants.iter().filter_map(|p| p.rep).collect();
        assert!(
            reps_in.contains(&anna_rep.id) && reps_in.contains(&bob_rep.id),
            "{a:#?}"
        );
    }
    let utc = |d: Date| {
        vienna()
            .to_ambiguous_timestamp(d.to_datetime(time(9, 0, 0, 0)))
            .compatible()
            .unwrap()
    };
    // The change is real: the offsets before and after differ.
    assert_ne!(
        utc(days[1]).as_second() % 86_400,
        utc(days[2]).as_second() % 86_400,
        "{change} changes the UTC offset"
    );

    // A second run: Bob's copy (if his mailbox came first) or nothing, never a new record.
    cycle(&rt).await;
    assert_eq!(activities(&env, SUBJECT, from, to).await.len(), 6);

    // Anna moves the fourth occurrence to 10:30 and cancels the fifth.
    let now = Timestamp::now();
    let instances = g
        .event_instances(
            anna,
            &master.id,
            utc(first) - jiff::SignedDuration::from_hours(24),
            utc(last) + jiff::SignedDuration::from_hours(24),
        )
        .collect_ok()
        .await
        .unwrap();
    assert_eq!(instances.len(), 5, "{instances:#?}");
    let on = |d: Date| {
        instances
            .iter()
            .find(|i| {
                i.original_start
                    .as_deref()
                    .and_then(|s| s.parse::<Timestamp>().ok())
                    == Some(utc(d))
            })
            .unwrap()
            .id
            .clone()
    };
    g.update_event(
        anna,
        &on(days[3]),
        &json!({
            "start": {"dateTime": format!("{}T10:30:00", days[3]), "timeZone": zone},
            "end": {"dateTime": format!("{}T11:30:00", days[3]), "timeZone": zone},
        }),
    )
    .await
    .unwrap();
    g.delete_event(anna, &on(days[4])).await.unwrap();
    let r = cycle(&rt).await;
    assert!(r.updated >= 1 && r.deleted >= 1, "{r:?}");
    // Bob's copies follow in the same run or the next; nothing more is written after that.
    cycle(&rt).await;

    let found = activities(&env, SUBJECT, from, to).await;
    assert_eq!(found.len(), 6, "no record added: {found:#?}");
    let s = serials(&found);
    assert_eq!(
        s[3].get(&dl.activity.time),
        Some("10:30"),
        "moved: {:#?}",
        s[3]
    );
    assert_eq!(s[3].get(&dl.activity.end_time), Some("11:30"));
    assert!(is(&s[4], &dl.activity.deleted), "cancelled: {:#?}", s[4]);
    for a in &s[..3] {
        assert_eq!(a.get(&dl.activity.time), Some("09:00"));
        assert!(!is(a, &dl.activity.deleted));
    }
    let masters: Vec<&Activity> = found
        .iter()
        .filter(|a| is(a, &dl.appointment.is_master))
        .collect();
    assert_eq!(masters.len(), 1);
    assert!(!is(masters[0], &dl.activity.deleted));
    let log = rt
        .store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Appointment),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e.action == LedgerAction::Updated
            && e.crm_id == Some(s[3].id)
            && e.reason.contains("exception")),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|e| e.action == LedgerAction::Deleted
            && e.crm_id == Some(s[4].id)
            && e.reason.contains("occurrence was cancelled")),
        "{log:#?}"
    );

    // Quiet: nothing is written, on either side.
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.adopted, quiet.deleted),
        (0, 0, 0, 0),
        "{quiet:?}"
    );

    // CRM → Microsoft 365: a serial record created in CRM is written as a single event; a
    // master record is not written at all (its occurrences would be duplicated).
    let tomorrow = today().checked_add(1.days()).unwrap();
    let mut serial = NewActivity::new("Meeting", "Serial from CRM", tomorrow);
    serial.time = Some(time(14, 0, 0, 0));
    serial.end_date = Some(tomorrow);
    serial.end_time = Some(time(15, 0, 0, 0));
    serial.rep_id = Some(anna_rep.rep_id.clone());
    serial.extra = vec![(dl.appointment.is_serial.clone(), dl.format_bool(true))];
    crm.as_rep(anna).insert_activity(&serial).await.unwrap();
    let mut crm_master = NewActivity::new("Meeting", "Master from CRM", tomorrow);
    crm_master.time = Some(time(16, 0, 0, 0));
    crm_master.rep_id = Some(anna_rep.rep_id.clone());
    crm_master.extra = vec![(dl.appointment.is_master.clone(), dl.format_bool(true))];
    crm.as_rep(anna).insert_activity(&crm_master).await.unwrap();
    let r = cycle(&rt).await;
    assert_eq!(r.created, 1, "{r:?}");
    let d = jiff::SignedDuration::from_hours(24);
    let view = g
        .calendar_view(anna, now - d * 2, now + d * 3)
        .collect_ok()
        .await
        .unwrap();
    let single: Vec<_> = view
        .iter()
        .filter(|e| e.subject.as_deref() == Some("Serial from CRM"))
        .collect();
    assert_eq!(single.len(), 1, "{view:#?}");
    assert_eq!(
        single[0].event_type,
        Some(gc_graph::models::EventType::SingleInstance)
    );
    assert!(
        !view
            .iter()
            .any(|e| e.subject.as_deref() == Some("Master from CRM")),
        "a CRM master record is not an event"
    );
    // Its echo is no change: nothing more to write.
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:?}"
    );

    // Anna deletes the whole series (Bob's copy is cancelled): the master record and every
    // serial record are marked, nothing is added.
    g.delete_event(anna, &master.id).await.unwrap();
    let r = cycle(&rt).await;
    assert!(r.deleted >= 1, "{r:?}");
    cycle(&rt).await;
    let found = activities(&env, SUBJECT, from, to).await;
    assert_eq!(found.len(), 6, "{found:#?}");
    assert!(
        found.iter().all(|a| is(a, &dl.activity.deleted)),
        "every record marked: {found:#?}"
    );
}

/// A series whose occurrences in the window are all cancelled is invisible to the calendar's
/// delta (it reports occurrences, never masters): its rename, and then its deletion, reach the
/// master record through the CRM side's walk, which reads the master of a linked master
/// record (docs/SYNC.md, "Series").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_series_without_occurrences_in_the_window_follows_its_master() {
    let env = Env::start(
        SandboxOptions {
            users: 2,
            seed: 43,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n",
    )
    .await;
    let config = env.config();
    let g = gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
        .unwrap();
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let reps = crm.master().enabled_reps().await.unwrap();
    let anna = env
        .users()
        .into_iter()
        .find(|u| {
            reps.iter()
                .any(|r| r.sync_appointments && r.email.as_deref() == Some(u.as_str()))
        })
        .unwrap();
    let utc = |d: Date, h: i8| {
        TimeZone::UTC
            .to_timestamp(d.to_datetime(time(h, 0, 0, 0)))
            .unwrap()
    };
    let first = TimeZone::UTC
        .to_datetime(Timestamp::now())
        .date()
        .checked_add(1.days())
        .unwrap();
    const DAILY: &str = "Daily stand-up";
    let master = g
        .create_event(
            &anna,
            &json!({
                "subject": DAILY,
                "start": {"dateTime": format!("{first}T09:00:00"), "timeZone": "UTC"},
                "end": {"dateTime": format!("{first}T09:15:00"), "timeZone": "UTC"},
                "recurrence": {
                    "pattern": {"type": "daily", "interval": 1},
                    "range": {"type": "numbered", "startDate": first.to_string(), "numberOfOccurrences": 2, "recurrenceTimeZone": "UTC"},
                },
            }),
        )
        .await
        .unwrap();
    let rt = Runtime::build(&config).await.unwrap();
    let r = cycle(&rt).await;
    assert!(r.created >= 3, "{r:?}");
    let (from, to) = (first, first.checked_add(2.days()).unwrap());
    let is = |a: &Activity, f: &str| a.get(f).is_some_and(|v| dl.parse_bool(v));

    // Both occurrences cancelled: their records are marked, the master record stays.
    let instances = g
        .event_instances(&anna, &master.id, utc(first, 0), utc(to, 0))
        .collect_ok()
        .await
        .unwrap();
    assert_eq!(instances.len(), 2, "{instances:#?}");
    for i in &instances {
        g.delete_event(&anna, &i.id).await.unwrap();
    }
    let r = cycle(&rt).await;
    assert_eq!(r.deleted, 2, "{r:?}");
    cycle(&rt).await;

    // Renamed: the master record follows.
    const RENAMED: &str = "Daily stand-up (paused)";
    g.update_event(&anna, &master.id, &json!({"subject": RENAMED}))
        .await
        .unwrap();
    let r = cycle(&rt).await;
    assert_eq!(r.updated, 1, "{r:?}");
    let renamed = activities(&env, RENAMED, from, to).await;
    assert_eq!(renamed.len(), 1, "the master record renamed: {renamed:#?}");
    assert!(is(&renamed[0], &dl.appointment.is_master));
    assert!(!is(&renamed[0], &dl.activity.deleted));
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:?}"
    );

    // Deleted: the master record is marked; nothing else changes.
    g.delete_event(&anna, &master.id).await.unwrap();
    let r = cycle(&rt).await;
    assert_eq!(r.deleted, 1, "{r:?}");
    let renamed = activities(&env, RENAMED, from, to).await;
    assert!(is(&renamed[0], &dl.activity.deleted), "{renamed:#?}");
    let serials = activities(&env, DAILY, from, to).await;
    assert_eq!(serials.len(), 2, "{serials:#?}");
    assert!(serials.iter().all(|a| is(a, &dl.activity.deleted)));
    let quiet = cycle(&rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:?}"
    );
}
