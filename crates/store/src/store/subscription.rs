//! [`SubscriptionStore`]: the change-notification subscriptions.

use async_trait::async_trait;

use super::Result;
use crate::types::SubscriptionRecord;

/// The Graph change-notification subscriptions, one per mailbox and kind.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Every stored subscription.
    async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>>;

    /// The subscription `subscription_id`, if it is stored: one indexed read, for a
    /// notification naming a subscription this process does not know (another process made
    /// it, or the POST is not from Graph).
    async fn get_subscription(&self, subscription_id: &str) -> Result<Option<SubscriptionRecord>>;

    /// Keep a subscription (replacing the mailbox and kind's previous one).
    async fn put_subscription(&self, subscription: &SubscriptionRecord) -> Result<()>;

    /// Forget the subscription `subscription_id`. Returns whether there was one.
    async fn delete_subscription(&self, subscription_id: &str) -> Result<bool>;
}
