//! A record adopted through another copy's link: that link's CRM hash is the baseline of
//! "changed in CRM"; a link that keeps none (adopted by the CrmId property and not compared
//! by the CRM side yet, or one an attendee's copy left before it kept the baseline it adopted,
//! see `not_owned`) leaves either side possibly changed.

use super::*;
use crate::appointments::gather::OTHER_LINK;
use crate::appointments::model::KeyRecord;

/// The organizer's (Anna's) copy, met for the first time, modified before CRM's edit.
fn organizer_copy() -> EventChange {
    let mut e = ev();
    e.modified = Some("2026-05-02T10:00:00Z".parse().unwrap());
    EventChange::Event(Box::new(e))
}

/// The facts of a record found through another mailbox's link keeping `baseline`.
fn through_other_link(a: &CrmAppointment, baseline: Option<&str>) -> Facts {
    Facts {
        existing: Some(a.clone()),
        found_by: Some(OTHER_LINK),
        adopted_by: Some(AdoptedBy::Link),
        other_links: 1,
        baseline: baseline.map(str::to_owned),
        key: Some(KeyRecord {
            id: CrmId(99),
            mailbox: Some("bob@contoso.com".into()),
        }),
        ..Facts::default()
    }
}

#[test]
fn a_crm_edit_is_weighed_when_the_link_adopted_through_keeps_no_baseline() {
    let crm_edit = appointment("Review (crm)", "2026-05-02T11:00:00Z");
    let change = organizer_copy();
    for baseline in [None, Some("")] {
        let facts = through_other_link(&crm_edit, baseline);
        // The newest version (CRM's edit) wins: it goes to the event, the event's is kept.
        match decide_it(&change, None, &facts, &rules()) {
            Decision::WriteEvent(w) => {
                let c = w.conflict.expect("weighed as a conflict");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review");
            }
            other => panic!("{baseline:?}: {other:?}"),
        }
        // The event wins by rule: CRM's edit is kept in the ledger entry.
        let r = AppointmentRules {
            conflict: Conflict::Microsoft365,
            ..rules()
        };
        match decide_it(&change, None, &facts, &r) {
            Decision::Sync {
                fields,
                conflict,
                adopted,
                ..
            } => {
                assert!(adopted && !fields.is_empty(), "{baseline:?}");
                let c = conflict.expect("weighed as a conflict");
                assert_eq!(c["conflict"]["losingVersion"]["subject"], "Review (crm)");
            }
            other => panic!("{baseline:?}: {other:?}"),
        }
        // The same content on both sides: adopted as it is, no conflict.
        let same = through_other_link(&appointment("Review", "2026-05-02T11:00:00Z"), baseline);
        match decide_it(&change, None, &same, &rules()) {
            Decision::Sync {
                conflict, adopted, ..
            } => assert!(adopted && conflict.is_none(), "{baseline:?}"),
            other => panic!("{baseline:?}: {other:?}"),
        }
    }
}

#[test]
fn a_record_nobody_linked_found_by_its_external_key_takes_the_events_fields() {
    // The previous connector's record (its key, no link anywhere): no baseline either, but
    // its content is that connector's rendering of the event, which may differ in ways
    // nobody edited; the event's fields are written without weighing (docs/SYNC.md).
    let older = appointment("Review (older connector)", "2026-05-02T11:00:00Z");
    let facts = Facts {
        found_by: Some("external key"),
        adopted_by: Some(AdoptedBy::ICalUId),
        other_links: 0,
        ..through_other_link(&older, None)
    };
    match decide_it(&organizer_copy(), None, &facts, &rules()) {
        Decision::Sync {
            fields,
            conflict,
            adopted,
            ..
        } => assert!(adopted && !fields.is_empty() && conflict.is_none()),
        other => panic!("{other:?}"),
    }
}
