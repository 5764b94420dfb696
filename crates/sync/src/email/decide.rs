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
#[path = "decide_tests.rs"]
pub(crate) mod tests;
