#![allow(clippy::unwrap_used)]

mod cut_off;
mod not_owned;
mod other_link;
use gc_store::{CrmId, Kind, Link, LinkState};

use super::*;
use crate::appointments::decide::tests::ev;
use crate::appointments::decide::{Decision, Input, decide};
use crate::appointments::gather::Facts;
use crate::appointments::model::{CrmAppointment, CrmItem, CrmParticipant, EventChange};
use crate::appointments::rules::Conflict;

fn rules() -> AppointmentRules {
    AppointmentRules {
        time_zone: jiff::tz::TimeZone::UTC,
        ..AppointmentRules::default()
    }
}

fn appointment(subject: &str, updated: &str) -> CrmAppointment {
    CrmAppointment {
        id: CrmId(99),
        fields: [
            ("Subject", subject),
            ("Date", "2026-05-04"),
            ("Time", "08:00"),
            ("EndDate", "2026-05-04"),
            ("EndTime", "09:00"),
            ("ConnectorDeleted", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        start: Some("2026-05-04T08:00:00Z".parse().unwrap()),
        updated: Some(updated.to_owned()),
        keys: Vec::new(),
        participants: vec![CrmParticipant {
            email: Some("kim@customer.example".into()),
            rep: None,
        }],
    }
}

fn item(a: CrmAppointment, linked: bool) -> EventChange {
    EventChange::Crm(Box::new(CrmItem {
        appointment: a,
        in_scope: true,
        linked: linked.then(|| ("e1".to_owned(), Some("uid-1".to_owned()))),
        hold_new: false,
    }))
}

/// A link as the last sync left it: the event `ev()` and the appointment `a`.
fn link_for(a: &CrmAppointment, r: &AppointmentRules) -> Link {
    let mut l = Link::new(Kind::Appointment, "7", "e1");
    l.crm_id = Some(CrmId(99));
    l.graph_version = Some("ck2".into());
    l.graph_hash = Some(content::event_hash(&ev()));
    l.crm_hash = Some(content::crm_hash(a, r, &[]));
    l.crm_version = a.updated.clone();
    l
}

fn decide_it(
    change: &EventChange,
    link: Option<&Link>,
    facts: &Facts,
    r: &AppointmentRules,
) -> Decision {
    decide(Input {
        change,
        link,
        facts,
        owner: &Owner::anna(),
        reps: &[],
        rules: r,
        now: "2026-05-01T00:00:00Z".parse().unwrap(),
    })
}

#[test]
fn a_new_crm_appointment_becomes_an_event_and_invites_later() {
    let r = rules();
    let a = appointment("Review", "2026-05-01T00:00:00Z");
    let change = item(a.clone(), false);
    assert_eq!(
        triage_crm(
            match &change {
                EventChange::Crm(i) => i,
                _ => unreachable!(),
            },
            None,
            &r,
            &[],
            &Owner::anna()
        ),
        None
    );
    let facts = Facts {
        existing: Some(a),
        ..Facts::default()
    };
    let Decision::WriteEvent(w) = decide_it(&change, None, &facts, &r) else {
        panic!("expected an event write")
    };
    assert_eq!(w.event_id, None);
    assert_eq!(w.body["subject"], "Review");
    assert_eq!(w.body["start"]["dateTime"], "2026-05-04T08:00:00");
    assert!(
        w.body.get("attendees").is_none(),
        "invited only after the key is in CRM"
    );
    assert_eq!(w.invite, vec!["kim@customer.example".to_owned()]);
}

/// A run that created the event and wrote the meeting key, then was cut off before it
/// invited the attendees, left the link unconfirmed (the calendar never reported the event)
/// with the event's first change key. The CRM source, which runs first, meets the
/// appointment again next time: the event lacks its attendees, so they are invited then.
#[test]
fn a_run_cut_off_before_its_invitations_invites_them_next_time() {
    let r = rules();
    let a = appointment("Review", "2026-05-01T00:00:00Z");
    let mut early = Link::new(Kind::Appointment, "7", "e1");
    early.global_key = Some("uid-1".into());
    early.crm_id = Some(CrmId(99));
    early.graph_version = ev().change_key;
    early.crm_hash = Some(content::crm_hash(&a, &r, &[]));
    early.crm_version = a.updated.clone();
    let change = item(a.clone(), true);
    let EventChange::Crm(i) = &change else {
        unreachable!()
    };
    assert_eq!(
        triage_crm(i, Some(&early), &r, &[], &Owner::anna()),
        None,
        "an unconfirmed link is not taken for an echo"
    );
    let facts = Facts {
        existing: Some(a),
        event: Some(ev()),
        ..Facts::default()
    };
    let Decision::WriteEvent(w) = decide_it(&change, Some(&early), &facts, &r) else {
        panic!("expected an event write")
    };
    assert_eq!(w.event_id.as_deref(), Some("e1"));
    assert_eq!(w.invite, vec!["kim@customer.example".to_owned()]);
    // Once the calendar has confirmed the event, the same appointment is an echo: this is
    // why it matters that the CRM source runs first and meets it before the calendar does.
    let confirmed = link_for(&appointment("Review", "2026-05-01T00:00:00Z"), &r);
    assert_eq!(
        triage_crm(i, Some(&confirmed), &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
}

#[test]
fn an_echo_of_the_connectors_own_write_is_no_change() {
    let r = rules();
    let a = appointment("Review", "2026-05-01T00:00:00Z");
    let l = link_for(&a, &r);
    let EventChange::Crm(i) = item(a.clone(), true) else {
        unreachable!()
    };
    assert_eq!(
        triage_crm(&i, Some(&l), &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
    // A new stamp with the same content: only the stamp is remembered.
    let mut later = a;
    later.updated = Some("2026-05-02T00:00:00Z".into());
    let EventChange::Crm(i) = item(later, true) else {
        unreachable!()
    };
    assert!(matches!(
        triage_crm(&i, Some(&l), &r, &[], &Owner::anna()),
        Some(Decision::Remember { reason: None, .. })
    ));
}

#[test]
fn a_crm_edit_updates_the_event_unless_the_event_changed_too() {
    let r = rules();
    let before = appointment("Review", "2026-05-01T00:00:00Z");
    let l = link_for(&before, &r);
    let after = appointment("Review (moved room)", "2026-05-02T00:00:00Z");
    let change = item(after.clone(), true);
    let facts = Facts {
        existing: Some(after),
        event: Some(ev()),
        ..Facts::default()
    };
    let Decision::WriteEvent(w) = decide_it(&change, Some(&l), &facts, &r) else {
        panic!("expected an event write")
    };
    assert_eq!(w.event_id.as_deref(), Some("e1"));
    assert_eq!(w.body["subject"], "Review (moved room)");
    assert!(w.reason.contains("subject"), "{}", w.reason);
    // The event changed as well: the calendar side decides (it meets the event's change).
    let mut moved = ev();
    moved.subject = "Review (new agenda)".into();
    let facts = Facts {
        event: Some(moved),
        ..facts
    };
    assert_eq!(decide_it(&change, Some(&l), &facts, &r), Decision::Nothing);
}

#[test]
fn both_changed_follows_the_conflict_rule_and_keeps_the_losing_version() {
    let base = appointment("Review", "2026-05-01T00:00:00Z");
    let mut event = ev();
    event.subject = "Review (event)".into();
    event.modified = Some("2026-05-02T10:00:00Z".parse().unwrap());
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let change = EventChange::Event(Box::new(event.clone()));
    let facts = Facts {
        existing: Some(crm_edit.clone()),
        found_by: Some("link"),
        key: Some(crate::appointments::model::KeyRecord {
            id: CrmId(99),
            mailbox: Some("anna@contoso.com".into()),
        }),
        ..Facts::default()
    };
    let mut l = link_for(&base, &rules());
    l.graph_version = Some("ck1".into());
    for (rule, crm_should_win) in [
        (Conflict::Newest, true),
        (Conflict::Crm, true),
        (Conflict::Microsoft365, false),
    ] {
        let r = AppointmentRules {
            conflict: rule,
            ..rules()
        };
        match decide_it(&change, Some(&l), &facts, &r) {
            Decision::WriteEvent(w) => {
                assert!(crm_should_win, "{rule:?}");
                assert_eq!(w.body["subject"], "Review (crm)");
                let c = w.conflict.unwrap();
                assert_eq!(c["conflict"]["winner"], "crm");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (event)");
            }
            Decision::Sync {
                fields, conflict, ..
            } => {
                assert!(!crm_should_win, "{rule:?}");
                assert!(
                    fields
                        .iter()
                        .any(|(k, v)| k == "Subject" && v == "Review (event)")
                );
                let c = conflict.unwrap();
                assert_eq!(c["conflict"]["winner"], "microsoft365");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
            }
            other => panic!("{rule:?}: {other:?}"),
        }
    }
    // Newest: the event changed after CRM did, so the event wins.
    let mut newer = event;
    newer.modified = Some("2026-05-02T12:00:00Z".parse().unwrap());
    let r = rules();
    assert!(matches!(
        decide_it(&EventChange::Event(Box::new(newer)), Some(&l), &facts, &r),
        Decision::Sync {
            conflict: Some(_),
            ..
        }
    ));
}

#[test]
fn crm_deletions_delete_the_event_within_the_rules() {
    let r = rules();
    let mut a = appointment("Review", "2026-05-01T00:00:00Z");
    let l = link_for(&a, &r);
    a.fields.insert("ConnectorDeleted".into(), "true".into());
    let change = item(a.clone(), true);
    let facts = Facts {
        existing: Some(a.clone()),
        event: Some(ev()),
        ..Facts::default()
    };
    assert!(matches!(
        decide_it(&change, Some(&l), &facts, &r),
        Decision::DeleteEvent { .. }
    ));
    let off = AppointmentRules {
        sync_deletions: false,
        ..rules()
    };
    assert!(matches!(
        decide_it(&change, Some(&l), &facts, &off),
        Decision::CloseLink { .. }
    ));
    // Physically deleted: the full walk's vanished link, and nothing found by id.
    let vanished = EventChange::CrmVanished(Box::new(l.clone()));
    let gone = Facts {
        existing: None,
        event: Some(ev()),
        ..Facts::default()
    };
    assert!(matches!(
        decide_it(&vanished, Some(&l), &gone, &r),
        Decision::DeleteEvent { .. }
    ));
    // Still in CRM (it left the window): not a deletion.
    let still = Facts {
        existing: Some(appointment("Review", "2026-05-01T00:00:00Z")),
        event: Some(ev()),
        ..Facts::default()
    };
    assert!(matches!(
        decide_it(&vanished, Some(&l), &still, &r),
        Decision::Remember {
            crm_version: None,
            ..
        }
    ));
    // A deleted link stays deleted.
    let mut closed = l;
    closed.state = LinkState::SoftDeleted;
    let EventChange::Crm(i) = item(appointment("Review", "x"), true) else {
        unreachable!()
    };
    assert_eq!(
        triage_crm(&i, Some(&closed), &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
}

#[test]
fn published_and_out_of_scope_appointments_are_left_alone() {
    let r = rules();
    let mut a = appointment("Review", "x");
    a.fields.insert("ConnectorPublished".into(), "true".into());
    let EventChange::Crm(i) = item(a, false) else {
        unreachable!()
    };
    assert_eq!(
        triage_crm(&i, None, &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
    let EventChange::Crm(mut i) = item(appointment("Review", "x"), false) else {
        unreachable!()
    };
    i.in_scope = false;
    assert_eq!(
        triage_crm(&i, None, &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
}

#[test]
fn a_linked_appointment_leaving_the_filter_keeps_its_event_and_is_recorded_once() {
    let r = rules();
    let a = appointment("Review", "2026-05-01T00:00:00Z");
    let l = link_for(&a, &r);
    let EventChange::Crm(mut i) = item(a.clone(), true) else {
        unreachable!()
    };
    i.in_scope = false;
    // The first walk that sees it out of the filter: no deletion, a ledger line, and the link
    // keeps its hash but is no longer the CRM source's.
    let Some(Decision::Remember {
        crm_hash,
        crm_version: None,
        reason: Some(why),
    }) = triage_crm(&i, Some(&l), &r, &[], &Owner::anna())
    else {
        panic!("expected a remembered, recorded skip")
    };
    assert_eq!(crm_hash, l.crm_hash);
    assert!(why.contains("no longer passes the filter"), "{why}");
    assert!(why.contains("not a deletion"), "{why}");
    // The following walks: nothing, not recorded again.
    let mut left = l.clone();
    left.crm_version = None;
    assert_eq!(
        triage_crm(&i, Some(&left), &r, &[], &Owner::anna()),
        Some(Decision::Nothing)
    );
    // Passing again: its stamp is remembered without a write (the content is unchanged).
    i.in_scope = true;
    assert_eq!(
        triage_crm(&i, Some(&left), &r, &[], &Owner::anna()),
        Some(Decision::Remember {
            crm_hash: l.crm_hash.clone(),
            crm_version: a.updated.clone(),
            reason: None,
        })
    );
    // Marked deleted in CRM while out of the filter: still a deletion of its event.
    let mut deleted = a;
    deleted
        .fields
        .insert("ConnectorDeleted".into(), "true".into());
    let EventChange::Crm(mut i) = item(deleted, true) else {
        unreachable!()
    };
    i.in_scope = false;
    assert_eq!(triage_crm(&i, Some(&left), &r, &[], &Owner::anna()), None);
}

#[test]
fn an_appointment_other_calendars_link_is_not_created_again() {
    // Left to this calendar's copy, which joins it when the calendar reports it (another
    // rep's copy wrote it, perhaps earlier in the same run): nothing decided, nothing counted.
    let r = rules();
    let mut a = appointment("Review", "x");
    let facts = Facts {
        existing: Some(a.clone()),
        other_links: 2,
        ..Facts::default()
    };
    assert_eq!(
        decide_it(&item(a.clone(), false), None, &facts, &r),
        Decision::Nothing
    );
    // With the meeting key the other copy wrote, too.
    a.keys = vec!["uid-1".into()];
    let facts = Facts {
        existing: Some(a.clone()),
        ..facts
    };
    assert_eq!(
        decide_it(&item(a.clone(), false), None, &facts, &r),
        Decision::Nothing
    );
    // A record from a calendar no synced calendar holds (the previous connector's): closed
    // for this calendar, once.
    let facts = Facts {
        other_links: 0,
        ..facts
    };
    assert!(matches!(
        decide_it(&item(a, false), None, &facts, &r),
        Decision::CloseLink { .. }
    ));
}
