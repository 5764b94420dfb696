//! The pure rules of e-mail filing: what to do with one message of the sync folder, from the
//! message, its mailbox owner, the stored links, what CRM already has and the rules. No I/O
//! here, so every rule is unit-tested; `gather` collects the inputs, `execute` carries the
//! decision out.

use gc_store::{CrmId, Link, LinkState};

use crate::email::body::{self, BodyOptions};
use crate::email::model::{
    ActivityPlan, DocumentSource, ExistingActivity, FoundBy, MailMessage, ParticipantPlan,
    PeopleMatch,
};
use crate::email::participants;
use crate::email::rules::{AttachmentPolicy, EmailRules, RecipientList};
use crate::engine::Owner;
use crate::engine::cx::is_interrupted;

/// Why a message is not filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The owner is neither sender nor recipient (BCC) and the BCC setting is off.
    OwnerNotRecipient,
}

impl SkipReason {
    /// Text for the ledger and the user.
    pub fn text(&self) -> &'static str {
        match self {
            SkipReason::OwnerNotRecipient => {
                "the mailbox owner is neither the sender nor a recipient of this message (BCC), and filing such messages is disabled ([emails] sync_when_owner_not_recipient)"
            }
        }
    }
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// This mailbox filed it already (active link): only make sure it is moved.
    AlreadyFiled {
        /// The activity.
        activity: CrmId,
    },
    /// The activity exists (another rep filed the message, or an earlier attempt wrote it):
    /// link to it and complete it.
    Adopt {
        /// The activity.
        activity: CrmId,
        /// Participants it lacks (at least this rep when missing).
        add_participants: Vec<ParticipantPlan>,
        /// Its external key is missing (found by link or as an orphan).
        add_key: bool,
        /// An interrupted attempt may have left documents out: compare and complete.
        complete_documents: bool,
        /// How it was found.
        found_by: FoundBy,
    },
    /// Write a new activity.
    Create(Box<ActivityPlan>),
    /// Not filed, on purpose: failure folder (and the user told).
    Skip(SkipReason),
    /// Cannot be filed: failure folder with the reason (and the user told).
    Fail(String),
    /// Graph gave an item without an id: it can only be reported, not moved.
    Report(String),
}

/// The inputs of [`decide`].
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The message.
    pub message: &'a MailMessage,
    /// The mailbox owner.
    pub owner: &'a Owner,
    /// This mailbox's link for the message.
    pub link: Option<&'a Link>,
    /// The activity CRM already has for the message (by external key or a link).
    pub existing: Option<&'a ExistingActivity>,
    /// An activity an interrupted attempt wrote without its external key (found by its
    /// marker), considered only when nothing else was found.
    pub orphan: Option<&'a ExistingActivity>,
    /// CRM people matched by the message's addresses (may be empty for an adoption by key).
    pub people: &'a PeopleMatch,
    /// Rules.
    pub settings: &'a EmailRules,
}

/// The decision that needs no CRM data, or `None` when CRM must be asked. Lets the executor
/// avoid every CRM request for messages it already filed or must skip.
pub fn triage(
    message: &MailMessage,
    owner: &Owner,
    link: Option<&Link>,
    settings: &EmailRules,
) -> Option<Decision> {
    if let Some(l) = link
        && l.state == LinkState::Active
        && let Some(activity) = l.crm_id
    {
        return Some(Decision::AlreadyFiled { activity });
    }
    if !owner_is_party(message, owner) && !settings.sync_when_owner_not_recipient {
        return Some(Decision::Skip(SkipReason::OwnerNotRecipient));
    }
    if message.received.or(message.sent).is_none() {
        return Some(Decision::Fail(
            "the message has neither a received nor a sent time".into(),
        ));
    }
    None
}

/// The owner is the sender or a visible recipient (To/Cc). Only Bcc (or not at all) means the
/// message reached the owner as a blind copy.
pub fn owner_is_party(message: &MailMessage, owner: &Owner) -> bool {
    message
        .addresses()
        .iter()
        .any(|(list, a)| *list != RecipientList::Bcc && owner.owns(&a.email))
}

/// Which documents a new (or completed) activity gets: the whole message when that is on,
/// else the attachments when there are any and the owner's policy keeps some.
pub fn document_source(
    settings: &EmailRules,
    owner: &Owner,
    has_attachments: bool,
) -> DocumentSource {
    if settings.whole_message.is_some() {
        DocumentSource::WholeMessage
    } else if settings.attachments_for(owner) == AttachmentPolicy::None || !has_attachments {
        DocumentSource::None
    } else {
        DocumentSource::Attachments
    }
}

/// The activities links point to, in the order they are tried when CRM has no external key
/// for the message: this mailbox's own link first (an earlier attempt of its own), then the
/// other mailboxes' links of the same key, each id once.
pub fn candidates(link: Option<&Link>, key_links: &[Link]) -> Vec<CrmId> {
    let mut out: Vec<CrmId> = link.iter().filter_map(|l| l.crm_id).collect();
    for id in key_links.iter().filter_map(|l| l.crm_id) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The mailboxes whose interrupted attempt (a link with the key, no activity id yet) may have
/// written an activity without its external key: look for it under each of their reps.
pub fn orphan_searches<'a>(link: Option<&'a Link>, key_links: &'a [Link]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for l in link.into_iter().chain(key_links) {
        if l.crm_id.is_none() && is_interrupted(Some(l)) && !out.contains(&l.mailbox.as_str()) {
            out.push(&l.mailbox);
        }
    }
    out
}

/// The marker the first CRM insert of a message carries (`[crm.dialect.activity] marker`):
/// derived from the message's global key, so that after a crash between the insert and its
/// external key the activity is found again by it, not by comparing subject, time and text.
/// Short and of fixed length so it fits any free text field.
pub fn marker(global_key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(global_key.as_bytes());
    format!("gc1:{}", hex::encode(&digest[..12]))
}

/// Decide what to do with one message.
pub fn decide(input: &Input<'_>) -> Decision {
    let Input {
        message,
        owner,
        link,
        existing,
        orphan,
        people,
        settings,
    } = *input;
    if let Some(d) = triage(message, owner, link, settings) {
        return d;
    }
    let resolution = participants::resolve(message, owner, people);
    if let Some(ex) = existing.or(orphan) {
        let add_participants = missing_participants(resolution.participants, ex);
        // An interrupted attempt, or an earlier failed one that had written this activity:
        // documents may be missing.
        let partial = link.is_some_and(|l| {
            matches!(l.state, LinkState::Failed { .. }) && l.crm_id == Some(ex.id)
        });
        let interrupted = is_interrupted(link) || partial || ex.found_by == FoundBy::Orphan;
        return Decision::Adopt {
            activity: ex.id,
            add_participants,
            add_key: ex.found_by != FoundBy::ExternalKey,
            complete_documents: interrupted,
            found_by: ex.found_by,
        };
    }
    match plan(message, owner, people, settings) {
        Some(p) => Decision::Create(Box::new(p)),
        None => Decision::Fail("the message has neither a received nor a sent time".into()),
    }
}

/// The new activity for a message (`None` without a received or sent time).
pub fn plan(
    message: &MailMessage,
    owner: &Owner,
    people: &PeopleMatch,
    settings: &EmailRules,
) -> Option<ActivityPlan> {
    let when = message.received.or(message.sent)?;
    let resolution = participants::resolve(message, owner, people);
    let local = when.to_zoned_datetime(settings.time_zone.clone());
    let prepared = body::prepare(
        message.body.as_ref(),
        BodyOptions {
            html: settings.html_body,
            strip_comments: settings.strip_html_comments,
            max_chars: settings.max_body_chars,
        },
    );
    let language = owner.language.as_deref().unwrap_or(&settings.language);
    let extra = participants::missing_fields(&settings.missing, language, &resolution.missing);
    let subject = if message.subject.trim().is_empty() {
        "(no subject)".to_owned()
    } else {
        message.subject.clone()
    };
    let time = local.time();
    let key = message.global_key(&owner.mailbox);
    Some(ActivityPlan {
        marker: marker(&key),
        key,
        subject,
        date: local.date(),
        time: jiff::civil::time(time.hour(), time.minute(), 0, 0),
        text: prepared.text,
        rep_number: owner.rep_number.clone(),
        company: resolution.company,
        person: resolution.person,
        participants: resolution.participants,
        extra,
        documents: document_source(settings, owner, message.has_attachments),
        warnings: prepared.warning.into_iter().collect(),
    })
}

/// Whether adopting `existing` for `m` (found by its external key, on a first attempt)
/// would add no participant: [`decide`] then resolves the message's participants without
/// looking its addresses up (`gather` asks CRM for people only when it creates), so this
/// asks the same question it will.
pub fn adopts_without_writes(m: &MailMessage, owner: &Owner, existing: &ExistingActivity) -> bool {
    let planned = participants::resolve(m, owner, &PeopleMatch::default()).participants;
    missing_participants(planned, existing).is_empty()
}

/// Of the `planned` participants, those `existing` lacks: what adopting it adds.
fn missing_participants(
    planned: Vec<ParticipantPlan>,
    existing: &ExistingActivity,
) -> Vec<ParticipantPlan> {
    planned
        .into_iter()
        .filter(|p| !existing.participants.iter().any(|e| same_participant(e, p)))
        .collect()
}

/// A planned participant is present when the same rep, person or address is.
fn same_participant(e: &crate::email::model::ExistingParticipant, p: &ParticipantPlan) -> bool {
    (p.rep.is_some() && e.rep == p.rep)
        || (p.person.is_some() && e.person == p.person)
        || e.email
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(&p.email))
}

#[cfg(test)]
pub(crate) mod tests {
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
}
