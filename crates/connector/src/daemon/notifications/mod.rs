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

/// What a change notification asks of its (mailbox, kind) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Run now, even if the pair's idle probe does not show the change yet (Graph may notify
    /// before its delta query has the change).
    Run,
    /// Due now, but the pair's idle probe decides: when it shows nothing new the pair is
    /// recorded as done without a run, as when polled.
    Probe,
    /// Nothing: the change cannot give the pair anything to do.
    Nothing,
}

/// The `changeType`s a new subscription of `kind` asks for (see [`wake`]): e-mail leaves out
/// `deleted`, which never gives it anything to do; every other kind's walk acts on them.
pub fn change_types(kind: Kind) -> &'static str {
    match kind {
        Kind::Email => "created,updated",
        _ => "created,updated,deleted",
    }
}

/// What a notification of `kind` with this `changeType` asks for.
///
/// The e-mail kind files the messages *in* its sync folder. A message leaving the folder
/// (`deleted`: the connector's own move after filing it, or the user's) leaves nothing to
/// file. A message changed in the folder (`updated`: mostly the category the connector sets
/// just before its move, else the user's edit of a message whose `created` was already
/// notified) needs a run only while it is still there, which the folder's probe shows (it
/// looks past removals). So each filed message costs one run, not three. Every other kind's
/// walk acts on edits and deletions, and any change type this rule does not know runs.
pub fn wake(kind: Kind, change_type: Option<&str>) -> Wake {
    match (kind, change_type) {
        (Kind::Email, Some("deleted")) => Wake::Nothing,
        (Kind::Email, Some("updated")) => Wake::Probe,
        _ => Wake::Run,
    }
}

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

    /// Replace the known subscriptions (after the manager's pass). The old
    /// entries are dropped before the new ones go in, so a large tenant's subscriptions are
    /// not held twice.
    pub fn set_known(&self, subscriptions: Vec<SubscriptionRecord>) {
        let mut by_id = self
            .by_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by_id.clear();
        by_id.extend(
            subscriptions
                .into_iter()
                .map(|s| (s.subscription_id.clone(), s)),
        );
    }

    /// One more (or a renewed) subscription, known before the next [`Hub::set_known`].
    pub fn add_known(&self, subscription: SubscriptionRecord) {
        self.by_id
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(subscription.subscription_id.clone(), subscription);
    }

    fn known(&self, id: &str) -> Option<SubscriptionRecord> {
        self.by_id
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Check a notification's subscription id and `clientState` (in constant time). An id
    /// not known in memory is looked up in the store by itself (another process made it),
    /// and kept when found: a POST naming an unknown id costs one indexed read, however
    /// many subscriptions the tenant has (the endpoint is open to anyone who finds it).
    pub async fn verify(&self, subscription_id: &str, client_state: Option<&str>) -> Verdict {
        let record = match self.known(subscription_id) {
            Some(r) => Some(r),
            None => match self.store.get_subscription(subscription_id).await {
                Ok(found) => {
                    if let Some(r) = &found {
                        self.add_known(r.clone());
                    }
                    found
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the subscription from the state store");
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

    /// A change in `mailbox`'s `kind`: due now, and run at once even if its probe shows
    /// nothing yet (the scheduler is woken for the notified pairs only: a pass over every
    /// mailbox per notification would cost more than the runs, docs/PERFORMANCE.md).
    pub async fn changed(&self, mailbox: &str, kind: Kind) {
        self.due(mailbox, kind).await;
        self.status.notify_change(mailbox, kind);
    }

    /// `mailbox`'s `kind` due now, its probe deciding whether it runs (see [`Wake::Probe`]):
    /// the scheduler's next regular pass finds it (within `idle_wake`).
    pub async fn due(&self, mailbox: &str, kind: Kind) {
        if let Err(e) = self
            .store
            .set_due_in(mailbox, kind, std::time::Duration::ZERO)
            .await
        {
            tracing::warn!(mailbox, %kind, error = %e, "cannot mark the mailbox due after a notification");
        }
    }

    /// A change the pair's idle probe decides on ([`Wake::Probe`]): due now, unless the pair
    /// is running in this process. That run stores the pair's next due time when it ends,
    /// which would overwrite this one, so the write is left out: for e-mail such a change is
    /// mostly the category the run itself just set (one store write per filed message).
    pub async fn probe(&self, mailbox: &str, kind: Kind) {
        if self.status.is_running(mailbox, kind) {
            tracing::debug!(mailbox, %kind, "notified while running: the run's end decides");
            return;
        }
        self.due(mailbox, kind).await;
    }

    /// Hand a lifecycle event to the manager.
    pub fn lifecycle(&self, event: Lifecycle) {
        if self.lifecycle.send(event).is_err() {
            tracing::warn!("a lifecycle notification arrived while the service stops");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_message_forces_an_e_mail_run() {
        assert_eq!(wake(Kind::Email, Some("created")), Wake::Run);
        assert_eq!(wake(Kind::Email, Some("updated")), Wake::Probe);
        assert_eq!(wake(Kind::Email, Some("deleted")), Wake::Nothing);
        // Without a change type (or one this rule does not know), it runs.
        assert_eq!(wake(Kind::Email, None), Wake::Run);
        assert_eq!(wake(Kind::Email, Some("moved")), Wake::Run);
        // E-mail asks for no `deleted` in the first place.
        assert!(!change_types(Kind::Email).contains("deleted"));
    }

    fn record(id: &str, mailbox: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            mailbox: mailbox.into(),
            kind: Kind::Email,
            subscription_id: id.into(),
            resource: format!("users/{mailbox}/mailFolders('f')/messages"),
            client_state: format!("secret-of-{id}"),
            expires_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
        }
    }

    #[tokio::test]
    async fn a_subscription_is_known_from_the_manager_or_looked_up_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = gc_store::open(&url).await.unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let hub = Hub::new(store.clone(), Status::new(), tx);

        // Made by this process's manager: known at once, though not stored (yet).
        hub.add_known(record("made", "7"));
        assert!(matches!(
            hub.verify("made", Some("secret-of-made")).await,
            Verdict::Accepted(r) if r.mailbox == "7"
        ));
        assert_eq!(hub.verify("made", Some("guess")).await, Verdict::Forged);
        assert_eq!(hub.verify("made", None).await, Verdict::Forged);

        // Made by another process (stored, never told to this hub): looked up in the store.
        store
            .put_subscription(&record("theirs", "8"))
            .await
            .unwrap();
        assert!(matches!(
            hub.verify("theirs", Some("secret-of-theirs")).await,
            Verdict::Accepted(r) if r.mailbox == "8"
        ));
        assert_eq!(hub.verify("nobody's", Some("x")).await, Verdict::Unknown);

        // Each lookup read that one id and kept what it found: nothing else was read in or
        // dropped, and a known id is not read again (one the other process deleted stays
        // known until the manager's next pass replaces the hub's list; such a notification
        // only makes its pair due).
        store
            .put_subscription(&record("unread", "9"))
            .await
            .unwrap();
        assert_eq!(
            hub.verify("nobody's else", Some("x")).await,
            Verdict::Unknown
        );
        assert!(hub.known("unread").is_none());
        assert!(hub.known("made").is_some());
        store.delete_subscription("theirs").await.unwrap();
        assert!(matches!(
            hub.verify("theirs", Some("secret-of-theirs")).await,
            Verdict::Accepted(_)
        ));
    }

    #[test]
    fn every_other_kind_runs_for_every_change() {
        for kind in [Kind::Appointment, Kind::Task, Kind::Contact] {
            for change in ["created", "updated", "deleted"] {
                assert_eq!(wake(kind, Some(change)), Wake::Run, "{kind} {change}");
                assert!(change_types(kind).contains(change));
            }
        }
    }
}
