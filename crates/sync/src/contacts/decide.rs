//! The contacts kind's rules, pure: what to do with a person of the selection, or with a
//! linked person the selection no longer holds.
//!
//! CRM owns the connector's contacts. A person is written when what the connector would write
//! differs from what it last wrote (the link's hash); otherwise nothing is read or written.
//! So a user's edit of such a contact lasts until the person next changes in CRM (then CRM's
//! data is written over it), and a contact the user deleted comes back at the person's next
//! change in CRM, or at once when the target folder had to be created again; this keeps the
//! daily run from fighting a user who tidies up, while CRM stays the owner.

use gc_store::{Link, LinkState};
use serde_json::Value;

use crate::adopt::AdoptedBy;
use crate::contacts::model::{ContactChange, body_hash, contact_body};

/// What to do with a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Written the same before: nothing to do.
    Unchanged,
    /// No contact of the connector carries the person's id: write one.
    Create {
        /// The contact.
        body: Value,
        /// Its hash (the link's `crm_hash`).
        hash: String,
    },
    /// The connector's contact for the person exists: write the person's data over it.
    Update {
        /// The contact to write.
        contact: String,
        /// Further contacts carrying the same person id (left by an earlier failure): deleted,
        /// so the person appears once.
        extra: Vec<String>,
        body: Value,
        hash: String,
        /// Found without an active link (an interrupted create, or an earlier installation):
        /// adopted rather than created again.
        adopted: bool,
        /// How an adopted contact was found when not by the person id it carries (the
        /// previous connector's key, content); set by the kind from what gather found.
        how: Option<AdoptedBy>,
    },
    /// The person left the selection or was deleted in CRM: delete its contacts.
    Delete {
        /// The connector's contacts carrying the person's id.
        contacts: Vec<String>,
    },
    /// The person left the selection and its contact is already gone: stop following it.
    Forget,
}

/// The decision that needs no Graph read: a person written the same before, unless the target
/// folder was just created again (then every contact is checked).
pub fn triage(
    change: &ContactChange,
    link: Option<&Link>,
    category: Option<&str>,
    fresh_target: bool,
) -> Option<Decision> {
    let ContactChange::Person(p) = change else {
        return None;
    };
    let link = link?;
    let hash = body_hash(&contact_body(p, category));
    (!fresh_target && link.state == LinkState::Active && link.crm_hash.as_deref() == Some(&hash))
        .then_some(Decision::Unchanged)
}

/// The decision, from the change, its link and the connector's contacts found for the person
/// (by its id in the extended property).
pub fn decide(
    change: &ContactChange,
    link: Option<&Link>,
    category: Option<&str>,
    found: &[String],
) -> Decision {
    match change {
        ContactChange::Person(p) => {
            let body = contact_body(p, category);
            let hash = body_hash(&body);
            match found.split_first() {
                None => Decision::Create { body, hash },
                Some((first, rest)) => Decision::Update {
                    contact: first.clone(),
                    extra: rest.to_vec(),
                    adopted: link.is_none_or(|l| l.state != LinkState::Active),
                    how: None,
                    body,
                    hash,
                },
            }
        }
        ContactChange::Gone(_) if found.is_empty() => Decision::Forget,
        ContactChange::Gone(_) => Decision::Delete {
            contacts: found.to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use gc_crm::CrmPerson;
    use gc_store::{CrmId, Kind};

    use super::*;
    use crate::contacts::model::item_key;

    fn person(job: &str) -> CrmPerson {
        CrmPerson {
            id: CrmId(5),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            emails: vec!["grace@navy.example".into()],
            job_title: job.into(),
            phone: String::new(),
            mobile_phone: String::new(),
            company: None,
        }
    }

    fn link(state: LinkState, hash: Option<String>) -> Link {
        let mut l = Link::new(Kind::Contact, "1", item_key(CrmId(5)));
        l.crm_id = Some(CrmId(5));
        l.state = state;
        l.crm_hash = hash;
        l
    }

    #[test]
    fn a_person_written_the_same_before_is_left_alone() {
        let c = ContactChange::Person(person("Admiral"));
        let h = body_hash(&contact_body(&person("Admiral"), None));
        let same = link(LinkState::Active, Some(h.clone()));
        assert_eq!(
            triage(&c, Some(&same), None, false),
            Some(Decision::Unchanged)
        );
        // a recreated folder, a changed person, another category, an interrupted write: look
        assert_eq!(triage(&c, Some(&same), None, true), None);
        let changed = ContactChange::Person(person("Rear Admiral"));
        assert_eq!(triage(&changed, Some(&same), None, false), None);
        assert_eq!(triage(&c, Some(&same), Some("CRM"), false), None);
        let interrupted = link(LinkState::Interrupted, Some(h));
        assert_eq!(triage(&c, Some(&interrupted), None, false), None);
        assert_eq!(triage(&c, None, None, false), None);
    }

    #[test]
    fn the_contact_found_by_the_person_id_is_updated_never_duplicated() {
        let c = ContactChange::Person(person("Admiral"));
        assert!(matches!(
            decide(&c, None, None, &[]),
            Decision::Create { .. }
        ));
        // an interrupted create wrote it: adopted, not written twice
        let found = vec!["A".to_owned(), "B".to_owned()];
        let interrupted = link(LinkState::Interrupted, None);
        match decide(&c, Some(&interrupted), None, &found) {
            Decision::Update {
                contact,
                extra,
                adopted,
                ..
            } => {
                assert_eq!(contact, "A");
                assert_eq!(extra, vec!["B".to_owned()]);
                assert!(adopted);
            }
            d => panic!("{d:?}"),
        }
        let active = link(LinkState::Active, Some("old".into()));
        assert!(matches!(
            decide(&c, Some(&active), None, &found[..1]),
            Decision::Update { adopted: false, .. }
        ));
    }

    #[test]
    fn a_person_leaving_the_selection_loses_its_contact() {
        let gone = ContactChange::Gone(link(LinkState::Active, None));
        assert_eq!(decide(&gone, None, None, &[]), Decision::Forget);
        assert_eq!(
            decide(&gone, None, None, &["A".to_owned()]),
            Decision::Delete {
                contacts: vec!["A".to_owned()]
            }
        );
        assert_eq!(triage(&gone, None, None, false), None);
    }
}
