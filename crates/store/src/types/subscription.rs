//! A change-notification subscription of one mailbox and kind. Separate because it belongs to
//! change notifications rather than to the delta sync, and holds a secret (`client_state`)
//! that its `Debug` hides.

use jiff::Timestamp;

use super::{Kind, MailboxId};

/// A change-notification subscription of one mailbox and kind (see docs/NOTIFICATIONS.md).
/// `client_state` is the secret Graph sends back with each notification: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// The kind whose changes it reports.
    pub kind: Kind,
    /// Graph's id of the subscription.
    pub subscription_id: String,
    /// The watched Graph resource (a change of it, e.g. a re-created sync folder, needs a new
    /// subscription).
    pub resource: String,
    /// The shared secret.
    pub client_state: String,
    /// When Graph lets it expire.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SubscriptionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionRecord")
            .field("mailbox", &self.mailbox)
            .field("kind", &self.kind)
            .field("subscription_id", &self.subscription_id)
            .field("resource", &self.resource)
            .field("client_state", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
