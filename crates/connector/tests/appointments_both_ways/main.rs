//! End to end: CRM appointments to Microsoft 365 calendars and back, against the in-process
//! sandbox (Graph calendar over HTTP with attendee copies, CRM.interface with update stamps,
//! SQLite state): a CRM appointment becomes one event with its participants invited (their
//! copies join the same appointment), CRM edits and deletions follow, both sides edited
//! between two runs follow `[appointments] conflict` with the losing version in the ledger,
//! an event written just before a crash is adopted, not written twice, a CRM appointment
//! held behind a write a crash interrupted reaches the calendar in the next run, and a CRM
//! edit of the record such a write made, or one an attendee's copy met while the organizer's
//! runs were cut off, or one met by the organizer's copy adopting the record through the link
//! of an attendee's copy that adopted it after the edit, or by the key an attendee's cut-off
//! write wrote, is weighed by the conflict rule when the record is adopted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod crashes;
mod edits;

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

/// `organizer`'s meeting with `attendees` on `d` (9–10 UTC), subject "Agreed subject": the
/// content both sides agree on before CRM edits the record ("Edited in CRM").
async fn agreed_meeting(
    g: &gc_graph::GraphClient,
    organizer: &str,
    attendees: &[&str],
    d: jiff::civil::Date,
) {
    let attendees: Vec<_> = attendees
        .iter()
        .map(|a| json!({"type": "required", "emailAddress": {"address": a}}))
        .collect();
    g.create_event(
        organizer,
        &json!({
            "subject": "Agreed subject",
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
            "attendees": attendees,
        }),
    )
    .await
    .unwrap();
}

/// After the organizer's copy adopted the record CRM edited, under `conflict = "crm"`: the
/// edit was not lost without a trace (it is in CRM, or the ledger keeps it as a losing
/// version), the event's own version is in the ledger, and the organizer's event shows the
/// edit. The ledger as it then was.
async fn assert_the_crm_edit_was_weighed(
    env: &Env,
    rt: &Runtime,
    g: &gc_graph::GraphClient,
    organizer: &str,
) -> Vec<gc_store::LedgerEntry> {
    let log = entries(rt).await;
    let losing = |subject: &str| {
        log.iter().any(|e| {
            e.detail
                .as_ref()
                .is_some_and(|d| d["conflict"]["losingVersion"]["subject"] == subject)
        })
    };
    assert!(
        activities(env, "Edited in CRM").await.len() == 1 || losing("Edited in CRM"),
        "the CRM edit was lost without a trace: {log:#?}"
    );
    assert!(losing("Agreed subject"), "{log:#?}");
    one_event(g, organizer, "Edited in CRM").await;
    log
}

/// A settled tenant: the next cycle writes nothing and adds no ledger entry to the `before`
/// entries.
async fn assert_quiet(rt: &Runtime, before: usize) {
    let quiet = cycle(rt).await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:?}"
    );
    assert_eq!(entries(rt).await.len(), before, "{:#?}", entries(rt).await);
}
