//! Who takes part in a filed e-mail: the addresses of the message matched with CRM reps,
//! persons and companies; the rest goes into the missing-participants block as forms.xml
//! describes. Pure functions.

use std::collections::BTreeSet;

use gc_crm::ParticipantRole;
use gc_crm::forms::MissingAttendees;
use gc_store::CrmId;

use crate::email::model::{MailMessage, Owner, ParticipantPlan, PeopleMatch, RepRef};
use crate::email::rules::{RecipientList, role_of};

/// The participants of an activity and what could not be matched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// Participants to write (the owner always among them).
    pub participants: Vec<ParticipantPlan>,
    /// Addresses found nowhere in CRM, with their role.
    pub missing: Vec<(ParticipantRole, String)>,
    /// Company to link the activity to.
    pub company: Option<CrmId>,
    /// Person to link the activity to.
    pub person: Option<CrmId>,
}

/// Match every address of `msg` (sender, To, Cc, Bcc; each address once, first role wins).
/// The owner is a participant as rep; when they are not among the addresses (BCC), they are
/// added as informational participant.
pub fn resolve(msg: &MailMessage, owner: &Owner, people: &PeopleMatch) -> Resolution {
    let mut seen = BTreeSet::new();
    let mut out = Resolution::default();
    let mut owner_seen = false;
    for (list, addr) in msg.addresses() {
        let email = addr.email.as_str();
        if email.is_empty() || !seen.insert(email.to_owned()) {
            continue;
        }
        let role = role_of(list);
        if owner.owns(email) {
            if !owner_seen {
                owner_seen = true;
                out.participants
                    .push(rep_participant(role, &owner.email, owner.rep_crm_id));
            }
            continue;
        }
        if let Some(rep) = people.reps.iter().find(|r| r.email == email) {
            out.participants
                .push(rep_participant(role, email, rep.crm_id));
            continue;
        }
        let person = people
            .persons
            .iter()
            .filter(|p| p.email == email)
            .min_by_key(|p| p.person);
        if let Some(p) = person {
            out.participants.push(ParticipantPlan {
                role,
                email: email.to_owned(),
                person: Some(p.person),
                rep: None,
            });
            if out.person.is_none() {
                out.person = Some(p.person);
                out.company = out.company.or(p.company);
            }
            continue;
        }
        if let Some(c) = people
            .companies
            .iter()
            .filter(|c| c.email == email)
            .min_by_key(|c| c.company)
        {
            out.participants.push(ParticipantPlan {
                role,
                email: email.to_owned(),
                person: None,
                rep: None,
            });
            out.company = out.company.or(Some(c.company));
            continue;
        }
        out.missing.push((role, email.to_owned()));
    }
    if !owner_seen {
        out.participants.insert(
            0,
            rep_participant(role_of(RecipientList::Bcc), &owner.email, owner.rep_crm_id),
        );
    }
    out
}

fn rep_participant(role: ParticipantRole, email: &str, rep: CrmId) -> ParticipantPlan {
    ParticipantPlan {
        role,
        email: email.to_ascii_lowercase(),
        person: None,
        rep: Some(rep),
    }
}

/// The activity fields that carry the missing-participants block: the target field with the
/// formatted text and the flag fields forms.xml names. Empty when nothing is missing.
pub fn missing_fields(
    cfg: &MissingAttendees,
    language: &str,
    missing: &[(ParticipantRole, String)],
) -> Vec<(String, String)> {
    if missing.is_empty() {
        return Vec::new();
    }
    let block = cfg.format(language, missing);
    if block.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(cfg.field.clone(), cfg.apply(None, &block))];
    for (_table, field, value) in &cfg.flags {
        out.push((field.clone(), value.clone()));
    }
    out
}

/// Addresses of the message that CRM should be asked about (everything but the owner).
pub fn lookup_addresses(msg: &MailMessage, owner: &Owner) -> Vec<String> {
    let mut v: Vec<String> = msg
        .addresses()
        .into_iter()
        .map(|(_, a)| a.email.clone())
        .filter(|e| !e.is_empty() && !owner.owns(e))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The reps among `addresses` (lower case), in the order of `addresses`, each once; `reps`
/// sorted by address (binary search: a tenant may have 10,000 reps and every filed message
/// asks).
pub(crate) fn reps_among(reps: &[RepRef], addresses: &[String]) -> Vec<RepRef> {
    let mut out: Vec<RepRef> = Vec::new();
    for a in addresses {
        let from = reps.partition_point(|r| r.email.as_str() < a.as_str());
        for r in reps[from..].iter().take_while(|r| r.email == *a) {
            if !out.iter().any(|o| o.crm_id == r.crm_id) {
                out.push(r.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::model::{Address, CompanyRef, PersonRef, RepRef};
    use crate::email::rules::default_missing_attendees;

    fn owner() -> Owner {
        Owner {
            mailbox: "100".into(),
            rep_crm_id: CrmId(100),
            rep_number: "R1".into(),
            name: "Rita Rep".into(),
            email: "rita@contoso.example".into(),
            addresses: vec![
                "rita@contoso.example".into(),
                "r.rep@contoso.example".into(),
            ],
            language: None,
            kinds: crate::engine::RepKinds::ALL,
            settings: Default::default(),
        }
    }

    fn a(e: &str) -> Address {
        Address::new(e, None)
    }

    fn msg() -> MailMessage {
        MailMessage {
            id: "m1".into(),
            from: Some(a("Paul@Customer.example")),
            to: vec![a("R.Rep@contoso.example"), a("bob@contoso.example")],
            cc: vec![a("unknown@nowhere.example"), a("paul@customer.example")],
            bcc: vec![],
            ..Default::default()
        }
    }

    fn people() -> PeopleMatch {
        PeopleMatch {
            persons: vec![
                PersonRef {
                    email: "paul@customer.example".into(),
                    person: CrmId(7),
                    company: Some(CrmId(70)),
                },
                PersonRef {
                    email: "paul@customer.example".into(),
                    person: CrmId(5),
                    company: Some(CrmId(50)),
                },
            ],
            companies: vec![],
            reps: vec![RepRef {
                crm_id: CrmId(200),
                email: "bob@contoso.example".into(),
                rep_number: "R2".into(),
            }],
        }
    }

    #[test]
    fn matches_reps_persons_and_reports_unknown() {
        let r = resolve(&msg(), &owner(), &people());
        let parts: Vec<_> = r
            .participants
            .iter()
            .map(|p| (p.role, p.email.as_str(), p.person, p.rep))
            .collect();
        assert_eq!(
            parts,
            vec![
                (
                    ParticipantRole::Required,
                    "paul@customer.example",
                    Some(CrmId(5)),
                    None
                ),
                (
                    ParticipantRole::Required,
                    "rita@contoso.example",
                    None,
                    Some(CrmId(100))
                ),
                (
                    ParticipantRole::Required,
                    "bob@contoso.example",
                    None,
                    Some(CrmId(200))
                ),
            ]
        );
        assert_eq!(
            r.missing,
            vec![(ParticipantRole::Optional, "unknown@nowhere.example".into())]
        );
        assert_eq!((r.person, r.company), (Some(CrmId(5)), Some(CrmId(50))));
    }

    #[test]
    fn bcc_owner_becomes_informational() {
        let mut m = msg();
        m.to.remove(0);
        let r = resolve(&m, &owner(), &people());
        assert_eq!(r.participants[0].rep, Some(CrmId(100)));
        assert_eq!(r.participants[0].role, ParticipantRole::Informational);
    }

    #[test]
    fn company_match_links_company() {
        let m = MailMessage {
            from: Some(a("info@acme.example")),
            to: vec![a("rita@contoso.example")],
            ..Default::default()
        };
        let p = PeopleMatch {
            companies: vec![CompanyRef {
                email: "info@acme.example".into(),
                company: CrmId(9),
            }],
            ..Default::default()
        };
        let r = resolve(&m, &owner(), &p);
        assert_eq!(r.company, Some(CrmId(9)));
        assert!(r.missing.is_empty());
        assert_eq!(r.participants.len(), 2);
    }

    #[test]
    fn missing_block_uses_forms_labels_and_flags() {
        let cfg = default_missing_attendees();
        let f = missing_fields(
            &cfg,
            "de-DE",
            &[
                (ParticipantRole::Required, "x@y.example".into()),
                (ParticipantRole::Optional, "z@y.example".into()),
            ],
        );
        assert_eq!(f[0].0, "MissingParticipants");
        assert_eq!(
            f[0].1,
            "Nicht im CRM gefundene Teilnehmer:\nErforderlich: x@y.example\nOptional: z@y.example"
        );
        assert_eq!(f[1], ("ConnectorMissingparticipants".into(), "true".into()));
        assert!(missing_fields(&cfg, "en", &[]).is_empty());
    }

    #[test]
    fn lookup_excludes_owner_aliases() {
        let v = lookup_addresses(&msg(), &owner());
        assert_eq!(
            v,
            vec![
                "bob@contoso.example",
                "paul@customer.example",
                "unknown@nowhere.example"
            ]
        );
    }

    #[test]
    fn reps_among_finds_each_rep_of_the_addresses_once() {
        let rep = |id: u64, email: &str| RepRef {
            crm_id: CrmId(id),
            email: email.into(),
            rep_number: id.to_string(),
        };
        let mut reps: Vec<RepRef> = (0..1000)
            .map(|i| rep(i, &format!("rep{i:04}@contoso.example")))
            .collect();
        reps.push(rep(2000, "rep0500@contoso.example")); // two reps, one address
        reps.sort_by(|a, b| a.email.cmp(&b.email));
        let found = reps_among(
            &reps,
            &[
                "rep0999@contoso.example".into(),
                "x@fabrikam.example".into(),
                "rep0500@contoso.example".into(),
                "rep0999@contoso.example".into(),
            ],
        );
        let ids: Vec<String> = found.iter().map(|r| r.rep_number.clone()).collect();
        assert_eq!(ids, ["999", "500", "2000"]);
        assert!(reps_among(&reps, &[]).is_empty());
        assert!(reps_among(&[], &["rep0001@contoso.example".into()]).is_empty());
    }
}
