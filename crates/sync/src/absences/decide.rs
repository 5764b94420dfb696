//! The absences kind's rules, pure.
//!
//! CRM owns the absence events. An absence is written when what the connector would write
//! differs from what it last wrote (the link's hash). So an event the user edits keeps the
//! edit until the absence next changes in CRM, and an event the user deletes comes back when
//! the absence next changes in CRM (not before: an administrator expects CRM's absences in
//! the calendar, and a user who deleted one on purpose is not overruled every hour for
//! nothing; the next change in CRM is CRM speaking again). An absence deleted in CRM loses its
//! event. An absence that only left the window (it is over) keeps its event: leaving the
//! window is not a deletion; the connector stops following it.

use gc_store::{Link, LinkState};
use serde_json::Value;

use crate::absences::model::{AbsenceChange, AbsenceItem, AbsenceRules, body_hash, event_body};
use crate::adopt::AdoptedBy;

/// What to do with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Written the same before: nothing to do.
    Unchanged,
    /// The absence cannot be shown (its dates do not read): the item fails with the reason.
    Fail(String),
    /// No event carries the absence's id: write one.
    Create { body: Value, hash: String },
    /// The absence's event exists: write the absence over it.
    Update {
        event: String,
        /// Further events carrying the same id: deleted, so the absence shows once.
        extra: Vec<String>,
        body: Value,
        hash: String,
        /// Found without an active link (an interrupted create): adopted, not written again.
        adopted: bool,
        /// How an adopted event was found when not by the absence id it carries (the previous
        /// connector's key, content).
        how: Option<AdoptedBy>,
    },
    /// Deleted in CRM: delete its events.
    Delete { events: Vec<String> },
    /// Outside the window now but still in CRM: keep the event (updated first when the
    /// absence changed) and stop following it.
    Release {
        /// The event to update first, with its body and hash.
        update: Option<(String, Value, String)>,
    },
    /// Deleted in CRM and its event already gone: stop following it.
    Forget,
}

/// What gather found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The connector's events carrying the absence id.
    pub events: Vec<String>,
    /// For a gone absence: the absence as CRM still has it for the rep (outside the window).
    pub still: Option<AbsenceItem>,
    /// How the one event in `events` was adopted, when it carries no absence id yet (the
    /// previous connector's event).
    pub adopted_by: Option<AdoptedBy>,
}

/// The decision that needs no read: unreadable, or written the same before.
pub fn triage(
    change: &AbsenceChange,
    link: Option<&Link>,
    rules: &AbsenceRules,
) -> Option<Decision> {
    match change {
        AbsenceChange::Broken { reason, .. } => Some(Decision::Fail(reason.clone())),
        AbsenceChange::Absence(a) => {
            let link = link?;
            let hash = body_hash(&event_body(a, rules).ok()?);
            (link.state == LinkState::Active && link.crm_hash.as_deref() == Some(&hash))
                .then_some(Decision::Unchanged)
        }
        AbsenceChange::Gone(_) => None,
    }
}

/// The decision, from the change, its link and the facts.
pub fn decide(
    change: &AbsenceChange,
    link: Option<&Link>,
    facts: &Facts,
    rules: &AbsenceRules,
) -> Decision {
    match change {
        AbsenceChange::Broken { reason, .. } => Decision::Fail(reason.clone()),
        AbsenceChange::Absence(a) => {
            let body = match event_body(a, rules) {
                Ok(b) => b,
                Err(e) => return Decision::Fail(e),
            };
            let hash = body_hash(&body);
            match facts.events.split_first() {
                None => Decision::Create { body, hash },
                Some((first, rest)) => Decision::Update {
                    event: first.clone(),
                    extra: rest.to_vec(),
                    adopted: link.is_none_or(|l| l.state != LinkState::Active),
                    how: facts.adopted_by,
                    body,
                    hash,
                },
            }
        }
        AbsenceChange::Gone(l) => match &facts.still {
            Some(a) => {
                let update = facts.events.first().and_then(|ev| {
                    let body = event_body(a, rules).ok()?;
                    let hash = body_hash(&body);
                    (l.crm_hash.as_deref() != Some(&hash)).then(|| (ev.clone(), body, hash))
                });
                Decision::Release { update }
            }
            None if facts.events.is_empty() => Decision::Forget,
            None => Decision::Delete {
                events: facts.events.clone(),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use gc_store::{CrmId, Kind};
    use jiff::civil::date;

    use super::*;
    use crate::absences::model::item_key;

    fn absence(text: &str) -> AbsenceItem {
        AbsenceItem {
            id: CrmId(3),
            rep_number: "100".into(),
            start: date(2026, 12, 1),
            start_time: None,
            end: date(2026, 12, 2),
            end_time: None,
            kind: "Vacation".into(),
            text: text.into(),
        }
    }

    fn link(state: LinkState, hash: Option<String>) -> Link {
        let mut l = Link::new(Kind::Absence, "1", item_key(CrmId(3)));
        l.crm_id = Some(CrmId(3));
        l.state = state;
        l.crm_hash = hash;
        l
    }

    fn hash(a: &AbsenceItem) -> String {
        body_hash(&event_body(a, &AbsenceRules::default()).unwrap())
    }

    #[test]
    fn an_absence_written_the_same_is_left_alone_even_if_the_user_deleted_its_event() {
        let r = AbsenceRules::default();
        let c = AbsenceChange::Absence(absence("a"));
        let l = link(LinkState::Active, Some(hash(&absence("a"))));
        assert_eq!(triage(&c, Some(&l), &r), Some(Decision::Unchanged));
        let changed = AbsenceChange::Absence(absence("b"));
        assert_eq!(triage(&changed, Some(&l), &r), None);
        // changed in CRM and its event gone (deleted by the user): written again
        assert!(matches!(
            decide(&changed, Some(&l), &Facts::default(), &r),
            Decision::Create { .. }
        ));
    }

    #[test]
    fn an_interrupted_create_is_adopted() {
        let r = AbsenceRules::default();
        let c = AbsenceChange::Absence(absence("a"));
        let facts = Facts {
            events: vec!["E".into(), "F".into()],
            still: None,
            adopted_by: None,
        };
        match decide(&c, Some(&link(LinkState::Interrupted, None)), &facts, &r) {
            Decision::Update {
                event,
                extra,
                adopted,
                ..
            } => {
                assert_eq!(
                    (event.as_str(), extra, adopted),
                    ("E", vec!["F".to_owned()], true)
                );
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn deleted_in_crm_deletes_leaving_the_window_keeps() {
        let r = AbsenceRules::default();
        let l = link(LinkState::Active, Some(hash(&absence("a"))));
        let gone = AbsenceChange::Gone(l.clone());
        let events = vec!["E".to_owned()];
        assert_eq!(
            decide(
                &gone,
                Some(&l),
                &Facts {
                    events: events.clone(),
                    still: None,
                    adopted_by: None,
                },
                &r
            ),
            Decision::Delete {
                events: events.clone()
            }
        );
        assert_eq!(
            decide(&gone, Some(&l), &Facts::default(), &r),
            Decision::Forget
        );
        let kept = Facts {
            events: events.clone(),
            still: Some(absence("a")),
            adopted_by: None,
        };
        assert_eq!(
            decide(&gone, Some(&l), &kept, &r),
            Decision::Release { update: None }
        );
        let changed = Facts {
            events,
            still: Some(absence("moved")),
            adopted_by: None,
        };
        assert!(matches!(
            decide(&gone, Some(&l), &changed, &r),
            Decision::Release { update: Some(_) }
        ));
    }

    #[test]
    fn an_unreadable_absence_fails() {
        let r = AbsenceRules::default();
        let b = AbsenceChange::Broken {
            id: CrmId(4),
            reason: "bad date".into(),
        };
        assert_eq!(
            triage(&b, None, &r),
            Some(Decision::Fail("bad date".into()))
        );
    }
}
