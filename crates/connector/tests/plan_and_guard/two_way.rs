//! `plan` against `sync --once` both ways, over four rounds of work on either side: CRM
//! creates, edits and deletions (marked and physical), calendar edits and deletions, a
//! conflict, and shared CRM meetings whose invitees adopt exactly the copies their organizers'
//! plans expect. The longest test of the file, with the CRM helpers only it uses.

use std::collections::BTreeMap;

use gc_crm::NewActivity;
use gc_store::{Kind, LedgerAction, LedgerFilter};
use serde_json::{Value, json};

use super::counts::{assert_as_planned, checked_plan, plan_totals, sync_totals};
use super::harness::{events, graph, json_of, store, subjects};
use super::{ONE_AT_A_TIME, calendars};
use crate::common::{Env, day, new_event};

/// A CRM appointment of `rep` (`user`'s), `days` from today at `hour`, for an hour, with
/// these other participants (addresses, and the rep record of those who are reps).
async fn crm_appointment(
    env: &Env,
    user: &str,
    rep: &gc_crm::Rep,
    subject: &str,
    days: i64,
    hour: i8,
    others: &[(&str, Option<gc_crm::CrmId>)],
) -> gc_crm::CrmId {
    let mut a = NewActivity::new("Meeting", subject, day(days));
    a.time = Some(jiff::civil::time(hour, 0, 0, 0));
    a.end_date = Some(day(days));
    a.end_time = Some(jiff::civil::time(hour + 1, 0, 0, 0));
    a.rep_id = Some(rep.rep_id.clone());
    a.participants = others
        .iter()
        .map(|(email, rep)| gc_crm::NewParticipant {
            role: gc_crm::ParticipantRole::Required,
            email: (*email).to_owned(),
            person: None,
            rep: *rep,
            status: None,
        })
        .collect();
    env.crm().as_rep(user).insert_activity(&a).await.unwrap()
}

/// `user`'s event with this subject (exactly one).
async fn event_titled(g: &gc_graph::GraphClient, user: &str, subject: &str) -> String {
    let found: Vec<_> = events(g, user)
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(found.len(), 1, "{user}: {subject:?}: {found:#?}");
    found[0].id.clone()
}

/// Both directions (`direction = "both"`, the default): the CRM → Microsoft 365 half of a plan
/// (events created, updated and deleted from CRM appointments, an appointment deleted in CRM
/// physically, both sides changed) is what the following sync does, number for number per
/// kind and per mailbox, over rounds of work on either side, and the plan writes nothing. A CRM
/// meeting with other synced reps invites them; the copies in their calendars are adopted by
/// their runs, which a plan of theirs cannot see: the organizer's plan names them
/// (`expected_copies`), and after the sync and one more exactly that many were adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_says_what_the_next_two_way_sync_does_and_writes_nothing() {
    let env = calendars(4, 17).await;
    let g = graph(&env);
    let s = store(&env).await;
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let reps = env.appointment_reps().await;
    assert!(
        reps.len() >= 3,
        "three reps synchronize appointments: {reps:?}"
    );
    let (anna, anna_rep) = &reps[0];
    let (bob, bob_rep) = &reps[1];
    let person = env.demo.sandbox.directory().externals[0].email.clone();
    let customer = [(person.as_str(), None)];

    // Round 1, a first sync: new CRM appointments of Anna's (one with a customer) and of
    // Bob's, each with no other synced rep; new events in Anna's calendar.
    let visit1 = crm_appointment(&env, anna, anna_rep, "Two-way visit 1", 2, 8, &customer).await;
    let visit2 = crm_appointment(&env, anna, anna_rep, "Two-way visit 2", 3, 8, &[]).await;
    let conflict = crm_appointment(&env, anna, anna_rep, "Two-way conflict", 4, 8, &[]).await;
    let visit4 = crm_appointment(&env, bob, bob_rep, "Two-way visit 4", 5, 8, &customer).await;
    new_event(&g, anna, "Calendar edit me", 2).await;
    new_event(&g, anna, "Calendar delete me", 3).await;

    let mut round = 1;
    let work = |plans: &Value| {
        let t = plan_totals(plans);
        let mut sides = [0u64; 6];
        for p in plans["plans"].as_array().unwrap() {
            if p["kind"] == "appointment" {
                for (i, (side, k)) in [
                    ("microsoft365", "create"),
                    ("microsoft365", "update"),
                    ("microsoft365", "delete"),
                    ("crm", "create"),
                    ("crm", "update"),
                    ("crm", "delete"),
                ]
                .iter()
                .enumerate()
                {
                    sides[i] += p["sides"][side][k].as_u64().unwrap();
                }
            }
        }
        (t, sides)
    };
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let (planned, sides) = work(&plans);
    assert!(sides[0] >= 4 && sides[3] >= 2, "{sides:?} {plans:#}");
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    for p in plans["plans"].as_array().unwrap() {
        assert_eq!(p["expected_copies"], 0, "no shared meeting yet: {p:#}");
    }
    event_titled(&g, anna, "Two-way visit 1").await;
    event_titled(&g, bob, "Two-way visit 4").await;

    // Round 2: a CRM edit of a linked appointment, one marked deleted, one deleted for good;
    // an event edited, one deleted; both sides of one changed (CRM later: CRM wins); a new
    // CRM appointment.
    round = 2;
    crm.as_rep(anna)
        .update_activity(
            visit1,
            &[
                (
                    dl.activity.subject.clone(),
                    "Two-way visit 1 (moved)".into(),
                ),
                (dl.activity.time.clone(), "13:00".into()),
                (dl.activity.end_time.clone(), "14:00".into()),
            ],
        )
        .await
        .unwrap();
    crm.as_rep(anna)
        .update_activity(
            visit2,
            &[(dl.activity.deleted.clone(), dl.format_bool(true))],
        )
        .await
        .unwrap();
    crm.master()
        .delete(&dl.activity.table, visit4)
        .await
        .unwrap();
    let edited = event_titled(&g, anna, "Calendar edit me").await;
    g.update_event(anna, &edited, &json!({"subject": "Calendar edited"}))
        .await
        .unwrap();
    let deleted = event_titled(&g, anna, "Calendar delete me").await;
    g.delete_event(anna, &deleted).await.unwrap();
    let both = event_titled(&g, anna, "Two-way conflict").await;
    g.update_event(anna, &both, &json!({"subject": "Two-way conflict (event)"}))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    crm.as_rep(anna)
        .update_activity(
            conflict,
            &[(dl.activity.subject.clone(), "Two-way conflict (crm)".into())],
        )
        .await
        .unwrap();
    crm_appointment(&env, anna, anna_rep, "Two-way visit 5", 6, 8, &[]).await;

    let plans = checked_plan(&env, s.as_ref(), round).await;
    let (planned, sides) = work(&plans);
    // Events: one created, two updated (the CRM edit, CRM's side of the conflict), two
    // deleted; appointments: one updated (the event's edit), one marked deleted.
    assert!(
        sides[0] >= 1 && sides[1] >= 2 && sides[2] >= 2 && sides[4] >= 1 && sides[5] >= 1,
        "{sides:?} {plans:#}"
    );
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    event_titled(&g, anna, "Two-way visit 1 (moved)").await;
    event_titled(&g, anna, "Two-way conflict (crm)").await;
    event_titled(&g, anna, "Two-way visit 5").await;
    assert!(subjects(&g, anna, "Two-way visit 2").await.is_empty());
    assert!(subjects(&g, bob, "Two-way visit 4").await.is_empty());

    // Round 3: two CRM meetings with every other synced rep and a customer, one of the
    // mailbox the run works first, one of the mailbox it works last (one at a time, in the
    // order of the mailbox list, which the report keeps). Each organizer's plan creates one
    // event and names the copies its invitations make; the mailboxes worked after the first
    // organizer's adopt its copies in the same run, the last organizer's copies are the next
    // run's, whose plan sees them.
    round = 3;
    let order: Vec<String> = report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "appointment")
        .map(|m| m["mailbox"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order.len(), reps.len(), "{order:?} {reps:?}");
    let rep_of = |user: &str| reps.iter().find(|(u, _)| u == user).unwrap();
    let mut shared = Vec::new();
    for (organizer, subject) in [
        (order.first().unwrap(), "Shared review (first)"),
        (order.last().unwrap(), "Shared review (last)"),
    ] {
        let invitees: Vec<(&str, Option<gc_crm::CrmId>)> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, r)| (u.as_str(), Some(r.id)))
            .chain([(person.as_str(), None)])
            .collect();
        let id = crm_appointment(
            &env,
            organizer,
            &rep_of(organizer).1,
            subject,
            7,
            9,
            &invitees,
        )
        .await;
        shared.push((organizer.clone(), subject, id));
    }
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let per_invitee = reps.len() as u64 - 1;
    // Per mailbox, the copies other mailboxes' plans expect to arrive there.
    let mut copies: BTreeMap<String, u64> = BTreeMap::new();
    for (organizer, subject, _) in &shared {
        let mine = plans["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["mailbox"] == organizer.as_str() && p["kind"] == "appointment")
            .unwrap();
        assert_eq!(mine["expected_copies"], per_invitee, "{mine:#}");
        assert_eq!(mine["create"], 1, "{mine:#}");
        let mut to: Vec<String> = Vec::new();
        for c in mine["copies"].as_array().unwrap() {
            assert!(
                c["reason"].as_str().unwrap().contains(&format!(
                    "a copy of {subject:?} will arrive in {}'s calendar and be adopted",
                    c["mailbox"].as_str().unwrap()
                )),
                "{c:#}"
            );
            to.push(c["mailbox"].as_str().unwrap().to_owned());
        }
        let mut others: Vec<String> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, _)| u.to_ascii_lowercase())
            .collect();
        others.sort();
        to.sort();
        assert_eq!(to, others, "one copy per invitee: {mine:#}");
        for m in to {
            *copies.entry(m).or_default() += 1;
        }
    }
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    let (planned, _) = work(&plans);
    let done = sync_totals(&report);
    let adopted_now: u64 = assert_as_planned(round, &plans, &report, &copies)
        .values()
        .sum();
    let mut with_copies = planned.clone();
    with_copies.get_mut("appointment").unwrap()[1] += adopted_now;
    assert_eq!(
        with_copies, done,
        "round {round}: the plan and the {adopted_now} copies adopted at once\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_eq!(
        adopted_now, per_invitee,
        "the first organizer's copies, adopted by the mailboxes worked after it\nsync: {report:#}"
    );

    // Round 4: the last organizer's copies, which the plan sees as adoptions; number for
    // number again. Then exactly the expected copies were adopted, one per invitee and meeting.
    round = 4;
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    let (planned, _) = work(&plans);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    assert_eq!(
        planned["appointment"][1], per_invitee,
        "the last organizer's copies\nplan: {plans:#}"
    );
    let mailboxes = s.list_mailboxes().await.unwrap();
    let address = |rep_id: &str| {
        mailboxes
            .iter()
            .find(|m| m.rep_id == rep_id)
            .map(|m| m.address.to_ascii_lowercase())
            .unwrap()
    };
    for (organizer, subject, id) in &shared {
        let mut linked: Vec<String> = s
            .links_by_crm_id(Kind::Appointment, *id)
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.state == gc_store::LinkState::Active)
            .map(|l| address(&l.mailbox))
            .filter(|a| !a.eq_ignore_ascii_case(organizer))
            .collect();
        linked.sort();
        let mut others: Vec<String> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, _)| u.to_ascii_lowercase())
            .collect();
        others.sort();
        assert_eq!(linked, others, "{subject}: one adopted copy per invitee");
        let adoptions = s
            .query_ledger(&LedgerFilter {
                kind: Some(Kind::Appointment),
                action: Some(LedgerAction::Adopted),
                limit: Some(10_000),
                ..LedgerFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.crm_id == Some(*id))
            .count() as u64;
        assert_eq!(adoptions, per_invitee, "{subject}");
        assert_eq!(activities_titled(&env, subject).await, 1, "{subject}");
    }
}

/// How many CRM activities have this subject.
async fn activities_titled(env: &Env, subject: &str) -> usize {
    let crm = env.crm();
    let d = crm.dialect().clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: day(-30),
            to: day(30),
            rep_id: None,
            condition: None,
            fields: vec![d.activity.subject.clone()],
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.get(&d.activity.subject) == Some(subject))
        .count()
}
