//! Change notifications from Microsoft Graph (`[notifications]`, docs/NOTIFICATIONS.md).
//!
//! With notifications on, every (mailbox, kind) that supports them gets a Graph subscription
//! ([`manager`]: created, renewed before expiry, re-created when Graph removes it), and
//! Graph POSTs to the connector's own listener ([`endpoint`]) when an item changes. A
//! notification is never trusted as data: after its `clientState` is checked it only makes
//! that mailbox and kind due now, and the usual delta walk does the work. Polling goes on at
//! `[notifications] safety_net_minutes` for covered pairs, so a lost notification delays a
//! change, never drops it.
//!
//! [`Hub`] is what the endpoint and the manager share: the subscriptions by id (read from the
//! store, where every process of the tenant finds them) and the way to mark a pair due.

pub mod endpoint;
pub mod manager;
pub mod plan;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use gc_store::{Kind, StateStore, SubscriptionRecord};
use subtle::ConstantTimeEq as _;
use tokio::sync::mpsc::UnboundedSender;

use super::status::Status;

/// The kinds that get subscriptions (the Graph resource each watches: see [`manager`]).
/// Absences have none: they go from CRM to the calendar and have no Graph source.
pub const KINDS: [Kind; 4] = [Kind::Email, Kind::Appointment, Kind::Task, Kind::Contact];

/// The kinds of [`KINDS`] that also read CRM (appointments both ways, tasks, contacts): a
/// subscription only tells about their Graph side, so they keep polling at their own
/// `interval_minutes` (their idle check makes a cycle without changes cheap), and only the
/// Graph-only kind (e-mail) falls back to `safety_net_minutes`.
pub const POLLED_FOR_CRM: [Kind; 3] = [Kind::Appointment, Kind::Task, Kind::Contact];

/// A lifecycle event Graph sent for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// The subscription it concerns (its `clientState` was checked).
    pub subscription: SubscriptionRecord,
    /// `reauthorizationRequired`, `subscriptionRemoved` or `missed` (or a future one).
    pub event: String,
}

/// Shared by the endpoint and the manager.
pub struct Hub {
    store: Arc<dyn StateStore>,
    status: Arc<Status>,
    by_id: RwLock<HashMap<String, SubscriptionRecord>>,
    lifecycle: UnboundedSender<Lifecycle>,
}

/// What a checked notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Known subscription, right `clientState`.
    Accepted(SubscriptionRecord),
    /// No subscription of that id here (e.g. deleted, or another tenant's).
    Unknown,
    /// A known subscription with the wrong or no `clientState`: not from Graph.
    Forged,
}

impl Hub {
    /// A hub over the store; lifecycle events go to `lifecycle` (the manager).
    pub fn new(
        store: Arc<dyn StateStore>,
        status: Arc<Status>,
        lifecycle: UnboundedSender<Lifecycle>,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            status,
            by_id: RwLock::new(HashMap::new()),
            lifecycle,
        })
    }

    /// Replace the known subscriptions (after the manager's pass, or a reload).
    pub fn set_known(&self, subscriptions: &[SubscriptionRecord]) {
        let map = subscriptions
            .iter()
            .map(|s| (s.subscription_id.clone(), s.clone()))
            .collect();
        *self
            .by_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
    }

    fn known(&self, id: &str) -> Option<SubscriptionRecord> {
        self.by_id
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Check a notification's subscription id and `clientState` (in constant time). An id
    /// not known in memory is looked up in the store once (another process created it).
    pub async fn verify(&self, subscription_id: &str, client_state: Option<&str>) -> Verdict {
        let record = match self.known(subscription_id) {
            Some(r) => Some(r),
            None => match self.store.list_subscriptions().await {
                Ok(all) => {
                    self.set_known(&all);
                    self.known(subscription_id)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the subscriptions from the state store");
                    None
                }
            },
        };
        let Some(record) = record else {
            return Verdict::Unknown;
        };
        let given = client_state.unwrap_or_default().as_bytes();
        if bool::from(given.ct_eq(record.client_state.as_bytes())) {
            Verdict::Accepted(record)
        } else {
            Verdict::Forged
        }
    }

    /// A change in `mailbox`'s `kind`: due now, and the scheduler woken.
    pub async fn changed(&self, mailbox: &str, kind: Kind) {
        self.status.notify_change(mailbox, kind);
        let now = match self.store.now().await {
            Ok(t) => t,
            Err(_) => jiff::Timestamp::now(),
        };
        if let Err(e) = self.store.set_next_due(mailbox, kind, now).await {
            tracing::warn!(mailbox, %kind, error = %e, "cannot mark the mailbox due after a notification");
        }
        self.status.wake();
    }

    /// Hand a lifecycle event to the manager.
    pub fn lifecycle(&self, event: Lifecycle) {
        if self.lifecycle.send(event).is_err() {
            tracing::warn!("a lifecycle notification arrived while the service stops");
        }
    }
}
