//! Telling a user (or the administrator) something: the notice about an item that could not
//! be synchronized, a warning, an alert. Delivered through Graph like any message.

use async_trait::async_trait;

use crate::error::PortError;

/// A notification for the user about a message that could not be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Subject.
    pub subject: String,
    /// HTML body.
    pub html: String,
}

/// Sends notices to mailbox users.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Tell the user of `mailbox` (address or id): `sendMail` from the admin address when
    /// Mail.Send is granted, otherwise a message created directly in the user's Inbox.
    async fn notify(&self, mailbox: &str, note: &Notification) -> Result<(), PortError>;
}
