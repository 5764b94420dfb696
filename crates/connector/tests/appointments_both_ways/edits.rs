//! CRM appointments travel to the calendars, their edits and deletions follow, and both sides
//! edited between two runs follow the conflict rule.

use super::*;

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

/// A meeting of three synced reps whose organizer's copy comes last (its runs were cut off,
/// or its mailbox was enabled later): one attendee's copy writes the appointment, CRM edits
/// it, and the other attendee's copy adopts it through the first one's link. That copy does
/// not own the meeting's fields; its link keeps the agreed CRM content it adopted (it kept
/// none before). The organizer's copy then adopts the record through that link (the first by
/// mailbox) and weighs CRM's edit by the conflict rule instead of copying its fields over it
/// without a trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_organizers_copy_weighs_a_crm_edit_adopting_through_a_link_an_attendee_adopted() {
    let env = start(33).await;
    let mut reps: Vec<_> = env.appointment_reps().await.into_iter().take(3).collect();
    assert_eq!(reps.len(), 3, "three reps synchronize appointments");
    // The store's mailbox is the rep's id: the later attendee's link comes first by mailbox.
    reps.sort_by_key(|(_, r)| r.id.to_string());
    let (later, first, organizer) = (&reps[0].0, &reps[1].0, &reps[2].0);
    let crm = env.crm();
    let dl = crm.dialect().activity.clone();
    let config = config(&env, AppointmentConflict::Crm);
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    agreed_meeting(&g, organizer, &[later, first], d).await;
    let run = |mailbox: &str| {
        let mailbox = mailbox.to_owned();
        let rt = &rt;
        async move {
            let r = rt
                .cycle(Some(&mailbox), &gc_sync::NoProgress, &Default::default())
                .await
                .unwrap();
            assert!(!r.any_mailbox_failed(), "{r:#?}");
        }
    };
    // The first attendee's copy writes the appointment (the organizer's rep owns it).
    run(first).await;
    let written = activities(&env, "Agreed subject").await;
    assert_eq!(written.len(), 1, "{written:#?}");
    crm.as_rep(organizer)
        .update_activity(
            written[0].id,
            &[(dl.subject.clone(), "Edited in CRM".into())],
        )
        .await
        .unwrap();
    // The other attendee's copy adopts it through the first one's link, writing nothing.
    run(later).await;
    assert_eq!(activities(&env, "Edited in CRM").await.len(), 1);
    // The organizer's copy: CRM wins by rule, its edit reaches the organizer's event and the
    // event's own version is kept in the ledger.
    run(organizer).await;
    assert_the_crm_edit_was_weighed(&env, &rt, &g, organizer).await;
    // Settled: the edit is not weighed or recorded again.
    cycle(&rt).await;
    assert_quiet(&rt, entries(&rt).await.len()).await;
}
