//! An event's CRM side, computed without I/O: the activity fields (forms.xml's vevent form,
//! names from the dialect), the participants (reps, persons, companies by address) and the
//! missing-attendees block, and a hash of all of it that tells a real change from an echo.

use std::collections::BTreeMap;

use gc_crm::ParticipantRole;
use gc_store::CrmId;
use sha2::{Digest, Sha256};

use crate::appointments::model::{CalEvent, NewMember, When};
use crate::appointments::rules::AppointmentRules;
use crate::email::model::{PeopleMatch, RepRef};
use crate::email::participants::missing_fields;
use crate::engine::Owner;

/// An event mapped onto a CRM appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Every synced field by name (empty values clear a field on update).
    pub fields: BTreeMap<String, String>,
    /// Participants found in CRM (reps, persons, companies' addresses).
    pub participants: Vec<NewMember>,
    /// First company among the participants.
    pub company: Option<CrmId>,
    /// First person among the participants.
    pub person: Option<CrmId>,
    /// Addresses CRM does not know, with their role.
    pub missing: Vec<(ParticipantRole, String)>,
    /// Microsoft 365 owns the appointment: its organizer is not a synced rep.
    pub published: bool,
    /// The organizer is a synced rep.
    pub organizer_rep: Option<RepRef>,
    /// Hash of fields and participants.
    pub hash: String,
}

/// What the mapping needs besides the event.
#[derive(Debug, Clone, Copy)]
pub struct MapInput<'a> {
    /// The mailbox owner.
    pub owner: &'a Owner,
    /// Every enabled rep synchronizing appointments.
    pub reps: &'a [RepRef],
    /// Persons and companies by address.
    pub people: &'a PeopleMatch,
    /// The rules.
    pub rules: &'a AppointmentRules,
}

/// Addresses CRM must be asked about: attendees and organizer that are not synced reps.
pub fn lookup_addresses(ev: &CalEvent, reps: &[RepRef]) -> Vec<String> {
    let mut out: Vec<String> = ev
        .attendees
        .iter()
        .map(|a| a.email.clone())
        .chain(ev.organizer.clone())
        .filter(|a| !reps.iter().any(|r| r.email.eq_ignore_ascii_case(a)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Map an event (its times must be readable: `Err` otherwise).
pub fn map_event(ev: &CalEvent, i: MapInput<'_>) -> Result<Mapped, String> {
    let rules = i.rules;
    let dl = &rules.dialect;
    let a = &dl.activity;
    let m = &dl.appointment;
    let when = ev.when.clone()?;
    let mut f: BTreeMap<String, String> = BTreeMap::new();
    let put = |f: &mut BTreeMap<String, String>, name: &str, v: String| {
        if rules.writes(name) {
            f.insert(name.to_owned(), v);
        }
    };
    f.insert(a.subject.clone(), ev.subject.trim().to_owned());
    match when {
        When::Timed { start, end } => {
            let s = rules.time_zone.to_datetime(start);
            let e = rules.time_zone.to_datetime(end);
            f.insert(a.date.clone(), dl.format_date(s.date()));
            f.insert(a.time.clone(), dl.format_time(s.time()));
            if !a.end_date.is_empty() {
                f.insert(a.end_date.clone(), dl.format_date(e.date()));
            }
            if !a.end_time.is_empty() {
                f.insert(a.end_time.clone(), dl.format_time(e.time()));
            }
            let minutes = end.duration_since(start).as_secs().max(0) / 60;
            put(&mut f, &m.duration, minutes.to_string());
        }
        When::AllDay { start, end } => {
            let last = end
                .yesterday()
                .ok()
                .filter(|d| *d >= start)
                .unwrap_or(start);
            f.insert(a.date.clone(), dl.format_date(start));
            f.insert(a.time.clone(), String::new());
            if !a.end_date.is_empty() {
                f.insert(a.end_date.clone(), dl.format_date(last));
            }
            if !a.end_time.is_empty() {
                f.insert(a.end_time.clone(), String::new());
            }
            let days = i64::from((last - start).get_days()) + 1;
            put(&mut f, &m.duration, (days * 24 * 60).to_string());
        }
    }
    let (html, text) = match &ev.body {
        Some((true, html)) => (html.clone(), crate::email::body::html_to_text(html)),
        Some((false, text)) => (String::new(), text.clone()),
        None => (String::new(), String::new()),
    };
    f.insert(a.text.clone(), text.trim().to_owned());
    put(&mut f, &m.body, html);
    put(&mut f, &m.location, ev.location.trim().to_owned());
    put(&mut f, &m.private, dl.format_bool(ev.is_private()));
    if let Some(v) = m.show_as_text(&ev.show_as) {
        put(&mut f, &m.show_as, v.to_owned());
    }
    put(
        &mut f,
        &m.priority,
        m.priority_value(&ev.importance).to_owned(),
    );
    match ev.reminder {
        Some(min) if min >= 0 => {
            put(&mut f, &m.reminder_duration, min.to_string());
            put(&mut f, &m.reminder_unit, m.reminder_unit_minutes.clone());
        }
        _ => put(&mut f, &m.reminder_duration, "0".into()),
    }

    // Participants: the organizer first, then the attendees, each address once.
    let mut addresses: Vec<(ParticipantRole, String, Option<String>)> = Vec::new();
    if let Some(o) = &ev.organizer {
        addresses.push((ParticipantRole::Required, o.clone(), None));
    }
    for at in &ev.attendees {
        if let Some(x) = addresses.iter_mut().find(|x| x.1 == at.email) {
            x.2 = at.response.clone();
        } else {
            addresses.push((at.role, at.email.clone(), at.response.clone()));
        }
    }
    if !addresses.iter().any(|x| i.owner.owns(&x.1)) {
        addresses.push((
            ParticipantRole::Required,
            i.owner.email.to_ascii_lowercase(),
            None,
        ));
    }
    let mut participants = Vec::new();
    let mut missing = Vec::new();
    let (mut company, mut person) = (None, None);
    for (role, email, status) in addresses {
        let rep = i
            .reps
            .iter()
            .find(|r| r.email.eq_ignore_ascii_case(&email))
            .map(|r| r.crm_id)
            .or_else(|| i.owner.owns(&email).then_some(i.owner.rep_crm_id));
        let p = i
            .people
            .persons
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(&email));
        let c = i
            .people
            .companies
            .iter()
            .find(|c| c.email.eq_ignore_ascii_case(&email));
        if rep.is_none() && p.is_none() && c.is_none() {
            missing.push((role, email));
            continue;
        }
        if let Some(p) = p {
            person = person.or(Some(p.person));
            company = company.or(p.company);
        }
        if let Some(c) = c {
            company = company.or(Some(c.company));
        }
        participants.push(NewMember {
            role,
            email,
            person: p.map(|p| p.person),
            rep,
            status,
        });
    }
    let language = i.owner.language.as_deref().unwrap_or(&rules.language);
    let block = missing_fields(&rules.missing, language, &missing);
    if block.is_empty() {
        // Clear a block written earlier (attendees found since, or removed).
        put(&mut f, &rules.missing.field, String::new());
        for (_, field, _) in &rules.missing.flags {
            put(&mut f, field, dl.format_bool(false));
        }
    } else {
        for (k, v) in block {
            put(&mut f, &k, v);
        }
    }

    let organizer_rep = ev.organizer.as_deref().and_then(|o| {
        i.reps
            .iter()
            .find(|r| r.email.eq_ignore_ascii_case(o))
            .cloned()
    });
    let published = match &ev.organizer {
        Some(o) => !rules.is_managed(o) || organizer_rep.is_none(),
        None => false,
    };
    put(&mut f, &m.published, dl.format_bool(published));
    let rep_number = organizer_rep
        .as_ref()
        .map_or(i.owner.rep_number.clone(), |r| r.rep_number.clone());
    f.insert(a.rep_id.clone(), rep_number);

    let hash = hash(&f, &participants);
    Ok(Mapped {
        fields: f,
        participants,
        company,
        person,
        missing,
        published,
        organizer_rep,
        hash,
    })
}

/// Hash of the synced fields and the participants' addresses: equal hashes mean nothing the
/// connector writes has changed.
pub fn hash(fields: &BTreeMap<String, String>, participants: &[NewMember]) -> String {
    let mut h = Sha256::new();
    for (k, v) in fields {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([1]);
    }
    let mut emails: Vec<&str> = participants.iter().map(|p| p.email.as_str()).collect();
    emails.sort_unstable();
    for e in emails {
        h.update(e.as_bytes());
        h.update([2]);
    }
    hex::encode(&h.finalize()[..16])
}

/// The fields whose CRM value differs from the wanted one (missing counts as empty; values
/// compare trimmed, booleans by meaning).
pub fn changed_fields(
    wanted: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
    rules: &AppointmentRules,
) -> Vec<(String, String)> {
    let dl = &rules.dialect;
    let m = &dl.appointment;
    let bools = [&m.private, &m.published, &m.is_master, &m.is_serial];
    wanted
        .iter()
        .filter(|(k, v)| {
            let cur = current.get(*k).map_or("", |c| c.trim());
            if bools.iter().any(|b| b.as_str() == k.as_str()) {
                return dl.parse_bool(cur) != dl.parse_bool(v);
            }
            cur != v.trim()
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::appointments::model::Attendee;
    use crate::email::model::PersonRef;

    fn owner() -> Owner {
        Owner::anna()
    }

    fn reps() -> Vec<RepRef> {
        vec![
            RepRef {
                crm_id: CrmId(7),
                email: "anna@contoso.com".into(),
                rep_number: "R7".into(),
            },
            RepRef {
                crm_id: CrmId(8),
                email: "bob@contoso.com".into(),
                rep_number: "R8".into(),
            },
        ]
    }

    pub(crate) fn event() -> CalEvent {
        CalEvent {
            id: "e1".into(),
            ical_uid: Some("uid-1".into()),
            change_key: Some("ck1".into()),
            created: None,
            modified: None,
            subject: "Review".into(),
            body: Some((true, "<p>Agenda</p>".into())),
            when: Ok(When::Timed {
                start: "2026-03-29T00:30:00Z".parse().unwrap(),
                end: "2026-03-29T01:30:00Z".parse().unwrap(),
            }),
            sensitivity: "normal".into(),
            show_as: "busy".into(),
            importance: "high".into(),
            reminder: Some(15),
            location: "Room 1".into(),
            attendees: vec![
                Attendee {
                    email: "bob@contoso.com".into(),
                    role: ParticipantRole::Required,
                    response: Some("accepted".into()),
                },
                Attendee {
                    email: "kim@customer.example".into(),
                    role: ParticipantRole::Optional,
                    response: None,
                },
                Attendee {
                    email: "ghost@nowhere.example".into(),
                    role: ParticipantRole::Optional,
                    response: None,
                },
            ],
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

    fn rules() -> AppointmentRules {
        AppointmentRules {
            time_zone: jiff::tz::TimeZone::get("Europe/Vienna").unwrap(),
            managed_domains: vec!["contoso.com".into()],
            ..AppointmentRules::default()
        }
    }

    fn people() -> PeopleMatch {
        PeopleMatch {
            persons: vec![PersonRef {
                email: "kim@customer.example".into(),
                person: CrmId(100),
                company: Some(CrmId(50)),
            }],
            ..PeopleMatch::default()
        }
    }

    #[test]
    fn a_meeting_maps_to_fields_participants_and_the_missing_block() {
        let (o, r, p, ru) = (owner(), reps(), people(), rules());
        let m = map_event(
            &event(),
            MapInput {
                owner: &o,
                reps: &r,
                people: &p,
                rules: &ru,
            },
        )
        .unwrap();
        // 00:30 UTC on the night of the DST change is 01:30 CET; 01:30 UTC is 03:30 CEST.
        assert_eq!(m.fields["Date"], "2026-03-29");
        assert_eq!(m.fields["Time"], "01:30");
        assert_eq!(m.fields["EndTime"], "03:30");
        assert_eq!(m.fields["Duration"], "60");
        assert_eq!(m.fields["Priority"], "3");
        assert_eq!(m.fields["ShowAs"], "Busy");
        assert_eq!(m.fields["Private"], "false");
        assert_eq!(m.fields["ConnectorPublished"], "false");
        assert_eq!(m.fields["F5044"], "<p>Agenda</p>");
        assert_eq!(m.fields["Text"], "Agenda");
        assert_eq!(m.fields["RepID"], "R7");
        assert_eq!(m.fields["ReminderDur"], "15");
        assert!(m.fields["MissingParticipants"].contains("ghost@nowhere.example"));
        assert_eq!(m.participants.len(), 3, "{:?}", m.participants);
        assert_eq!(m.person, Some(CrmId(100)));
        assert_eq!(m.company, Some(CrmId(50)));
        assert_eq!(m.missing.len(), 1);
    }

    #[test]
    fn an_external_organizer_publishes_and_all_day_keeps_dates() {
        let (o, r, p, ru) = (owner(), reps(), people(), rules());
        let mut e = event();
        e.organizer = Some("boss@partner.example".into());
        e.is_organizer = false;
        e.when = Ok(When::AllDay {
            start: jiff::civil::date(2026, 5, 4),
            end: jiff::civil::date(2026, 5, 6),
        });
        e.sensitivity = "private".into();
        let i = MapInput {
            owner: &o,
            reps: &r,
            people: &p,
            rules: &ru,
        };
        let m = map_event(&e, i).unwrap();
        assert!(m.published);
        assert_eq!(m.fields["ConnectorPublished"], "true");
        assert_eq!(m.fields["Private"], "true");
        assert_eq!(m.fields["Date"], "2026-05-04");
        assert_eq!(m.fields["EndDate"], "2026-05-05");
        assert_eq!(m.fields["Time"], "");
        assert_eq!(m.fields["Duration"], "2880");
        let again = map_event(&e, i).unwrap();
        assert_eq!(m.hash, again.hash);
        e.location = "elsewhere".into();
        assert_ne!(map_event(&e, i).unwrap().hash, m.hash);
    }

    #[test]
    fn forms_xml_limits_the_written_fields() {
        let (o, r, p) = (owner(), reps(), people());
        let ru = AppointmentRules {
            form_fields: Some(vec!["Private".into()]),
            ..rules()
        };
        let m = map_event(
            &event(),
            MapInput {
                owner: &o,
                reps: &r,
                people: &p,
                rules: &ru,
            },
        )
        .unwrap();
        assert!(m.fields.contains_key("Private"));
        assert!(!m.fields.contains_key("A031Location"));
        assert!(m.fields.contains_key("Subject"), "base fields always");
    }

    #[test]
    fn booleans_compare_by_meaning() {
        let ru = rules();
        let wanted: BTreeMap<String, String> = [("Private".to_owned(), "false".to_owned())].into();
        let cur: BTreeMap<String, String> = BTreeMap::new();
        assert!(changed_fields(&wanted, &cur, &ru).is_empty());
        let cur: BTreeMap<String, String> = [("Private".to_owned(), "1".to_owned())].into();
        assert_eq!(changed_fields(&wanted, &cur, &ru).len(), 1);
    }
}
