//! Writes cut off between CRM and the store: the record or event they made is weighed by the
//! conflict rule when a later run adopts it, against what the write wrote.

use super::*;

#[test]
fn an_event_written_by_a_cut_off_run_is_weighed_by_the_conflict_rule_on_both_sides() {
    // The run that wrote the event from CRM was cut off before linking it; since then the
    // user edited the event and CRM changed too. No link, no baseline.
    let mut event = ev();
    event.subject = "Review (event)".into();
    event.crm_id = Some("99".into());
    event.modified = Some("2026-05-02T10:00:00Z".parse().unwrap());
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let crm_facts = Facts {
        existing: Some(crm_edit.clone()),
        event: Some(event.clone()),
        ..Facts::default()
    };
    let cal_facts = Facts {
        existing: Some(crm_edit.clone()),
        found_by: Some("the CrmId property"),
        ..Facts::default()
    };
    let from_crm = item(crm_edit.clone(), false);
    let from_calendar = EventChange::Event(Box::new(event.clone()));
    for (rule, crm_wins) in [(Conflict::Crm, true), (Conflict::Microsoft365, false)] {
        let r = AppointmentRules {
            conflict: rule,
            ..rules()
        };
        match decide_it(&from_crm, None, &crm_facts, &r) {
            Decision::WriteEvent(w) => {
                assert!(crm_wins, "{rule:?}");
                assert!(w.adopted);
                let c = w.conflict.unwrap();
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (event)");
            }
            // Left to the calendar side.
            Decision::Nothing => assert!(!crm_wins, "{rule:?}"),
            other => panic!("{rule:?}: {other:?}"),
        }
        match decide_it(&from_calendar, None, &cal_facts, &r) {
            Decision::WriteEvent(w) => {
                assert!(crm_wins, "{rule:?}");
                let c = w.conflict.unwrap();
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (event)");
            }
            Decision::Sync { conflict, .. } => {
                assert!(!crm_wins, "{rule:?}");
                let c = conflict.unwrap();
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
            }
            other => panic!("{rule:?}: {other:?}"),
        }
    }
    // Adopted by its CrmId property since (the link has no CRM hash until the CRM side
    // compares), then both sides changed again before that compare: still no baseline.
    let mut adopted = link_for(&crm_edit, &rules());
    adopted.crm_hash = None;
    adopted.graph_hash = Some("an older version".into());
    let linked_facts = Facts {
        existing: Some(crm_edit.clone()),
        found_by: Some("link"),
        ..Facts::default()
    };
    match decide_it(&from_calendar, Some(&adopted), &linked_facts, &rules()) {
        Decision::Sync { conflict, .. } => {
            let c = conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
        }
        Decision::WriteEvent(w) => {
            let c = w.conflict.expect("weighed as a conflict");
            assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (event)");
        }
        other => panic!("{other:?}"),
    }
    // The same content on both sides: adopted as it is, no conflict.
    let mut same = event;
    same.subject = "Review (crm)".into();
    let facts = Facts {
        event: Some(same),
        ..crm_facts
    };
    assert!(matches!(
        decide_it(&from_crm, None, &facts, &rules()),
        Decision::WriteEvent(w) if w.conflict.is_none()
    ));
}

#[test]
fn a_record_of_a_cut_off_write_adopted_later_weighs_a_crm_edit_made_since() {
    // A run wrote the event to CRM and was cut off before linking it (the link is still the
    // intent); CRM edited the record since, the event did not change. The record found by
    // its external key must not get the event's fields without the conflict rule.
    let mut event = ev();
    event.modified = Some("2026-05-02T10:00:00Z".parse().unwrap());
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    // The intent keeps the hash of what the write wrote; one from before it did has none.
    let mut old_intent = Link::new(Kind::Appointment, "7", "e1");
    old_intent.state = LinkState::Interrupted;
    let mut intent = old_intent.clone();
    intent.crm_hash = Some(content::crm_hash(
        &appointment("Review", "x"),
        &rules(),
        &[],
    ));
    // Cut off after the insert, with the record's id (a partial write), found by the link.
    let mut partial = intent.clone();
    partial.crm_id = Some(CrmId(99));
    let change = EventChange::Event(Box::new(event.clone()));
    for (link, found_by) in [
        (&intent, "external key"),
        (&old_intent, "external key"),
        (&intent, "left by an interrupted attempt"),
        (&partial, "link"),
    ] {
        let facts = Facts {
            existing: Some(crm_edit.clone()),
            found_by: Some(found_by),
            key: Some(crate::appointments::model::KeyRecord {
                id: CrmId(99),
                mailbox: Some("anna@contoso.com".into()),
            }),
            ..Facts::default()
        };
        // The newest version wins: CRM's edit goes to the event, the event's is kept.
        match decide_it(&change, Some(link), &facts, &rules()) {
            Decision::WriteEvent(w) => {
                let c = w.conflict.expect("weighed as a conflict");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review");
            }
            other => panic!("{found_by}: {other:?}"),
        }
        // The event wins by rule: CRM's edit is kept in the ledger entry.
        let r = AppointmentRules {
            conflict: Conflict::Microsoft365,
            ..rules()
        };
        match decide_it(&change, Some(link), &facts, &r) {
            Decision::Sync {
                conflict, fields, ..
            } => {
                assert!(!fields.is_empty(), "{found_by}");
                let c = conflict.expect("weighed as a conflict");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
            }
            other => panic!("{found_by}: {other:?}"),
        }
        // Nothing changed on either side: adopted as written, no conflict.
        let same = Facts {
            existing: Some(appointment("Review", "2026-05-02T09:00:00Z")),
            ..facts
        };
        match decide_it(&change, Some(link), &same, &rules()) {
            Decision::Sync {
                conflict,
                fields,
                adopted,
                ..
            } => {
                assert!(adopted && conflict.is_none(), "{found_by}: {fields:?}");
            }
            other => panic!("{found_by}: {other:?}"),
        }
    }
}

#[test]
fn a_copy_not_owning_the_fields_keeps_what_its_cut_off_write_wrote_as_the_baseline() {
    // An attendee's copy wrote the meeting's record and was cut off before linking it; CRM
    // edited the record since. Adopting it writes no fields (the organizer's copy owns them),
    // and its link keeps the hash of what was written, not CRM's edit: the organizer's copy,
    // adopting through this link later, then weighs the edit instead of overwriting it.
    let mut event = ev();
    event.is_organizer = false;
    event.organizer = Some("olaf@contoso.com".into());
    let written = content::crm_hash(&appointment("Review", "x"), &rules(), &[]);
    let mut intent = Link::new(Kind::Appointment, "7", "e1");
    intent.state = LinkState::Interrupted;
    intent.crm_hash = Some(written.clone());
    let facts = Facts {
        existing: Some(appointment("Review (crm)", "2026-05-02T11:00:00Z")),
        found_by: Some("external key"),
        key: Some(crate::appointments::model::KeyRecord {
            id: CrmId(99),
            mailbox: Some("bob@contoso.com".into()),
        }),
        ..Facts::default()
    };
    let change = EventChange::Event(Box::new(event));
    match decide_it(&change, Some(&intent), &facts, &rules()) {
        Decision::Sync {
            fields,
            crm_hash,
            adopted,
            conflict,
            ..
        } => {
            assert!(adopted && fields.is_empty() && conflict.is_none());
            assert_eq!(crm_hash, Some(written));
        }
        other => panic!("{other:?}"),
    }
}
