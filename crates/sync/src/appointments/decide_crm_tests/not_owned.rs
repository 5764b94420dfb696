//! A CRM edit met by a copy of a meeting that does not own the meeting's fields (an
//! attendee's): not written back, and its link keeps the last content both sides agreed on,
//! for the organizer's copy to weigh the edit when it adopts the record through that link.

use super::*;
use crate::appointments::gather::OTHER_LINK;

/// Anna's copy of Olaf's meeting, as the calendar reports it.
fn attendee_event() -> crate::appointments::model::CalEvent {
    let mut e = ev();
    e.is_organizer = false;
    e.organizer = Some("olaf@contoso.com".into());
    e
}

/// Anna's link as her last sync left it: her copy and the appointment `a` agreed.
fn attendee_link(a: &CrmAppointment) -> Link {
    let mut l = link_for(a, &rules());
    l.graph_hash = Some(content::event_hash(&attendee_event()));
    l
}

/// What the store holds after `d` (the CRM side's fields of a `Remember`).
fn remembered(mut l: Link, d: &Decision) -> Link {
    match d {
        Decision::Remember {
            crm_hash,
            crm_version,
            ..
        } => {
            l.crm_hash.clone_from(crm_hash);
            l.crm_version.clone_from(crm_version);
        }
        Decision::Nothing => {}
        other => panic!("{other:?}"),
    }
    l
}

/// The CRM side's fields `(crm_hash, crm_version)` of a `Remember` that records a CRM edit
/// as not written back; any other decision fails the test.
fn recorded(d: &Decision) -> (&Option<String>, &Option<String>) {
    match d {
        Decision::Remember {
            crm_hash,
            crm_version,
            reason: Some(reason),
        } if reason.contains("not written back") => (crm_hash, crm_version),
        other => panic!("not recorded as not written back: {other:?}"),
    }
}

/// The CRM side of Anna's mailbox meeting `a`: triage, then the decision.
fn crm_side(a: &CrmAppointment, link: &Link, event: &CalEvent) -> Decision {
    let change = item(a.clone(), true);
    let EventChange::Crm(i) = &change else {
        unreachable!()
    };
    if let Some(d) = triage_crm(i, Some(link), &rules(), &[], &Owner::anna()) {
        return d;
    }
    let facts = Facts {
        existing: Some(a.clone()),
        event: Some(event.clone()),
        found_by: Some("link"),
        ..Facts::default()
    };
    decide_it(&change, Some(link), &facts, &rules())
}

/// What a copy finds adopting the record `a` through another copy's link that remembers
/// `baseline`, the record's external key naming `key_mailbox`.
fn through_link(a: &CrmAppointment, baseline: Option<String>, key_mailbox: &str) -> Facts {
    Facts {
        existing: Some(a.clone()),
        found_by: Some(OTHER_LINK),
        adopted_by: Some(AdoptedBy::Link),
        other_links: 1,
        baseline,
        key: Some(crate::appointments::model::KeyRecord {
            id: CrmId(99),
            mailbox: Some(key_mailbox.into()),
        }),
        ..Facts::default()
    }
}

/// The organizer's copy, its event as agreed ("Review", changed before CRM's edit), met by
/// its first run.
fn organizer_adopting() -> EventChange {
    let mut organizer = ev();
    organizer.modified = Some("2026-05-02T10:00:00Z".parse().unwrap());
    EventChange::Event(Box::new(organizer))
}

/// Under the default rule (the newest version wins) the organizer's adoption with `facts`
/// weighs CRM's later edit: it goes to the event, the event's version is kept in the ledger.
fn assert_the_crm_edit_wins(change: &EventChange, facts: &Facts) {
    match decide_it(change, None, facts, &rules()) {
        Decision::WriteEvent(w) => {
            let c = w.conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_attendees_copy_keeps_the_agreed_baseline_for_the_organizer_to_weigh_a_crm_edit() {
    // The organizer's runs were cut off: only the attendee's copy is linked. CRM edits the
    // appointment; the attendee's CRM side meets the edit and does not write it back.
    let agreed = appointment("Review", "2026-05-02T09:00:00Z");
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let before = attendee_link(&agreed);
    let seen = crm_side(&crm_edit, &before, &attendee_event());
    let (crm_hash, crm_version) = recorded(&seen);
    assert_eq!(crm_version, &crm_edit.updated, "the version seen");
    assert_eq!(
        crm_hash, &before.crm_hash,
        "the baseline stays the agreed content"
    );
    let after = remembered(before, &seen);

    // Met again (a full walk): already seen, nothing to decide or to record again.
    assert_eq!(
        crm_side(&crm_edit, &after, &attendee_event()),
        Decision::Nothing
    );

    // The organizer's copy adopts the record through the attendee's link, its event as it
    // was: CRM changed since the agreed content, so the conflict rule weighs the edit.
    let change = organizer_adopting();
    let facts = through_link(&crm_edit, after.crm_hash.clone(), "anna@contoso.com");
    // The newest version (CRM's edit) wins: it goes to the event, the event's is kept.
    assert_the_crm_edit_wins(&change, &facts);
    // The event wins by rule: CRM's edit is kept in the ledger entry.
    let r = AppointmentRules {
        conflict: Conflict::Microsoft365,
        ..rules()
    };
    match decide_it(&change, None, &facts, &r) {
        Decision::Sync {
            fields, conflict, ..
        } => {
            assert!(!fields.is_empty());
            let c = conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_attendees_copy_moves_its_baseline_once_its_event_shows_crms_content() {
    // The organizer's copy took CRM's edit since (the meeting update reached the attendee's
    // copy, which the calendar side linked): both sides agree again, and the next CRM change
    // the attendee's copy meets is weighed from there.
    let agreed = appointment("Review", "2026-05-02T09:00:00Z");
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let mut updated = attendee_event();
    updated.subject = "Review (crm)".into();
    updated.change_key = Some("ck3".into());
    let mut l = attendee_link(&agreed);
    l.graph_version = updated.change_key.clone();
    l.graph_hash = Some(content::event_hash(&updated));
    match crm_side(&crm_edit, &l, &updated) {
        Decision::Remember {
            crm_hash,
            crm_version,
            reason,
        } => {
            assert_eq!(reason, None, "nothing to record");
            assert_eq!(crm_hash, Some(content::crm_hash(&crm_edit, &rules(), &[])));
            assert_eq!(crm_version, crm_edit.updated);
        }
        other => panic!("{other:?}"),
    }
    // Before that, a further CRM edit (a new stamp) is recorded, and the baseline stays.
    let before = attendee_link(&agreed);
    let seen = remembered(
        before.clone(),
        &crm_side(&crm_edit, &before, &attendee_event()),
    );
    let later = appointment("Review (crm, again)", "2026-05-02T12:00:00Z");
    assert_eq!(
        recorded(&crm_side(&later, &seen, &attendee_event())),
        (&before.crm_hash, &later.updated)
    );
}

#[test]
fn an_external_organizers_meeting_takes_no_crm_edit_and_its_key_copy_weighs_it() {
    // An organizer who is not a synced rep, on a record without `ConnectorPublished` (a
    // dialect or forms.xml without it): the copy of the external key's mailbox (Anna's) owns
    // the meeting's fields, yet CRM's edits are written to no copy; its link keeps the
    // agreed baseline, and the organizer's next update weighs the edit by the conflict rule.
    let mut external = attendee_event();
    external.organizer = Some("eve@partner.example".into());
    let agreed = appointment("Review", "2026-05-02T09:00:00Z");
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let mut before = attendee_link(&agreed);
    before.graph_hash = Some(content::event_hash(&external));
    assert!(!takes_crm_edits(&external, &Owner::anna()));
    let seen = crm_side(&crm_edit, &before, &external);
    assert_eq!(
        recorded(&seen).0,
        &before.crm_hash,
        "the baseline stays the agreed content"
    );
    let after = remembered(before, &seen);
    // The organizer updates the meeting later than CRM's edit: the newest (the event) wins,
    // CRM's edit is kept in the ledger entry.
    let mut updated = external.clone();
    updated.location = "Room 2".into();
    updated.change_key = Some("ck3".into());
    updated.modified = Some("2026-05-02T12:00:00Z".parse().unwrap());
    let key = |mailbox: &str| {
        Some(crate::appointments::model::KeyRecord {
            id: CrmId(99),
            mailbox: Some(mailbox.into()),
        })
    };
    let facts = Facts {
        existing: Some(crm_edit.clone()),
        found_by: Some("link"),
        key: key("anna@contoso.com"),
        ..Facts::default()
    };
    let change = EventChange::Event(Box::new(updated));
    match decide_it(&change, Some(&after), &facts, &rules()) {
        Decision::Sync {
            fields, conflict, ..
        } => {
            assert!(!fields.is_empty());
            let c = conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
        }
        other => panic!("{other:?}"),
    }
    // Under a rule that picks CRM, CRM's version is not written into this copy (the
    // organizer's next update would overwrite it): the meeting is Microsoft 365's, the event
    // wins, and the entry keeps CRM's version and says why the rule was overruled.
    let crm_rule = AppointmentRules {
        conflict: Conflict::Crm,
        ..rules()
    };
    match decide_it(&change, Some(&after), &facts, &crm_rule) {
        Decision::Sync {
            fields,
            conflict,
            reason,
            ..
        } => {
            assert!(!fields.is_empty());
            let c = conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["rule"], "crm");
            assert_eq!(c["conflict"]["winner"], "microsoft365");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
            assert!(
                c["conflict"]["overruled"]
                    .as_str()
                    .is_some_and(|w| w.contains("eve@partner.example")),
                "{c}"
            );
            assert!(reason.contains("not a synced rep"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Another attendee's copy (the key names another mailbox) writes no fields either.
    let other = Facts {
        key: key("bob@contoso.com"),
        ..facts
    };
    match decide_it(&change, Some(&after), &other, &rules()) {
        Decision::Sync {
            fields, conflict, ..
        } => assert!(fields.is_empty() && conflict.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_attendees_copy_adopting_after_a_crm_edit_keeps_the_baseline_it_adopted() {
    // Bob's copy (an attendee's) wrote the appointment and keeps the agreed content; CRM
    // edits it; Anna's copy (another attendee's) adopts the record through Bob's link.
    let agreed = appointment("Review", "2026-05-02T09:00:00Z");
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let bobs = link_for(&agreed, &rules()).crm_hash;
    let change = EventChange::Event(Box::new(attendee_event()));
    let crm_hash = match decide_it(
        &change,
        None,
        &through_link(&crm_edit, bobs.clone(), "bob@contoso.com"),
        &rules(),
    ) {
        Decision::Sync {
            fields,
            conflict,
            adopted,
            crm_hash,
            ..
        } => {
            assert!(adopted && fields.is_empty() && conflict.is_none());
            crm_hash
        }
        other => panic!("{other:?}"),
    };
    // Her link keeps the agreed content it adopted, not nothing (nor, once her CRM side
    // compared, CRM's edit).
    assert_eq!(crm_hash, bobs, "the adopted baseline is kept");
    // Her link as the adoption leaves it.
    let mut anna = Link::new(Kind::Appointment, "7", "e1");
    anna.crm_id = Some(CrmId(99));
    anna.graph_version = attendee_event().change_key;
    anna.graph_hash = Some(content::event_hash(&attendee_event()));
    anna.crm_version = Some(String::new());
    anna.crm_hash = crm_hash;
    // Her CRM side meets the edit: recorded once as not written back, the baseline stays;
    // met again, nothing to decide or to record.
    let seen = crm_side(&crm_edit, &anna, &attendee_event());
    assert_eq!(recorded(&seen), (&bobs, &crm_edit.updated));
    let anna = remembered(anna, &seen);
    assert_eq!(
        crm_side(&crm_edit, &anna, &attendee_event()),
        Decision::Nothing
    );
    // The organizer's copy, its event as agreed, adopts the record through her link (the
    // first by mailbox): CRM changed since the agreed content, the rule weighs the edit.
    let facts = through_link(&crm_edit, anna.crm_hash.clone(), "bob@contoso.com");
    assert_the_crm_edit_wins(&organizer_adopting(), &facts);
}

#[test]
fn an_attendees_copy_showing_crms_edit_moves_its_baseline_on_the_calendar_side() {
    // Anna's CRM side met CRM's edit first and kept the agreed baseline; then the organizer's
    // copy took the edit and the meeting update reached Anna's copy, which her calendar side
    // meets before her CRM side meets the record again.
    let agreed = appointment("Review", "2026-05-02T09:00:00Z");
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let before = attendee_link(&agreed);
    let after = remembered(
        before.clone(),
        &crm_side(&crm_edit, &before, &attendee_event()),
    );
    assert_eq!(after.crm_hash, before.crm_hash, "the baseline stayed");
    let mut updated = attendee_event();
    updated.subject = "Review (crm)".into();
    updated.change_key = Some("ck3".into());
    let facts = Facts {
        existing: Some(crm_edit.clone()),
        found_by: Some("link"),
        ..Facts::default()
    };
    let change = EventChange::Event(Box::new(updated));
    let moved = match decide_it(&change, Some(&after), &facts, &rules()) {
        Decision::Sync {
            fields,
            conflict,
            crm_hash,
            ..
        } => {
            assert!(fields.is_empty() && conflict.is_none());
            crm_hash
        }
        other => panic!("{other:?}"),
    };
    // The sides agree again: the baseline is CRM's content as this write leaves it (with
    // the participants it adds), no longer the content agreed before the edit.
    assert!(
        moved.is_some() && moved != before.crm_hash,
        "the baseline moved: {moved:?}"
    );

    // The organizer's copy, which took the edit (its event shows CRM's content and invites
    // CRM's participant), adopts the record through Anna's link after a `forget`: the same
    // version on both sides is no conflict, whichever rule, through the moved baseline or
    // through one an older build left behind.
    let mut organizer = ev();
    organizer.subject = "Review (crm)".into();
    organizer.modified = Some("2026-05-02T11:30:00Z".parse().unwrap());
    organizer.attendees = vec![crate::appointments::model::Attendee {
        email: "kim@customer.example".into(),
        role: gc_crm::ParticipantRole::Required,
        response: None,
    }];
    let change = EventChange::Event(Box::new(organizer));
    for baseline in [moved, before.crm_hash.clone()] {
        for conflict in [Conflict::Newest, Conflict::Crm, Conflict::Microsoft365] {
            let r = AppointmentRules {
                conflict,
                ..rules()
            };
            let facts = through_link(&crm_edit, baseline.clone(), "anna@contoso.com");
            match decide_it(&change, None, &facts, &r) {
                Decision::Sync {
                    conflict, adopted, ..
                } => assert!(adopted && conflict.is_none(), "{conflict:?}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
