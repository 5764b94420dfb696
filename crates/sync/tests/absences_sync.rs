//! End to end: the absences kind against the in-process sandbox (Microsoft 365 and
//! CRM.interface over HTTP, a SQLite state store): the rep's CRM absences in the window become
//! out-of-office events carrying the absence id; updates and deletions follow; the window's
//! edges hold; CRM stays the owner of an event the user deletes; leaving the window is not a
//! deletion; an interrupted create is adopted, not repeated; the user's own events stay as
//! they were.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crm_kinds;

use crm_kinds::{Env, days, today};
use gc_crm::CrmId;
use gc_graph::models::Event;
use gc_sandbox::{Target, Tripwire, When};
use gc_store::{Kind, LedgerAction};
use gc_sync::absences::model::ABSENCE_PROPERTY;
use gc_sync::{AbsenceKind, AbsenceRules, MailboxOutcome, MailboxTarget};
use serde_json::json;

fn rules() -> AbsenceRules {
    AbsenceRules {
        days_past: 7,
        days_future: 30,
        ..AbsenceRules::default()
    }
}

fn kind(env: &Env) -> AbsenceKind {
    AbsenceKind::new(env.graph_mail(), env.crm_side(), rules())
}

async fn events_of(env: &Env, t: &MailboxTarget, absence: CrmId) -> Vec<Event> {
    env.graph
        .events_with_property(&t.graph_user, ABSENCE_PROPERTY, &absence.to_string())
        .await
        .unwrap()
}

async fn absence(
    env: &Env,
    t: &MailboxTarget,
    from: i64,
    to: i64,
    times: Option<(&str, &str)>,
    kind: &str,
) -> CrmId {
    let d = today();
    let (st, et) = times.unwrap_or(("", ""));
    env.insert(
        "Absences",
        &[
            ("RepID", &t.owner.rep_number),
            ("StartDate", &days(d, from)),
            ("EndDate", &days(d, to)),
            ("StartTime", st),
            ("EndTime", et),
            ("Type", kind),
            ("Text", "from CRM"),
        ],
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absences_become_out_of_office_events_and_follow_crm() {
    let env = Env::start(41).await;
    let t = env.target_for(Kind::Absence).await;
    let d = today();
    let vacation = absence(&env, &t, 2, 4, Some(("00:00", "23:59")), "Vacation").await;
    let doctor = absence(&env, &t, 1, 1, Some(("09:00", "12:00")), "Doctor").await;
    // window [today - 7, today + 30]: absences overlapping it count, by whole days
    let past_in = absence(&env, &t, -10, -7, None, "Training").await;
    let past_out = absence(&env, &t, -10, -8, None, "Training").await;
    let future_in = absence(&env, &t, 30, 32, None, "Sabbatical").await;
    let future_out = absence(&env, &t, 31, 32, None, "Sabbatical").await;
    // the user's own out-of-office event on the same days, with the same subject
    let own = env
        .graph
        .create_event(
            &t.graph_user,
            &json!({
                "subject": "Vacation",
                "start": {"dateTime": format!("{}T00:00:00", days(d, 2)), "timeZone": "UTC"},
                "end": {"dateTime": format!("{}T00:00:00", days(d, 5)), "timeZone": "UTC"},
                "isAllDay": true,
                "showAs": "oof",
            }),
        )
        .await
        .unwrap();
    let own_before = env
        .graph
        .get_event(&t.graph_user, &own.id, None)
        .await
        .unwrap();

    let k = kind(&env);
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.outcome, r.failed, r.delayed),
        (MailboxOutcome::Complete, 0, 0),
        "{r:?}"
    );
    assert!(r.created >= 4, "{r:?}");
    let v = events_of(&env, &t, vacation).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].subject.as_deref(), Some("Vacation"));
    assert_eq!(v[0].is_all_day, Some(true));
    assert_eq!(v[0].show_as.as_deref(), Some("oof"));
    assert!(
        v[0].start
            .as_ref()
            .unwrap()
            .date_time
            .starts_with(&days(d, 2)),
        "{:?}",
        v[0].start
    );
    assert!(
        v[0].end
            .as_ref()
            .unwrap()
            .date_time
            .starts_with(&days(d, 5)),
        "exclusive end"
    );
    let doc = events_of(&env, &t, doctor).await;
    assert_eq!(doc.len(), 1);
    assert_eq!(doc[0].is_all_day, Some(false));
    assert!(
        doc[0]
            .start
            .as_ref()
            .unwrap()
            .date_time
            .starts_with(&format!("{}T09:00", days(d, 1)))
    );
    assert_eq!(
        events_of(&env, &t, past_in).await.len(),
        1,
        "ends on the window's first day"
    );
    assert!(
        events_of(&env, &t, past_out).await.is_empty(),
        "ended the day before"
    );
    assert_eq!(
        events_of(&env, &t, future_in).await.len(),
        1,
        "starts on the window's last day"
    );
    assert!(
        events_of(&env, &t, future_out).await.is_empty(),
        "starts the day after"
    );
    // CRM knows the event through an external key of content type text/x-mmAbsences
    let xk = env
        .crm
        .master()
        .find_external_keys(None, &[v[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(xk.len(), 1);
    assert_eq!(xk[0].content_type, "text/x-mmAbsences");
    assert_eq!(xk[0].record.as_ref().map(|r| r.1), Some(vacation));

    // nothing changed: nothing written
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 0), "{r:?}");

    // update
    env.update(
        "Absences",
        doctor,
        &[("Type", "Dentist"), ("EndTime", "13:00")],
    )
    .await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 1, 0), "{r:?}");
    let doc = events_of(&env, &t, doctor).await;
    assert_eq!(doc.len(), 1);
    assert_eq!(doc[0].subject.as_deref(), Some("Dentist"));
    assert!(doc[0].end.as_ref().unwrap().date_time.contains("T13:00"));

    // the user deletes an absence event: CRM stays the owner; it comes back with the
    // absence's next change in CRM, not before
    env.graph
        .delete_event(&t.graph_user, &v[0].id)
        .await
        .unwrap();
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 0), "{r:?}");
    assert!(events_of(&env, &t, vacation).await.is_empty());
    env.update("Absences", vacation, &[("Text", "two weeks at the sea")])
        .await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated), (1, 0), "{r:?}");
    assert_eq!(events_of(&env, &t, vacation).await.len(), 1);

    // deleted in CRM: the event goes
    env.delete("Absences", doctor).await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 1), "{r:?}");
    assert!(events_of(&env, &t, doctor).await.is_empty());
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.created, r.updated, r.deleted),
        (0, 0, 0),
        "deleted once: {r:?}"
    );

    // the user's own event: as it was
    let own_after = env
        .graph
        .get_event(&t.graph_user, &own.id, None)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&own_after).unwrap(),
        serde_json::to_value(&own_before).unwrap()
    );

    // every decision with its reason
    let ledger = env.ledger(Kind::Absence).await;
    let key = format!("absence:{doctor}");
    let mine: Vec<_> = ledger.iter().filter(|(_, k, _)| *k == key).collect();
    let actions: Vec<LedgerAction> = mine.iter().map(|e| e.0).collect();
    assert_eq!(
        actions,
        [
            LedgerAction::Created,
            LedgerAction::Updated,
            LedgerAction::Deleted
        ],
        "{mine:?}"
    );
    assert!(mine[0].2.contains("in the window"));
    assert!(mine[1].2.contains("changed in CRM"));
    assert!(mine[2].2.contains("deleted in CRM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_the_window_is_not_a_deletion() {
    let env = Env::start(42).await;
    let t = env.target_for(Kind::Absence).await;
    let a = absence(&env, &t, 3, 4, None, "Conference").await;
    let k = kind(&env);
    let r = env.run(&k, &t).await;
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(events_of(&env, &t, a).await.len(), 1);
    // moved into the past, beyond the window: the event follows once, then stays
    let d = today();
    env.update(
        "Absences",
        a,
        &[("StartDate", &days(d, -20)), ("EndDate", &days(d, -19))],
    )
    .await;
    let r = env.run(&k, &t).await;
    assert_eq!((r.deleted, r.skipped, r.failed), (0, 1, 0), "{r:?}");
    let ev = events_of(&env, &t, a).await;
    assert_eq!(ev.len(), 1, "still there");
    assert!(
        ev[0]
            .start
            .as_ref()
            .unwrap()
            .date_time
            .starts_with(&days(d, -20))
    );
    let ledger = env.ledger(Kind::Absence).await;
    assert!(
        ledger
            .iter()
            .any(|(act, _, why)| *act == LedgerAction::Skipped && why.contains("left the window"))
    );
    let r = env.run(&k, &t).await;
    assert_eq!(
        (r.deleted, r.skipped, r.created),
        (0, 0, 0),
        "not followed any more: {r:?}"
    );
    assert_eq!(events_of(&env, &t, a).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_create_is_adopted_without_a_duplicate() {
    let env = Env::start(43).await;
    let t = env.target_for(Kind::Absence).await;
    // the rep's only absences are this one and the seed's; cut the first event create
    let a = absence(&env, &t, 1, 2, None, "Vacation").await;
    let wire = env.sandbox.arm_tripwire(
        Tripwire {
            target: Target::GraphWrite,
            nth: 1,
            when: When::BeforeResponse,
        },
        || {},
    );
    let k = kind(&env);
    let r = env.run(&k, &t).await;
    assert!(wire.fired());
    assert_eq!(r.delayed, 1, "{r:?}");
    let r = env.run(&k, &t).await;
    assert_eq!((r.adopted, r.delayed, r.failed), (1, 0, 0), "{r:?}");
    let ev = events_of(&env, &t, a).await;
    assert_eq!(ev.len(), 1, "no duplicate");
    // and CRM has the key once
    let xk = env
        .crm
        .master()
        .find_external_keys(None, &[ev[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(xk.len(), 1);
    assert!(
        env.ledger(Kind::Absence)
            .await
            .iter()
            .any(|(act, _, why)| *act == LedgerAction::Adopted && why.contains("interrupted"))
    );
}
