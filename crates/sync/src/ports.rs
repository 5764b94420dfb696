//! The traits the engine needs from Microsoft Graph and CRM. Defined here, next to the engine,
//! so that the engine can be tested without sockets; `adapters/` implements them over the real
//! clients (gc-graph, gc-crm). The store is `gc_store::StateStore` directly.

use async_trait::async_trait;
use gc_store::CrmId;

use crate::email::model::{
    ActivityPlan, DocumentPlan, ExistingActivity, MailAttachment, MailPage, ParticipantPlan,
    PeopleMatch,
};

/// What a caller does about an error of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (throttling exhausted, 5xx, network, CRM busy): the item is delayed,
    /// never dropped.
    Transient,
    /// The delta checkpoint expired: clear it and re-enumerate.
    SyncStateExpired,
    /// The addressed item is gone.
    NotFound,
    /// This item is broken or rejected; sending it again unchanged fails again.
    Item,
    /// The whole mailbox cannot be worked (access denied, mailbox not found, login refused).
    Mailbox,
    /// The configuration does not fit the tenant or the CRM (e.g. CRM.interface does not know
    /// a table or field `[crm.dialect]` names): stop the whole run before anything else
    /// moves; charge no mailbox and no item.
    Tenant,
}

/// An error of a port: its class and a message an administrator understands (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    /// What to do about it.
    pub class: ErrorClass,
    /// Why.
    pub message: String,
}

impl PortError {
    /// A new error.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        PortError {
            class,
            message: message.into(),
        }
    }

    /// A transient error.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, message)
    }

    /// Whether the item should be retried later.
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

/// A resolved mail folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRef {
    /// Graph folder id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Messages in the folder, when known.
    pub total: Option<u64>,
}

/// A Microsoft 365 user found for a rep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailUser {
    /// Entra object id.
    pub id: String,
    /// Every SMTP address (primary first), lower case.
    pub addresses: Vec<String>,
}

/// A notification for the user about a message that could not be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Subject.
    pub subject: String,
    /// HTML body.
    pub html: String,
}

/// The Graph side of e-mail filing, for one tenant. `mailbox` is the user's address or id.
#[async_trait]
pub trait MailGraph: Send + Sync {
    /// The user whose address (or alias) is `address`, if there is a mailbox for it.
    async fn find_user(&self, address: &str) -> Result<Option<MailUser>, PortError>;

    /// Resolve a fully qualified folder path (`/Inbox/crm`; the first segment may be a
    /// well-known name), creating missing segments when `create` is set.
    async fn folder(
        &self,
        mailbox: &str,
        path: &str,
        create: bool,
    ) -> Result<Option<FolderRef>, PortError>;

    /// The child folder `name` of `parent`, created when missing.
    async fn child_folder(
        &self,
        mailbox: &str,
        parent: &str,
        name: &str,
    ) -> Result<FolderRef, PortError>;

    /// One page of the folder's message delta: from the start (`checkpoint: None`) or from a
    /// stored nextLink/deltaLink.
    async fn delta_page(
        &self,
        mailbox: &str,
        folder_id: &str,
        checkpoint: Option<&str>,
    ) -> Result<MailPage, PortError>;

    /// The message as MIME (`$value`).
    async fn mime(&self, mailbox: &str, message_id: &str) -> Result<Vec<u8>, PortError>;

    /// The message's attachments with content.
    async fn attachments(
        &self,
        mailbox: &str,
        message_id: &str,
    ) -> Result<Vec<MailAttachment>, PortError>;

    /// Move a message (its immutable id stays the same).
    async fn move_to(
        &self,
        mailbox: &str,
        message_id: &str,
        folder_id: &str,
    ) -> Result<(), PortError>;

    /// Replace a message's categories.
    async fn set_categories(
        &self,
        mailbox: &str,
        message_id: &str,
        categories: &[String],
    ) -> Result<(), PortError>;

    /// Tell the user: `sendMail` from the admin address when Mail.Send is granted, otherwise
    /// a message created directly in the user's Inbox.
    async fn notify(&self, mailbox: &str, note: &Notification) -> Result<(), PortError>;
}

/// A rep as the mailbox refresh needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepInfo {
    /// CRM record id.
    pub crm_id: CrmId,
    /// Rep number (`Contact.RepID`).
    pub rep_number: String,
    /// Display name.
    pub name: String,
    /// Address.
    pub email: String,
    /// Language.
    pub language: Option<String>,
    /// "Synchronize e-mails" is set.
    pub sync_emails: bool,
}

/// A document already attached to an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMeta {
    /// File name.
    pub file_name: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// Result of writing a new activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Written completely (activity, external key, participants, documents).
    Complete(CrmId),
    /// The activity was written but a follow-up write failed; finish it by adoption.
    Partial {
        /// The activity.
        id: CrmId,
        /// What failed.
        error: PortError,
    },
}

/// The CRM side of e-mail filing. Every call acts for the rep `rep` (impersonation).
#[async_trait]
pub trait ActivityCrm: Send + Sync {
    /// The reps enabled for synchronisation (as the master user).
    async fn enabled_reps(&self) -> Result<Vec<RepInfo>, PortError>;

    /// Whether CRM.interface accepts to act for `rep` (impersonation): refused when the rep
    /// is unknown, locked or holds no valid CRM licence (`ErrorClass::Mailbox`).
    async fn check_rep_access(&self, rep: &str) -> Result<(), PortError>;

    /// Persons and companies by address, many addresses at once.
    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError>;

    /// The activity whose external key is `key`, with its participants.
    async fn find_by_key(
        &self,
        rep: &str,
        key: &str,
    ) -> Result<Option<ExistingActivity>, PortError>;

    /// An activity by id, with its participants (`None` if gone).
    async fn activity(&self, rep: &str, id: CrmId) -> Result<Option<ExistingActivity>, PortError>;

    /// An activity an interrupted attempt wrote for `plan` without its external key: same
    /// rep, date, time, subject and text.
    async fn find_orphan(
        &self,
        rep: &str,
        plan: &ActivityPlan,
    ) -> Result<Option<ExistingActivity>, PortError>;

    /// Write a new activity with its external key, participants and documents.
    async fn create(
        &self,
        rep: &str,
        plan: &ActivityPlan,
        documents: &[DocumentPlan],
        content_type: &str,
    ) -> Result<CreateOutcome, PortError>;

    /// Record the external key of an adopted activity.
    async fn add_key(
        &self,
        rep: &str,
        activity: CrmId,
        key: &str,
        content_type: &str,
    ) -> Result<(), PortError>;

    /// Add participants.
    async fn add_participants(
        &self,
        rep: &str,
        activity: CrmId,
        participants: &[ParticipantPlan],
    ) -> Result<(), PortError>;

    /// Documents attached to an activity.
    async fn documents(&self, rep: &str, activity: CrmId) -> Result<Vec<DocumentMeta>, PortError>;

    /// Attach a document.
    async fn add_document(
        &self,
        rep: &str,
        activity: CrmId,
        document: &DocumentPlan,
    ) -> Result<(), PortError>;
}
