//! Writes a crash or a cut-off run interrupted: adopted, not written twice, and a CRM edit
//! made since weighed, not lost (also one that a copy not owning the meeting's fields met
//! before the organizer's copy was linked, and one of the record an attendee's cut-off write
//! made, met by the organizer's copy first).

use super::*;

/// Create an event `subject` in `mailbox`'s calendar on `d` (9–10 UTC), then run a cycle that
/// is cut off while the event's write to CRM waits for its answer: the record is written, its
/// link is still the intent.
async fn write_event_and_cut_the_cycle(
    env: &Env,
    rt: &Runtime,
    g: &gc_graph::GraphClient,
    mailbox: &str,
    subject: &str,
    d: jiff::civil::Date,
) {
    g.create_event(
        mailbox,
        &json!({
            "subject": subject,
            "start": {"dateTime": format!("{d}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
        }),
    )
    .await
    .unwrap();
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let wire =
        env.demo
            .sandbox
            .arm_tripwire(first_activity_insert(&env.crm(), When::BeforeResponse), {
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
    // The run is killed while the appointment is written (before its answer arrives): the
    // write stays unsettled.
    write_event_and_cut_the_cycle(&env, &rt, &g, anna, "Written before the cut", d).await;
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
    write_event_and_cut_the_cycle(&env, &rt, &g, anna, "Cut before its link", d).await;
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

/// A meeting whose organizer's run was cut off (its copy never linked) while the attendee's
/// copy wrote the appointment; CRM then edits it and hands it to the attendee's rep, so the
/// attendee's CRM side meets the edit. That copy does not own the meeting's fields: it does
/// not write the edit back, and its link keeps the content both sides last agreed on. The
/// organizer's run that completes adopts the record through that link and weighs the edit
/// by the conflict rule, instead of copying its own fields over it without a trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_edit_an_attendees_copy_met_is_weighed_when_the_organizers_copy_adopts_it() {
    let env = start(41).await;
    let reps = two_reps(&env).await;
    let (anna, _) = &reps[0];
    let (bruno, bruno_rep) = &reps[1];
    let crm = env.crm();
    let dl = crm.dialect().activity.clone();
    let config = config(&env, AppointmentConflict::Crm);
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    agreed_meeting(&g, anna, &[bruno], d).await;
    // The organizer's run is cut off at its first activity query: nothing of it is written.
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let organizer = anna.clone();
    let wire = env.demo.sandbox.arm_tripwire_where(
        Tripwire {
            target: Target::Crm {
                command: Some(CrmCommand::Query),
                table: Some(dl.table.clone()),
            },
            nth: 1,
            when: When::BeforeProcessing,
        },
        move |r| r.crm_rep() == Some(organizer.as_str()),
        {
            let cut = cut.clone();
            move || cut.notify_one()
        },
    );
    let options = Default::default();
    tokio::select! {
        biased;
        () = cut.notified() => {}
        r = rt.cycle(Some(anna), &gc_sync::NoProgress, &options) => panic!("not cut: {r:#?}"),
    }
    assert!(wire.fired());
    drop(wire);
    assert!(activities(&env, "Agreed subject").await.is_empty());
    // The attendee's run: its copy writes the appointment (the organizer's rep owns it).
    rt.cycle(Some(bruno), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let written = activities(&env, "Agreed subject").await;
    assert_eq!(written.len(), 1, "{written:#?}");
    // Edited in CRM and handed to the attendee's rep; the attendee's CRM side meets it and
    // leaves it to the organizer's copy.
    crm.as_rep(anna)
        .update_activity(
            written[0].id,
            &[
                (dl.subject.clone(), "Edited in CRM".into()),
                (dl.rep_id.clone(), bruno_rep.rep_id.clone()),
            ],
        )
        .await
        .unwrap();
    rt.cycle(Some(bruno), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let log = entries(&rt).await;
    assert!(
        log.iter().any(|e| e.reason.contains("not written back")),
        "{log:#?}"
    );
    // The organizer's runs complete: CRM wins by rule, its edit reaches the organizer's event
    // and the event's own version is kept in the ledger.
    cycle(&rt).await;
    cycle(&rt).await;
    let log = assert_the_crm_edit_was_weighed(&env, &rt, &g, anna).await;
    assert!(activities(&env, "Agreed subject").await.is_empty());
    // Quiet: the edit is not weighed or recorded again.
    assert_quiet(&rt, log.len()).await;
}

/// A meeting whose attendee's copy wrote the appointment and was cut off before linking it
/// (its link is still the intent, which keeps what it wrote); CRM edits the record, and the
/// organizer's copy, never linked before, finds it by its external key. The attendee's intent
/// is the baseline: the organizer's copy weighs the edit by the conflict rule instead of
/// copying its fields over it without a trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_edit_of_a_record_an_attendees_cut_off_write_made_is_weighed_by_the_organizer() {
    let env = start(43).await;
    let reps = two_reps(&env).await;
    let (anna, _) = &reps[0];
    let (bruno, _) = &reps[1];
    let crm = env.crm();
    let dl = crm.dialect().activity.clone();
    let config = config(&env, AppointmentConflict::Crm);
    let g = graph(&config);
    let rt = Runtime::build(&config).await.unwrap();
    cycle(&rt).await;
    let d = day(2);
    agreed_meeting(&g, anna, &[bruno], d).await;
    // The attendee's run is cut off while its write to CRM waits for the answer.
    let cut = std::sync::Arc::new(tokio::sync::Notify::new());
    let attendee = bruno.clone();
    let wire = env.demo.sandbox.arm_tripwire_where(
        first_activity_insert(&crm, When::BeforeResponse),
        move |r| r.crm_rep() == Some(attendee.as_str()),
        {
            let cut = cut.clone();
            move || cut.notify_one()
        },
    );
    let options = Default::default();
    tokio::select! {
        biased;
        () = cut.notified() => {}
        r = rt.cycle(Some(bruno), &gc_sync::NoProgress, &options) => panic!("not cut: {r:#?}"),
    }
    assert!(wire.fired());
    drop(wire);
    let written = activities(&env, "Agreed subject").await;
    assert_eq!(written.len(), 1, "{written:#?}");
    crm.as_rep(anna)
        .update_activity(
            written[0].id,
            &[(dl.subject.clone(), "Edited in CRM".into())],
        )
        .await
        .unwrap();
    // The organizer's copy adopts the record by its external key: CRM wins by rule, its edit
    // reaches the organizer's event and the event's own version is kept in the ledger.
    rt.cycle(Some(anna), &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert_the_crm_edit_was_weighed(&env, &rt, &g, anna).await;
    // Settled: the attendee's copy adopts the record, nothing is weighed again.
    cycle(&rt).await;
    cycle(&rt).await;
    assert_quiet(&rt, entries(&rt).await.len()).await;
    assert_eq!(activities(&env, "Edited in CRM").await.len(), 1);
}
