//! The Graph side of e-mail filing: the sync folder, its delta, message content, moves.

use async_trait::async_trait;

use crate::email::model::{MailAttachment, MailPage};
use crate::engine::Spool;
use crate::error::PortError;

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

/// What [`MailGraph::download`] fetches.
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    /// The whole message as MIME (`$value`).
    Message,
    /// One attachment's bytes.
    Attachment(&'a MailAttachment),
}

/// The Graph side of e-mail filing, for one tenant. `mailbox` is the user's address or id.
#[async_trait]
pub trait MailGraph: Send + Sync {
    /// Resolve a fully qualified folder path (`/Inbox/crm`; the first segment may be a
    /// well-known name), creating missing segments when `create` is set.
    async fn folder(
        &self,
        mailbox: &str,
        path: &str,
        create: bool,
    ) -> Result<Option<FolderRef>, PortError>;

    /// The child folders of `parent`, in one listing (a run that needs both the success and
    /// the failure subfolder finds both with it).
    async fn child_folders(&self, mailbox: &str, parent: &str)
    -> Result<Vec<FolderRef>, PortError>;

    /// Create the child folder `name` of `parent`; one made meanwhile under that name is
    /// returned instead.
    async fn create_child_folder(
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

    /// The message's attachments, metadata only: the size rules are applied before any
    /// content is downloaded.
    async fn attachments(
        &self,
        mailbox: &str,
        message_id: &str,
    ) -> Result<Vec<MailAttachment>, PortError>;

    /// Download content into a [`Spool`]: the whole message as MIME, or one attachment (an
    /// item attachment as MIME). `Ok(None)` when it is bigger than `max_bytes` (nothing
    /// beyond the limit is read).
    async fn download(
        &self,
        mailbox: &str,
        message_id: &str,
        what: Content<'_>,
        max_bytes: u64,
    ) -> Result<Option<Spool>, PortError>;

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
}
