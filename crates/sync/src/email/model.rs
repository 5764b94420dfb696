//! Domain types of e-mail filing: what the engine sees of a message, of its mailbox owner and
//! of CRM, independent of Graph's JSON and CRM.interface's XML.

use gc_crm::ParticipantRole;
use gc_store::CrmId;
use jiff::Timestamp;

use crate::email::rules::RecipientList;
pub use crate::engine::Owner;
use crate::engine::Spool;

/// An address as it appears in a message (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// SMTP address, lower case.
    pub email: String,
    /// Display name, when given.
    pub name: Option<String>,
}

impl Address {
    /// An address (lower-cased, trimmed).
    pub fn new(email: &str, name: Option<&str>) -> Self {
        Address {
            email: email.trim().to_ascii_lowercase(),
            name: name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
        }
    }
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// `true` for HTML content, `false` for plain text.
    pub html: bool,
    /// The content.
    pub content: String,
}

/// A message in the sync folder, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailMessage {
    /// Graph immutable id.
    pub id: String,
    /// `internetMessageId`: the tenant-wide identity of the message.
    pub internet_message_id: Option<String>,
    /// Subject (may be empty).
    pub subject: String,
    /// When it was received.
    pub received: Option<Timestamp>,
    /// When it was sent.
    pub sent: Option<Timestamp>,
    /// Sender.
    pub from: Option<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc (only known for messages the owner sent).
    pub bcc: Vec<Address>,
    /// Body; `None` when Graph gave none.
    pub body: Option<Body>,
    /// Whether Graph says it has attachments.
    pub has_attachments: bool,
    /// Folder the message is in.
    pub parent_folder_id: Option<String>,
    /// Outlook categories.
    pub categories: Vec<String>,
}

impl MailMessage {
    /// The tenant-wide key used for dedup, links and the CRM external key:
    /// `internetMessageId`, or (a draft or a message without one) a key private to this
    /// mailbox item so it is filed once but never matched with another.
    pub fn global_key(&self, mailbox: &str) -> String {
        match self
            .internet_message_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(id) => id.to_owned(),
            None => format!("graph:{mailbox}:{}", self.id),
        }
    }

    /// Every address with the list it appeared in (sender first, then To, Cc, Bcc).
    pub fn addresses(&self) -> Vec<(RecipientList, &Address)> {
        let mut out = Vec::new();
        if let Some(f) = &self.from {
            out.push((RecipientList::From, f));
        }
        out.extend(self.to.iter().map(|a| (RecipientList::To, a)));
        out.extend(self.cc.iter().map(|a| (RecipientList::Cc, a)));
        out.extend(self.bcc.iter().map(|a| (RecipientList::Bcc, a)));
        out
    }
}

/// A delta item of the sync folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailItem {
    /// A message (new or changed).
    Message(Box<MailMessage>),
    /// Graph could not give a usable representation of this item (malformed JSON).
    Broken {
        /// Its id, when known (without one it cannot be moved and is only reported).
        id: Option<String>,
        /// What was wrong.
        reason: String,
    },
    /// Gone from the folder (moved by us or deleted): nothing to do.
    Removed {
        /// Graph id.
        id: String,
    },
}

/// One page of the sync folder's delta.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailPage {
    /// The items.
    pub items: Vec<MailItem>,
    /// More pages follow from here.
    pub next_link: Option<String>,
    /// The round is complete; next round starts here.
    pub delta_link: Option<String>,
}

/// An attachment with its content (or why it could not be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    /// Graph's attachment id (its content is downloaded by it).
    pub id: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Size Graph reports (bytes; for an item attachment, the item's size).
    pub size: u64,
    /// Inline (embedded image referenced from the HTML body).
    pub inline: bool,
    /// An attached Outlook item (mail, event): stored as its MIME, `name.eml`.
    pub item: bool,
    /// Why the attachment cannot be read (a malformed entry, an unknown type); `None` for a
    /// readable one.
    pub unreadable: Option<String>,
}

/// A CRM rep known to the engine (colleagues among the participants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepRef {
    /// CRM record id.
    pub crm_id: CrmId,
    /// Address (lower case).
    pub email: String,
    /// Rep number (`Contact.RepID`).
    pub rep_number: String,
}

/// A person found in CRM by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    /// Address (lower case).
    pub email: String,
    /// Person (KP) id.
    pub person: CrmId,
    /// Company of the person.
    pub company: Option<CrmId>,
}

/// A company found in CRM by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyRef {
    /// Address (lower case).
    pub email: String,
    /// Company (FI) id.
    pub company: CrmId,
}

/// What CRM knows about a message's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeopleMatch {
    /// Persons by address.
    pub persons: Vec<PersonRef>,
    /// Companies by address.
    pub companies: Vec<CompanyRef>,
    /// Reps by address.
    pub reps: Vec<RepRef>,
}

/// A participant of an existing activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingParticipant {
    /// Address (lower case), when known.
    pub email: Option<String>,
    /// Rep record, when the participant is a rep.
    pub rep: Option<CrmId>,
    /// Person record, when the participant is a person.
    pub person: Option<CrmId>,
}

impl From<&ParticipantPlan> for ExistingParticipant {
    /// The participant a write of `p` leaves on the activity.
    fn from(p: &ParticipantPlan) -> Self {
        ExistingParticipant {
            email: Some(p.email.clone()),
            rep: p.rep,
            person: p.person,
        }
    }
}

/// How an existing activity was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// Its external key (the message's `internetMessageId`).
    ExternalKey,
    /// A link of another mailbox (or an interrupted attempt of this one).
    Link,
    /// An interrupted earlier attempt left it without external key; found by its fields.
    Orphan,
    /// Written by another connector, found by its ids or by content (see [`crate::adopt`]).
    Adopted(crate::adopt::AdoptedBy),
}

/// An activity that already exists in CRM for this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingActivity {
    /// Its id.
    pub id: CrmId,
    /// Its participants.
    pub participants: Vec<ExistingParticipant>,
    /// How it was found.
    pub found_by: FoundBy,
}

/// A participant to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantPlan {
    /// Role (To/From: required, Cc: optional, Bcc: informational).
    pub role: ParticipantRole,
    /// Address (lower case).
    pub email: String,
    /// Person record.
    pub person: Option<CrmId>,
    /// Rep record.
    pub rep: Option<CrmId>,
}

/// A document to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPlan {
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Content.
    pub content: Vec<u8>,
}

/// A document downloaded for an activity, its content parked in a [`Spool`] (on disk when
/// big) until it is written: a big one is streamed into its CRM request, never held whole.
#[derive(Debug, Clone)]
pub struct ParkedDocument {
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Content.
    pub content: Spool,
}

/// Which documents the activity gets (resolved by the executor, which fetches content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentSource {
    /// None.
    None,
    /// The message's attachments, per the attachment policy.
    Attachments,
    /// The whole message as an `.eml`, up to its limit.
    WholeMessage,
}

/// Everything needed to write one new activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPlan {
    /// External key (`internetMessageId`).
    pub key: String,
    /// The marker derived from the key that the first insert carries (see
    /// [`crate::email::decide::marker`]).
    pub marker: String,
    /// Subject.
    pub subject: String,
    /// Date (CRM local).
    pub date: jiff::civil::Date,
    /// Time (CRM local).
    pub time: jiff::civil::Time,
    /// Body text (HTML or plain, already capped).
    pub text: String,
    /// Owner rep number.
    pub rep_number: String,
    /// Linked company (the first company found among the participants).
    pub company: Option<CrmId>,
    /// Linked person (the first person found among the participants).
    pub person: Option<CrmId>,
    /// Participants.
    pub participants: Vec<ParticipantPlan>,
    /// Further activity fields (missing-participants block and its flags).
    pub extra: Vec<(String, String)>,
    /// Which documents to attach.
    pub documents: DocumentSource,
    /// Warnings (truncated body ...); attachment warnings are added by the executor.
    pub warnings: Vec<String>,
}
