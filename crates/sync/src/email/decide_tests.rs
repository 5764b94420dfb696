//! The unit tests of the e-mail kind's decision: many cases over one sample message, owner
//! and people, longer than the rules they test, so kept beside them rather than inside.

use super::*;
use crate::email::model::{Address, Body, ExistingParticipant, PersonRef};
use gc_crm::ParticipantRole;
use gc_store::Kind;

pub(crate) fn owner() -> Owner {
    Owner {
        mailbox: "100".into(),
        rep_crm_id: CrmId(100),
        rep_number: "R1".into(),
        name: "Rita".into(),
        email: "rita@contoso.example".into(),
        addresses: vec!["rita@contoso.example".into()],
        language: None,
        kinds: crate::engine::RepKinds::ALL,
        settings: Default::default(),
    }
}

fn msg() -> MailMessage {
    MailMessage {
        id: "AAA".into(),
        internet_message_id: Some("<m1@customer.example>".into()),
        subject: "Offer".into(),
        received: Some("2026-11-20T09:15:42Z".parse().unwrap()),
        from: Some(Address::new("paul@customer.example", None)),
        to: vec![Address::new("rita@contoso.example", None)],
        cc: vec![Address::new("ghost@else.example", None)],
        body: Some(Body {
            html: true,
            content: "<p>Hello<!-- x --></p>".into(),
        }),
        has_attachments: true,
        ..Default::default()
    }
}

fn people() -> PeopleMatch {
    PeopleMatch {
        persons: vec![PersonRef {
            email: "paul@customer.example".into(),
            person: CrmId(7),
            company: Some(CrmId(70)),
        }],
        ..Default::default()
    }
}

fn run(link: Option<&Link>, existing: Option<&ExistingActivity>, s: &EmailRules) -> Decision {
    decide(&Input {
        message: &msg(),
        owner: &owner(),
        link,
        existing,
        orphan: None,
        people: &people(),
        settings: s,
    })
}

#[test]
fn creates_a_full_plan() {
    let s = EmailRules::default();
    let Decision::Create(plan) = run(None, None, &s) else {
        panic!("expected create");
    };
    assert_eq!(plan.key, "<m1@customer.example>");
    assert_eq!(plan.subject, "Offer");
    assert_eq!(plan.date, jiff::civil::date(2026, 11, 20));
    assert_eq!(plan.time, jiff::civil::time(9, 15, 0, 0));
    assert_eq!(plan.text, "<p>Hello</p>");
    assert_eq!(plan.rep_number, "R1");
    assert_eq!(
        (plan.person, plan.company),
        (Some(CrmId(7)), Some(CrmId(70)))
    );
    assert_eq!(plan.participants.len(), 2);
    assert_eq!(plan.extra[0].0, "MissingParticipants");
    assert!(plan.extra[0].1.contains("Optional: ghost@else.example"));
    assert_eq!(plan.documents, DocumentSource::Attachments);
    assert!(plan.warnings.is_empty());
}

#[test]
fn time_zone_moves_the_date() {
    let s = EmailRules {
        time_zone: jiff::tz::TimeZone::get("Pacific/Auckland").unwrap(),
        ..Default::default()
    };
    let Decision::Create(plan) = run(None, None, &s) else {
        panic!()
    };
    assert_eq!(plan.date, jiff::civil::date(2026, 11, 20));
    assert_eq!(plan.time, jiff::civil::time(22, 15, 0, 0));
}

#[test]
fn document_source_follows_settings() {
    let s = EmailRules {
        whole_message: Some(1000),
        attachments: AttachmentPolicy::None,
        ..Default::default()
    };
    let Decision::Create(p) = run(None, None, &s) else {
        panic!()
    };
    assert_eq!(p.documents, DocumentSource::WholeMessage);
    let s = EmailRules {
        attachments: AttachmentPolicy::None,
        ..Default::default()
    };
    let Decision::Create(p) = run(None, None, &s) else {
        panic!()
    };
    assert_eq!(p.documents, DocumentSource::None);
}

#[test]
fn truncated_body_warns() {
    let s = EmailRules {
        max_body_chars: 3,
        html_body: false,
        ..Default::default()
    };
    let Decision::Create(p) = run(None, None, &s) else {
        panic!()
    };
    assert_eq!(p.text, "Hel");
    assert_eq!(p.warnings.len(), 1);
}

#[test]
fn active_link_is_already_filed_without_crm() {
    let mut l = Link::new(Kind::Email, "100", "AAA");
    l.crm_id = Some(CrmId(42));
    let s = EmailRules::default();
    assert_eq!(
        triage(&msg(), &owner(), Some(&l), &s),
        Some(Decision::AlreadyFiled {
            activity: CrmId(42)
        })
    );
    assert_eq!(
        run(Some(&l), None, &s),
        Decision::AlreadyFiled {
            activity: CrmId(42)
        }
    );
}

#[test]
fn failed_link_is_retried() {
    let mut l = Link::new(Kind::Email, "100", "AAA");
    l.state = LinkState::Failed {
        reason: "CRM said no".into(),
    };
    assert_eq!(
        triage(&msg(), &owner(), Some(&l), &EmailRules::default()),
        None
    );
}

#[test]
fn adopts_by_key_adding_only_this_rep() {
    let ex = ExistingActivity {
        id: CrmId(9),
        participants: vec![
            ExistingParticipant {
                email: Some("paul@customer.example".into()),
                rep: None,
                person: Some(CrmId(7)),
            },
            ExistingParticipant {
                email: Some("bob@contoso.example".into()),
                rep: Some(CrmId(200)),
                person: None,
            },
        ],
        found_by: FoundBy::ExternalKey,
    };
    let Decision::Adopt {
        activity,
        add_participants,
        add_key,
        complete_documents,
        ..
    } = run(None, Some(&ex), &EmailRules::default())
    else {
        panic!()
    };
    assert_eq!(activity, CrmId(9));
    assert!(!add_key && !complete_documents);
    assert_eq!(add_participants.len(), 1);
    assert_eq!(add_participants[0].rep, Some(CrmId(100)));
    assert_eq!(add_participants[0].role, ParticipantRole::Required);
}

#[test]
fn adoption_with_this_rep_present_adds_nobody() {
    let ex = ExistingActivity {
        id: CrmId(9),
        participants: vec![
            ExistingParticipant {
                email: Some("RITA@contoso.example".into()),
                rep: None,
                person: None,
            },
            ExistingParticipant {
                email: None,
                rep: None,
                person: Some(CrmId(7)),
            },
        ],
        found_by: FoundBy::ExternalKey,
    };
    let Decision::Adopt {
        add_participants, ..
    } = run(None, Some(&ex), &EmailRules::default())
    else {
        panic!()
    };
    assert!(add_participants.is_empty());
}

/// The page's read of an activity stands in for a read under the lease only when
/// adopting writes nothing, asked as `decide` asks it for an adoption by key (no people
/// looked up).
#[test]
fn adopts_without_writes_agrees_with_decide() {
    let with = |participants| ExistingActivity {
        id: CrmId(9),
        participants,
        found_by: FoundBy::ExternalKey,
    };
    let rita = ExistingParticipant {
        email: Some("RITA@contoso.example".into()),
        rep: None,
        person: None,
    };
    let rep = ExistingParticipant {
        email: None,
        rep: Some(CrmId(100)),
        person: None,
    };
    let paul = ExistingParticipant {
        email: Some("paul@customer.example".into()),
        rep: None,
        person: Some(CrmId(7)),
    };
    for (ex, expected) in [
        (with(vec![rita]), true),
        (with(vec![rep, paul.clone()]), true),
        (with(vec![paul]), false),
        (with(vec![]), false),
    ] {
        assert_eq!(
            adopts_without_writes(&msg(), &owner(), &ex),
            expected,
            "{ex:?}"
        );
        let Decision::Adopt {
            add_participants, ..
        } = decide(&Input {
            message: &msg(),
            owner: &owner(),
            link: None,
            existing: Some(&ex),
            orphan: None,
            people: &PeopleMatch::default(),
            settings: &EmailRules::default(),
        })
        else {
            panic!()
        };
        assert_eq!(add_participants.is_empty(), expected, "{ex:?}");
    }
}

#[test]
fn orphan_or_interrupted_adoption_completes() {
    let ex = ExistingActivity {
        id: CrmId(9),
        participants: vec![],
        found_by: FoundBy::Orphan,
    };
    let Decision::Adopt {
        add_key,
        complete_documents,
        add_participants,
        ..
    } = run(None, Some(&ex), &EmailRules::default())
    else {
        panic!()
    };
    assert!(add_key && complete_documents);
    assert_eq!(add_participants.len(), 2);

    let mut l = Link::new(Kind::Email, "100", "AAA");
    l.crm_id = Some(CrmId(9));
    l.state = LinkState::Interrupted;
    let ex = ExistingActivity {
        found_by: FoundBy::ExternalKey,
        ..ex
    };
    let Decision::Adopt {
        add_key,
        complete_documents,
        ..
    } = run(Some(&l), Some(&ex), &EmailRules::default())
    else {
        panic!()
    };
    assert!(!add_key && complete_documents);
}

#[test]
fn bcc_owner_is_skipped_unless_allowed() {
    let mut m = msg();
    m.to = vec![Address::new("someone@customer.example", None)];
    let s = EmailRules::default();
    let d = decide(&Input {
        message: &m,
        owner: &owner(),
        link: None,
        existing: None,
        orphan: None,
        people: &people(),
        settings: &s,
    });
    assert_eq!(d, Decision::Skip(SkipReason::OwnerNotRecipient));
    let s = EmailRules {
        sync_when_owner_not_recipient: true,
        ..Default::default()
    };
    let d = decide(&Input {
        message: &m,
        owner: &owner(),
        link: None,
        existing: None,
        orphan: None,
        people: &people(),
        settings: &s,
    });
    let Decision::Create(p) = d else { panic!() };
    assert_eq!(p.participants[0].rep, Some(CrmId(100)));
    assert_eq!(p.participants[0].role, ParticipantRole::Informational);
}

#[test]
fn owner_only_in_bcc_counts_as_bcc() {
    let mut m = msg();
    m.to = vec![Address::new("someone@customer.example", None)];
    m.bcc = vec![Address::new("rita@contoso.example", None)];
    assert!(!owner_is_party(&m, &owner()));
    assert_eq!(
        triage(&m, &owner(), None, &EmailRules::default()),
        Some(Decision::Skip(SkipReason::OwnerNotRecipient))
    );
}

#[test]
fn message_without_time_fails() {
    let mut m = msg();
    m.received = None;
    let d = decide(&Input {
        message: &m,
        owner: &owner(),
        link: None,
        existing: None,
        orphan: None,
        people: &people(),
        settings: &EmailRules::default(),
    });
    assert!(matches!(d, Decision::Fail(r) if r.contains("time")));
}

#[test]
fn empty_subject_and_missing_message_id() {
    let mut m = msg();
    m.subject = "  ".into();
    m.internet_message_id = None;
    let d = decide(&Input {
        message: &m,
        owner: &owner(),
        link: None,
        existing: None,
        orphan: None,
        people: &people(),
        settings: &EmailRules::default(),
    });
    let Decision::Create(p) = d else { panic!() };
    assert_eq!(p.subject, "(no subject)");
    assert_eq!(p.key, "graph:100:AAA");
}

fn key_link(mailbox: &str, crm: Option<u64>, interrupted: bool) -> Link {
    let mut l = Link::new(Kind::Email, mailbox, format!("g-{mailbox}"));
    l.global_key = Some("<m1@customer.example>".into());
    l.crm_id = crm.map(CrmId);
    if interrupted {
        l.state = LinkState::Interrupted;
    }
    l
}

#[test]
fn candidates_put_this_mailbox_first_and_each_id_once() {
    let own = key_link("100", Some(5), true);
    let others = vec![
        key_link("200", Some(6), false),
        key_link("300", Some(5), false),
        key_link("400", None, true),
    ];
    assert_eq!(candidates(Some(&own), &others), vec![CrmId(5), CrmId(6)]);
    assert_eq!(candidates(None, &others), vec![CrmId(6), CrmId(5)]);
    assert!(candidates(None, &[]).is_empty());
}

#[test]
fn orphans_are_searched_only_for_interrupted_attempts_without_an_id() {
    let own = key_link("100", None, true);
    let others = vec![
        key_link("200", Some(6), true),
        key_link("300", None, false),
        key_link("400", None, true),
        key_link("100", None, true),
    ];
    assert_eq!(orphan_searches(Some(&own), &others), vec!["100", "400"]);
    assert!(orphan_searches(None, &[key_link("300", None, false)]).is_empty());
}

#[test]
fn an_orphan_is_adopted_only_when_nothing_better_was_found() {
    let by_key = ExistingActivity {
        id: CrmId(1),
        participants: vec![],
        found_by: FoundBy::ExternalKey,
    };
    let orphan = ExistingActivity {
        id: CrmId(2),
        participants: vec![],
        found_by: FoundBy::Orphan,
    };
    let s = EmailRules::default();
    let (m, o, p) = (msg(), owner(), people());
    let input = |existing| Input {
        message: &m,
        owner: &o,
        link: None,
        existing,
        orphan: Some(&orphan),
        people: &p,
        settings: &s,
    };
    let Decision::Adopt { activity, .. } = decide(&input(Some(&by_key))) else {
        panic!()
    };
    assert_eq!(activity, CrmId(1));
    let Decision::Adopt {
        activity, add_key, ..
    } = decide(&input(None))
    else {
        panic!()
    };
    assert_eq!((activity, add_key), (CrmId(2), true));
}

#[test]
fn markers_are_stable_short_and_distinct() {
    let a = marker("<m1@customer.example>");
    assert_eq!(a, marker("<m1@customer.example>"));
    assert_ne!(a, marker("<m2@customer.example>"));
    assert!(a.starts_with("gc1:") && a.len() == 28, "{a}");
    let Decision::Create(p) = run(None, None, &EmailRules::default()) else {
        panic!()
    };
    assert_eq!(p.marker, marker("<m1@customer.example>"));
}
