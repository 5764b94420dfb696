#![allow(clippy::unwrap_used)]
use super::*;
use crate::appointments::model::{KeyRecord, When};
use gc_store::Kind;

fn owner() -> Owner {
    Owner::anna()
}

pub(crate) fn ev() -> CalEvent {
    CalEvent {
        id: "e1".into(),
        ical_uid: Some("uid-1".into()),
        change_key: Some("ck2".into()),
        created: None,
        modified: None,
        subject: "Review".into(),
        body: None,
        when: Ok(When::Timed {
            start: "2026-05-04T08:00:00Z".parse().unwrap(),
            end: "2026-05-04T09:00:00Z".parse().unwrap(),
        }),
        sensitivity: "normal".into(),
        show_as: "busy".into(),
        importance: "normal".into(),
        reminder: None,
        location: String::new(),
        attendees: vec![],
        organizer: Some("anna@contoso.com".into()),
        is_organizer: true,
        is_cancelled: false,
        event_type: "singleInstance".into(),
        crm_id: None,
        absence_id: None,
        props_read: true,
        series: Default::default(),
    }
}

fn link(state: LinkState) -> Link {
    let mut l = Link::new(Kind::Appointment, "7", "e1");
    l.crm_id = Some(CrmId(99));
    l.graph_version = Some("ck1".into());
    l.graph_hash = Some("confirmed".into());
    l.state = state;
    l
}

fn existing(deleted: bool, start: &str) -> CrmAppointment {
    CrmAppointment {
        id: CrmId(99),
        fields: [(
            "ConnectorDeleted".to_owned(),
            if deleted { "true" } else { "false" }.to_owned(),
        )]
        .into(),
        start: Some(start.parse().unwrap()),
        updated: None,
        keys: Vec::new(),
        participants: vec![],
    }
}

fn run(change: &EventChange, link: Option<&Link>, facts: &Facts) -> Decision {
    let rules = AppointmentRules::default();
    decide(Input {
        change,
        link,
        facts,
        owner: &owner(),
        reps: &[],
        rules: &rules,
        now: "2026-05-01T00:00:00Z".parse().unwrap(),
    })
}

/// An event the connector created, reported for the first time: confirmed, with the
/// meeting key its CRM appointment must hold (a run killed before writing it left it
/// out; the confirmation writes it).
#[test]
fn a_first_reported_event_is_confirmed_with_its_meeting_key() {
    let mut l = link(LinkState::Active);
    l.graph_version = Some("ck2".into());
    l.graph_hash = None;
    let c = EventChange::Event(Box::new(ev()));
    let rules = AppointmentRules::default();
    assert!(matches!(
        triage(&c, Some(&l), &rules, &owner()),
        Some(Decision::Confirm { key: Some(k), .. }) if k == "uid-1"
    ));
    // An event without a usable key has nothing to check.
    let mut e = ev();
    e.ical_uid = Some("  ".into());
    assert!(matches!(
        triage(&EventChange::Event(Box::new(e)), Some(&l), &rules, &owner()),
        Some(Decision::Confirm { key: None, .. })
    ));
}

#[test]
fn triage_leaves_unchanged_and_private_events() {
    let rules = AppointmentRules {
        sync_private: false,
        ..AppointmentRules::default()
    };
    let mut l = link(LinkState::Active);
    l.graph_version = Some("ck2".into());
    let c = EventChange::Event(Box::new(ev()));
    assert_eq!(
        triage(&c, Some(&l), &rules, &owner()),
        Some(Decision::Nothing)
    );
    let mut p = ev();
    p.sensitivity = "private".into();
    assert!(matches!(
        triage(&EventChange::Event(Box::new(p)), None, &rules, &owner()),
        Some(Decision::Skip(r)) if r.contains("sync_private")
    ));
    assert_eq!(triage(&c, None, &rules, &owner()), None);
    // A removal of something never linked is nothing.
    let r = EventChange::Removed { id: "x".into() };
    assert_eq!(triage(&r, None, &rules, &owner()), Some(Decision::Nothing));
}

#[test]
fn a_new_event_is_created_and_a_known_one_adopted() {
    let c = EventChange::Event(Box::new(ev()));
    assert!(matches!(
        run(&c, None, &Facts::default()),
        Decision::Create { .. }
    ));
    let facts = Facts {
        existing: Some(existing(false, "2026-05-04T08:00:00Z")),
        key: Some(KeyRecord {
            id: CrmId(99),
            mailbox: Some("bob@contoso.com".into()),
        }),
        found_by: Some("external key"),
        ..Facts::default()
    };
    match run(&c, None, &facts) {
        Decision::Sync {
            adopted, add_key, ..
        } => {
            assert!(adopted);
            assert_eq!(add_key, None, "the key exists");
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn an_event_written_from_crm_whose_appointment_is_gone_is_deleted_not_created_again() {
    // The run that wrote it from the appointment 99 was cut off before linking it; the
    // appointment was deleted in CRM since.
    let mut written = ev();
    written.crm_id = Some("99".into());
    let c = EventChange::Event(Box::new(written));
    let gone = Facts {
        found_by: Some("the CrmId property"),
        candidate: Some(CrmId(99)),
        ..Facts::default()
    };
    assert!(matches!(
        run(&c, None, &gone),
        Decision::DeleteEvent { crm_id: Some(CrmId(99)), ref reason, .. }
            if reason.contains("was deleted in CRM")
    ));
    // An event of the user's own without the property is new.
    assert!(matches!(
        run(&EventChange::Event(Box::new(ev())), None, &Facts::default()),
        Decision::Create { .. }
    ));
}

#[test]
fn a_meeting_copy_whose_record_was_deleted_in_crm_before_it_was_linked_is_not_written_again() {
    // Another rep's copy wrote the meeting's record 77; it was deleted physically in CRM
    // (its external key with it) before the organizer's copy was ever linked; the other
    // copy's link was closed with it and names it.
    let c = EventChange::Event(Box::new(ev()));
    let gone = Facts {
        found_by: Some(crate::appointments::gather::CLOSED_LINK),
        candidate: Some(CrmId(77)),
        ..Facts::default()
    };
    assert!(matches!(
        run(&c, None, &gone),
        Decision::DeleteEvent {
            crm_id: Some(CrmId(77)),
            ..
        }
    ));
    // The same when the meeting's external key outlived its record, or when the other
    // copy's link is still active (that mailbox has not run since the deletion).
    for found_by in ["external key", crate::appointments::gather::OTHER_LINK] {
        let gone = Facts {
            found_by: Some(found_by),
            candidate: Some(CrmId(77)),
            ..Facts::default()
        };
        assert!(
            matches!(
                run(&c, None, &gone),
                Decision::DeleteEvent {
                    crm_id: Some(CrmId(77)),
                    ..
                }
            ),
            "{found_by}"
        );
    }
}

#[test]
fn a_soft_deleted_appointment_is_not_brought_back() {
    let c = EventChange::Event(Box::new(ev()));
    let facts = Facts {
        existing: Some(existing(true, "2026-05-04T08:00:00Z")),
        ..Facts::default()
    };
    assert!(matches!(
        run(&c, Some(&link(LinkState::Active)), &facts),
        Decision::CloseLink { .. }
    ));
}

#[test]
fn an_interrupted_write_whose_event_is_gone_is_resolved() {
    let mut intent = Link::new(Kind::Appointment, "7", "e1");
    intent.global_key = Some("uid-1".into());
    intent.state = LinkState::Interrupted;
    let rules = AppointmentRules::default();
    for gone in [
        EventChange::Removed { id: "e1".into() },
        EventChange::Vanished(Box::new(intent.clone())),
    ] {
        // Not left alone: the intent would hold the mailbox's new CRM appointments.
        assert_eq!(triage(&gone, Some(&intent), &rules, &owner()), None);
        // The write made nothing: the intent is closed.
        assert!(matches!(
            run(&gone, Some(&intent), &Facts::default()),
            Decision::CloseLink { id: None, reason } if reason.contains("interrupted write")
        ));
        // It made the record (found by the meeting key): the deletion follows.
        let made = Facts {
            existing: Some(existing(false, "2026-05-04T08:00:00Z")),
            found_by: Some("external key"),
            ..Facts::default()
        };
        assert!(matches!(
            run(&gone, Some(&intent), &made),
            Decision::SoftDelete { id: CrmId(99), .. }
        ));
        // The event is still there: the calendar walk completes the write.
        let there = Facts {
            event: Some(ev()),
            ..Facts::default()
        };
        assert_eq!(run(&gone, Some(&intent), &there), Decision::Nothing);
    }
    // A removal of an event never linked nor begun is still nothing.
    let r = EventChange::Removed { id: "x".into() };
    let mut closed = intent.clone();
    closed.state = LinkState::SoftDeleted;
    assert_eq!(
        triage(&r, Some(&closed), &rules, &owner()),
        Some(Decision::Nothing)
    );
}

#[test]
fn deletions_follow_the_rules() {
    let l = link(LinkState::Active);
    let gone = EventChange::Removed { id: "e1".into() };
    let facts = Facts {
        existing: Some(existing(false, "2026-05-04T08:00:00Z")),
        ..Facts::default()
    };
    assert!(matches!(
        run(&gone, Some(&l), &facts),
        Decision::SoftDelete { .. }
    ));
    // Far in the future: outside the deletion window.
    let far = Facts {
        existing: Some(existing(false, "2026-09-04T08:00:00Z")),
        ..Facts::default()
    };
    assert!(matches!(
        run(&gone, Some(&l), &far),
        Decision::CloseLink { reason, .. } if reason.contains("deletion_window_days")
    ));
    // Other reps still have the meeting.
    let shared = Facts {
        other_links: 2,
        ..facts.clone()
    };
    assert!(matches!(
        run(&gone, Some(&l), &shared),
        Decision::CloseLink { reason, .. } if reason.contains("2 other")
    ));
    // Still there: it left the window.
    let moved = Facts {
        event: Some(ev()),
        ..facts
    };
    assert!(matches!(
        run(&gone, Some(&l), &moved),
        Decision::Skip(r) if r.contains("not a deletion")
    ));
}

#[test]
fn an_appointment_of_a_type_not_synchronized_is_left_alone() {
    let mut a = existing(false, "2026-05-04T08:00:00Z");
    a.fields.insert("Contact".into(), "Visit".into());
    let facts = Facts {
        existing: Some(a),
        ..Facts::default()
    };
    let rules = AppointmentRules {
        types: vec!["Meeting".into()],
        ..AppointmentRules::default()
    };
    let c = EventChange::Event(Box::new(ev()));
    let d = decide(Input {
        change: &c,
        link: None,
        facts: &facts,
        owner: &owner(),
        reps: &[],
        rules: &rules,
        now: "2026-05-01T00:00:00Z".parse().unwrap(),
    });
    assert!(matches!(d, Decision::Skip(r) if r.contains("[appointments] types")));
    // Without a types list every type is synchronized.
    assert!(matches!(run(&c, None, &facts), Decision::Sync { .. }));
}

#[test]
fn series_records_get_their_role_and_cancelled_occurrences_are_deleted() {
    // An occurrence with its master's record: a serial record naming the master.
    let mut occ = ev();
    occ.event_type = "occurrence".into();
    occ.series.original_start = Some("2026-05-04T08:00:00Z".parse().unwrap());
    let mut master = ev();
    master.event_type = "seriesMaster".into();
    occ.series.master = Some(Box::new(master.clone()));
    let facts = Facts {
        master: Some(CrmId::new(2, 40)),
        ..Facts::default()
    };
    match run(&EventChange::Event(Box::new(occ)), None, &facts) {
        Decision::Create { plan, .. } => {
            assert_eq!(plan.key, "uid-1#2026-05-04T08:00:00Z");
            assert_eq!(plan.fields["IsSerialContact"], "true");
            assert_eq!(plan.fields["ContactSeqNo"], "40");
        }
        d => panic!("{d:?}"),
    }
    match run(
        &EventChange::Event(Box::new(master.clone())),
        None,
        &Facts::default(),
    ) {
        Decision::Create { plan, .. } => {
            assert_eq!(plan.key, "uid-1");
            assert_eq!(plan.fields["IsMasterContact"], "true");
        }
        d => panic!("{d:?}"),
    }
    // A master a walk did not see, still there: nothing (not "left the window").
    let gone = EventChange::Vanished(Box::new(link(LinkState::Active)));
    let still = Facts {
        event: Some(master),
        existing: Some(existing(false, "2026-05-04T08:00:00Z")),
        ..Facts::default()
    };
    assert_eq!(
        run(&gone, Some(&link(LinkState::Active)), &still),
        Decision::Nothing
    );
    // An attendee's copy of a series its organizer deleted: the master record is marked,
    // although the organizer's copy (closed) and others may still be linked.
    let mut record = existing(false, "2025-01-06T08:00:00Z");
    record
        .fields
        .insert("IsMasterContact".into(), "true".into());
    let mut copy = still.event.clone().unwrap();
    copy.is_organizer = false;
    copy.is_cancelled = true;
    let cancelled_copy = Facts {
        event: Some(copy),
        existing: Some(record),
        other_links: 1,
        ..Facts::default()
    };
    assert!(matches!(
        run(&gone, Some(&link(LinkState::Active)), &cancelled_copy),
        Decision::SoftDelete { reason, .. } if reason.contains("meeting was cancelled")
    ));
    // A cancelled occurrence: deleted although other reps' copies are still linked.
    let removed = EventChange::Removed { id: "e1".into() };
    let cancelled = Facts {
        existing: Some(existing(false, "2026-05-04T08:00:00Z")),
        other_links: 1,
        occurrence_cancelled: true,
        ..Facts::default()
    };
    assert!(matches!(
        run(&removed, Some(&link(LinkState::Active)), &cancelled),
        Decision::SoftDelete { reason, .. } if reason.contains("occurrence was cancelled")
    ));
    // Already marked by another copy: the link closes, nothing is written twice.
    let marked = Facts {
        existing: Some(existing(true, "2026-05-04T08:00:00Z")),
        ..cancelled.clone()
    };
    assert!(matches!(
        run(&removed, Some(&link(LinkState::Active)), &marked),
        Decision::CloseLink { reason, .. } if reason.contains("already marked")
    ));
    // A deleted series' master record: no deletion window (its start is the series').
    let mut m = existing(false, "2025-01-06T08:00:00Z");
    m.fields.insert("IsMasterContact".into(), "true".into());
    let series_gone = Facts {
        existing: Some(m),
        series_gone: true,
        ..Facts::default()
    };
    assert!(matches!(
        run(&removed, Some(&link(LinkState::Active)), &series_gone),
        Decision::SoftDelete { reason, .. } if reason.contains("series was deleted")
    ));
}

#[test]
fn absence_events_are_left_alone() {
    let mut e = ev();
    e.absence_id = Some("123".into());
    let facts = Facts {
        event: Some(e.clone()),
        ..Facts::default()
    };
    assert!(matches!(
        run(&EventChange::Event(Box::new(e)), None, &facts),
        Decision::Skip(r) if r.contains("absence")
    ));
}
