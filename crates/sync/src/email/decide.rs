//! The pure decision: what to do with one message of the sync folder, from the message, its
//! mailbox owner, the stored link, what CRM already has and the settings. No I/O here, so
//! every rule is unit-tested; `run.rs` gathers the inputs and executes the decision.

use gc_store::{CrmId, Link, LinkState};

use crate::email::body::{self, BodyOptions};
use crate::email::model::{
    ActivityPlan, DocumentSource, ExistingActivity, FoundBy, MailMessage, Owner, ParticipantPlan,
    PeopleMatch,
};
use crate::email::participants;
use crate::settings::{AttachmentPolicy, EmailSettings, RecipientList};

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
    /// An activity CRM already has for the message (by external key, link or orphan search).
    pub existing: Option<&'a ExistingActivity>,
    /// CRM people matched by the message's addresses (may be empty for an adoption by key).
    pub people: &'a PeopleMatch,
    /// Settings.
    pub settings: &'a EmailSettings,
}

/// The decision that needs no CRM data, or `None` when CRM must be asked. Lets the executor
/// avoid every CRM request for messages it already filed or must skip.
pub fn triage(
    message: &MailMessage,
    owner: &Owner,
    link: Option<&Link>,
    settings: &EmailSettings,
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

/// Whether the link records an interrupted CRM write ([`LinkState::Interrupted`]: process
/// killed, transient error in the middle of the write), so the next attempt must look for an
/// activity the interrupted one may have written without its external key, and complete it.
pub fn is_interrupted(link: Option<&Link>) -> bool {
    link.is_some_and(|l| l.state == LinkState::Interrupted)
}

/// The owner is the sender or a visible recipient (To/Cc). Only Bcc (or not at all) means the
/// message reached the owner as a blind copy.
pub fn owner_is_party(message: &MailMessage, owner: &Owner) -> bool {
    message
        .addresses()
        .iter()
        .any(|(list, a)| *list != RecipientList::Bcc && owner.owns(&a.email))
}

/// Decide what to do with one message.
pub fn decide(input: &Input<'_>) -> Decision {
    let Input {
        message,
        owner,
        link,
        existing,
        people,
        settings,
    } = *input;
    if let Some(d) = triage(message, owner, link, settings) {
        return d;
    }
    let resolution = participants::resolve(message, owner, people);
    if let Some(ex) = existing {
        let add_participants = resolution
            .participants
            .into_iter()
            .filter(|p| !ex.participants.iter().any(|e| same_participant(e, p)))
            .collect();
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
    let Some(when) = message.received.or(message.sent) else {
        return Decision::Fail("the message has neither a received nor a sent time".into());
    };
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
    let documents = if settings.whole_message.is_some() {
        DocumentSource::WholeMessage
    } else if settings.attachments == AttachmentPolicy::None || !message.has_attachments {
        DocumentSource::None
    } else {
        DocumentSource::Attachments
    };
    let subject = if message.subject.trim().is_empty() {
        "(no subject)".to_owned()
    } else {
        message.subject.clone()
    };
    let time = local.time();
    Decision::Create(Box::new(ActivityPlan {
        key: message.global_key(&owner.mailbox),
        subject,
        date: local.date(),
        time: jiff::civil::time(time.hour(), time.minute(), 0, 0),
        text: prepared.text,
        rep_number: owner.rep_number.clone(),
        company: resolution.company,
        person: resolution.person,
        participants: resolution.participants,
        extra,
        documents,
        warnings: prepared.warning.into_iter().collect(),
    }))
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
mod tests {
    use super::*;
    use crate::email::model::{Address, Body, ExistingParticipant, PersonRef};
    use gc_crm::ParticipantRole;
    use gc_store::Kind;

    fn owner() -> Owner {
        Owner {
            mailbox: "100".into(),
            rep_crm_id: 100,
            rep_number: "R1".into(),
            name: "Rita".into(),
            email: "rita@contoso.example".into(),
            addresses: vec!["rita@contoso.example".into()],
            language: None,
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
                person: 7,
                company: Some(70),
            }],
            ..Default::default()
        }
    }

    fn run(
        link: Option<&Link>,
        existing: Option<&ExistingActivity>,
        s: &EmailSettings,
    ) -> Decision {
        decide(&Input {
            message: &msg(),
            owner: &owner(),
            link,
            existing,
            people: &people(),
            settings: s,
        })
    }

    #[test]
    fn creates_a_full_plan() {
        let s = EmailSettings::default();
        let Decision::Create(plan) = run(None, None, &s) else {
            panic!("expected create");
        };
        assert_eq!(plan.key, "<m1@customer.example>");
        assert_eq!(plan.subject, "Offer");
        assert_eq!(plan.date, jiff::civil::date(2026, 11, 20));
        assert_eq!(plan.time, jiff::civil::time(9, 15, 0, 0));
        assert_eq!(plan.text, "<p>Hello</p>");
        assert_eq!(plan.rep_number, "R1");
        assert_eq!((plan.person, plan.company), (Some(7), Some(70)));
        assert_eq!(plan.participants.len(), 2);
        assert_eq!(plan.extra[0].0, "MissingParticipants");
        assert!(plan.extra[0].1.contains("Optional: ghost@else.example"));
        assert_eq!(plan.documents, DocumentSource::Attachments);
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn time_zone_moves_the_date() {
        let s = EmailSettings {
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
        let s = EmailSettings {
            whole_message: Some(1000),
            attachments: AttachmentPolicy::None,
            ..Default::default()
        };
        let Decision::Create(p) = run(None, None, &s) else {
            panic!()
        };
        assert_eq!(p.documents, DocumentSource::WholeMessage);
        let s = EmailSettings {
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
        let s = EmailSettings {
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
        l.crm_id = Some(42);
        let s = EmailSettings::default();
        assert_eq!(
            triage(&msg(), &owner(), Some(&l), &s),
            Some(Decision::AlreadyFiled { activity: 42 })
        );
        assert_eq!(
            run(Some(&l), None, &s),
            Decision::AlreadyFiled { activity: 42 }
        );
    }

    #[test]
    fn failed_link_is_retried() {
        let mut l = Link::new(Kind::Email, "100", "AAA");
        l.state = LinkState::Failed {
            reason: "CRM said no".into(),
        };
        assert_eq!(
            triage(&msg(), &owner(), Some(&l), &EmailSettings::default()),
            None
        );
    }

    #[test]
    fn adopts_by_key_adding_only_this_rep() {
        let ex = ExistingActivity {
            id: 9,
            participants: vec![
                ExistingParticipant {
                    email: Some("paul@customer.example".into()),
                    rep: None,
                    person: Some(7),
                },
                ExistingParticipant {
                    email: Some("bob@contoso.example".into()),
                    rep: Some(200),
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
        } = run(None, Some(&ex), &EmailSettings::default())
        else {
            panic!()
        };
        assert_eq!(activity, 9);
        assert!(!add_key && !complete_documents);
        assert_eq!(add_participants.len(), 1);
        assert_eq!(add_participants[0].rep, Some(100));
        assert_eq!(add_participants[0].role, ParticipantRole::Required);
    }

    #[test]
    fn adoption_with_this_rep_present_adds_nobody() {
        let ex = ExistingActivity {
            id: 9,
            participants: vec![
                ExistingParticipant {
                    email: Some("RITA@contoso.example".into()),
                    rep: None,
                    person: None,
                },
                ExistingParticipant {
                    email: None,
                    rep: None,
                    person: Some(7),
                },
            ],
            found_by: FoundBy::ExternalKey,
        };
        let Decision::Adopt {
            add_participants, ..
        } = run(None, Some(&ex), &EmailSettings::default())
        else {
            panic!()
        };
        assert!(add_participants.is_empty());
    }

    #[test]
    fn orphan_or_interrupted_adoption_completes() {
        let ex = ExistingActivity {
            id: 9,
            participants: vec![],
            found_by: FoundBy::Orphan,
        };
        let Decision::Adopt {
            add_key,
            complete_documents,
            add_participants,
            ..
        } = run(None, Some(&ex), &EmailSettings::default())
        else {
            panic!()
        };
        assert!(add_key && complete_documents);
        assert_eq!(add_participants.len(), 2);

        let mut l = Link::new(Kind::Email, "100", "AAA");
        l.crm_id = Some(9);
        l.state = LinkState::Interrupted;
        let ex = ExistingActivity {
            found_by: FoundBy::ExternalKey,
            ..ex
        };
        let Decision::Adopt {
            add_key,
            complete_documents,
            ..
        } = run(Some(&l), Some(&ex), &EmailSettings::default())
        else {
            panic!()
        };
        assert!(!add_key && complete_documents);
    }

    #[test]
    fn bcc_owner_is_skipped_unless_allowed() {
        let mut m = msg();
        m.to = vec![Address::new("someone@customer.example", None)];
        let s = EmailSettings::default();
        let d = decide(&Input {
            message: &m,
            owner: &owner(),
            link: None,
            existing: None,
            people: &people(),
            settings: &s,
        });
        assert_eq!(d, Decision::Skip(SkipReason::OwnerNotRecipient));
        let s = EmailSettings {
            sync_when_owner_not_recipient: true,
            ..Default::default()
        };
        let d = decide(&Input {
            message: &m,
            owner: &owner(),
            link: None,
            existing: None,
            people: &people(),
            settings: &s,
        });
        let Decision::Create(p) = d else { panic!() };
        assert_eq!(p.participants[0].rep, Some(100));
        assert_eq!(p.participants[0].role, ParticipantRole::Informational);
    }

    #[test]
    fn owner_only_in_bcc_counts_as_bcc() {
        let mut m = msg();
        m.to = vec![Address::new("someone@customer.example", None)];
        m.bcc = vec![Address::new("rita@contoso.example", None)];
        assert!(!owner_is_party(&m, &owner()));
        assert_eq!(
            triage(&m, &owner(), None, &EmailSettings::default()),
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
            people: &people(),
            settings: &EmailSettings::default(),
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
            people: &people(),
            settings: &EmailSettings::default(),
        });
        let Decision::Create(p) = d else { panic!() };
        assert_eq!(p.subject, "(no subject)");
        assert_eq!(p.key, "graph:100:AAA");
    }
}
