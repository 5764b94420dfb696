//! The subscription manager: keeps one Graph subscription per (mailbox, kind) of
//! [`super::KINDS`], and acts on lifecycle events.
//!
//! A pass ([`Manager::pass`]) works out what is wanted from the mailbox list (e-mail: the
//! messages of the sync folder, once a run has resolved its id; appointments: the mailbox's
//! events; tasks: the tasks of the To Do list, once a run has resolved its id; contacts: the
//! contacts of the contact folder once resolved, or of the mailbox with a category target),
//! plans against the stored subscriptions ([`super::plan`]) and carries the plan
//! out, several at a time (each create waits for Graph's validation handshake). It runs under
//! a store lease, so of several processes on one PostgreSQL store one manages at a time while
//! every one of them can receive notifications. Subscriptions are kept over a restart; the
//! next pass renews them when due.
//!
//! Lifecycle events: `reauthorizationRequired` renews the subscription (which reauthorizes
//! it); `subscriptionRemoved` forgets it, makes the pair due (changes may have gone
//! unnotified) and re-creates it at once; `missed` makes the pair due, and the delta walk of
//! that run finds every change since its cursor.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use gc_graph::GraphClient;
use gc_graph::ops::subscriptions::{NewSubscription, OUTLOOK_MAX_MINUTES, TODO_MAX_MINUTES};
use gc_store::{Kind, StateStore, SubscriptionRecord};
use jiff::{SignedDuration, Timestamp};
use rand::distr::{Alphanumeric, SampleString as _};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use gc_sync::contacts::kind::folder_key as contact_folder_key;
use gc_sync::tasks::kind::list_key;

use super::plan::{Action, Want, next_look, plan, relook};
use super::{Hub, KINDS, Lifecycle};
use crate::daemon::runner::KindRunner;
use crate::daemon::status::Status;

/// The store lease under which one process manages the tenant's subscriptions.
const LEASE: &str = "notifications:subscriptions";
const LEASE_TTL: Duration = Duration::from_secs(600);
/// Subscriptions created or renewed at once.
const PARALLEL: usize = 8;
/// Look again this soon while something is missing (a sync folder not resolved yet, a
/// failure) and the last pass set something up; [`RELOOK_AT_MOST`] after passes that did not
/// ([`relook`]).
const SOON: Duration = Duration::from_secs(10);
/// The longest wait between passes while something is missing and nothing changes.
const RELOOK_AT_MOST: Duration = Duration::from_secs(300);
/// The longest sleep between passes.
const AT_MOST: SignedDuration = SignedDuration::from_hours(1);
/// The longest wait before a failing (mailbox, kind) is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How subscriptions are made.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The public notification address (`[notifications] notification_url`).
    pub notification_url: String,
    /// Renew when less than this is left (`[notifications] renew_before_minutes`).
    pub renew_before: SignedDuration,
    /// The e-mail sync folder path (`[emails] sync_folder`), whose resolved id the e-mail
    /// subscription watches.
    pub sync_folder: String,
    /// The To Do list's name (`[tasks] list_name`), whose resolved id the tasks subscription
    /// watches.
    pub task_list: String,
    /// Where the contacts kind writes (`[contacts] target`).
    pub contacts: ContactsWatch,
}

/// What the contacts subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactsWatch {
    /// The contact folder of this name (`target = "folder"`), once a run resolved its id:
    /// `users/{user}/contactFolders/{id}/contacts`.
    Folder(String),
    /// The mailbox's contacts (`target = "category"`): `users/{user}/contacts`.
    Mailbox,
}

impl Settings {
    /// Where lifecycle events go: the notification address + `/lifecycle`.
    pub fn lifecycle_url(&self) -> String {
        format!("{}/lifecycle", self.notification_url.trim_end_matches('/'))
    }
}

/// What a pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looked {
    /// When the first stored subscription is due for renewal (or when to try again after a
    /// store error, or while another process manages them).
    pub next: Duration,
    /// Some wanted subscriptions could not be set up yet (see [`relook`]).
    pub missing: bool,
    /// This pass set up (created, renewed or replaced) at least one subscription.
    pub set_up: bool,
}

impl Looked {
    fn after(next: Duration) -> Looked {
        Looked {
            next,
            missing: false,
            set_up: false,
        }
    }
}

/// The manager.
pub struct Manager {
    hub: Arc<Hub>,
    graph: GraphClient,
    store: Arc<dyn StateStore>,
    status: Arc<Status>,
    runners: Vec<Arc<dyn KindRunner>>,
    settings: Settings,
    holder: String,
    /// (mailbox, kind) → (failures in a row, not before).
    backoff: std::sync::Mutex<HashMap<(String, Kind), (u32, Timestamp)>>,
}

impl Manager {
    /// A manager for the kinds of `runners` that support notifications.
    pub fn new(
        hub: Arc<Hub>,
        graph: GraphClient,
        store: Arc<dyn StateStore>,
        status: Arc<Status>,
        runners: Vec<Arc<dyn KindRunner>>,
        settings: Settings,
        holder: String,
    ) -> Manager {
        Manager {
            hub,
            graph,
            store,
            status,
            runners: runners
                .into_iter()
                .filter(|r| KINDS.contains(&r.kind()))
                .collect(),
            settings,
            holder,
            backoff: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Passes and lifecycle events until `shutdown`.
    pub async fn run(
        self,
        mut lifecycle: UnboundedReceiver<Lifecycle>,
        shutdown: CancellationToken,
    ) {
        let mut wait = Duration::ZERO;
        // The last wait while something was missing (see `relook`).
        let mut missing_wait = Duration::ZERO;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                Some(event) = lifecycle.recv() => {
                    if self.lifecycle(event).await {
                        wait = Duration::ZERO;
                        continue;
                    }
                }
                _ = tokio::time::sleep(wait) => {
                    let looked = self.pass(&shutdown).await;
                    if looked.missing {
                        missing_wait = relook(missing_wait, looked.set_up, SOON, RELOOK_AT_MOST);
                        wait = looked.next.min(missing_wait);
                    } else {
                        missing_wait = Duration::ZERO;
                        wait = looked.next;
                    }
                }
            }
        }
    }

    /// Act on one lifecycle event. Returns whether a pass is needed now.
    async fn lifecycle(&self, event: Lifecycle) -> bool {
        let s = event.subscription;
        match event.event.as_str() {
            "reauthorizationRequired" => {
                if let Err(e) = self.apply(Action::Renew(s.clone())).await {
                    tracing::warn!(mailbox = s.mailbox, kind = %s.kind, error = %e, "cannot reauthorize the subscription");
                    return true;
                }
                self.refresh_known().await;
                false
            }
            "subscriptionRemoved" => {
                if let Err(e) = self.store.delete_subscription(&s.subscription_id).await {
                    tracing::warn!(error = %e, "cannot forget a removed subscription");
                }
                self.hub.changed(&s.mailbox, s.kind).await;
                true
            }
            "missed" => {
                self.hub.changed(&s.mailbox, s.kind).await;
                false
            }
            other => {
                tracing::info!(event = other, "unknown lifecycle event ignored");
                false
            }
        }
    }

    /// One pass: what it found.
    pub async fn pass(&self, shutdown: &CancellationToken) -> Looked {
        let roster = self.status.roster();
        if roster.refreshed_at.is_none() {
            return Looked::after(SOON);
        }
        let fence = match self
            .store
            .try_acquire_lease(LEASE, &self.holder, LEASE_TTL)
            .await
        {
            Ok(Some(f)) => f,
            Ok(None) => {
                // Another process manages them; keep up with what it stored.
                self.refresh_known().await;
                return Looked::after(SOON * 3);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the subscriptions lease");
                return Looked::after(SOON * 3);
            }
        };
        let (wanted, mut incomplete) = self.wanted(&roster).await;
        let (stored, now) = match (
            self.store.list_subscriptions().await,
            self.store.now().await,
        ) {
            (Ok(s), Ok(n)) => (s, n),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the subscriptions from the state store");
                let _ = self.store.release_lease(&fence).await;
                return Looked::after(SOON * 3);
            }
        };
        let actions = plan(&wanted, &stored, now, self.settings.renew_before);
        // Both lists hold a row per (mailbox, kind): gone before the store is read again
        // below (at 10,000 mailboxes, the copies alive at once at the end of the creation
        // pass were the service's peak RSS with notifications, docs/PERFORMANCE.md).
        drop((wanted, stored));
        let results: Vec<bool> = futures::stream::iter(actions)
            .take_while(|_| std::future::ready(!shutdown.is_cancelled()))
            .map(|a| async move {
                let pair = pair_of(&a);
                match self.apply(a).await {
                    Ok(()) => {
                        self.lock_backoff().remove(&pair);
                        true
                    }
                    Err(e) => {
                        let failures = self.fail(pair.clone());
                        tracing::warn!(mailbox = pair.0, kind = %pair.1, failures, error = %e, "cannot set up the change-notification subscription (polling goes on)");
                        false
                    }
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        incomplete |= results.iter().any(|ok| !ok);
        let _ = self.store.release_lease(&fence).await;
        let next = self.refresh_known().await;
        Looked {
            next: Duration::try_from(next).unwrap_or(SOON),
            missing: incomplete,
            set_up: results.iter().any(|ok| *ok),
        }
    }

    /// Read the stored subscriptions into the hub and the scheduler's coverage. Returns how
    /// long until the first of them is due for renewal (at most [`AT_MOST`]). The records
    /// move into the hub: one copy of a large tenant's subscriptions, not two.
    async fn refresh_known(&self) -> SignedDuration {
        let stored = match self.store.list_subscriptions().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the subscriptions from the state store");
                return AT_MOST;
            }
        };
        let now = Timestamp::now();
        let next = next_look(&stored, now, self.settings.renew_before, AT_MOST);
        let covered: HashSet<(String, Kind)> = stored
            .iter()
            .filter(|s| s.expires_at > now)
            .map(|s| (s.mailbox.clone(), s.kind))
            .collect();
        metrics::gauge!("graph_connector_subscriptions").set(covered.len() as f64);
        self.status.set_covered(covered);
        self.hub.set_known(stored);
        next
    }

    /// The subscriptions the mailbox list asks for; `true` when some cannot be asked for
    /// yet (a sync folder no run has resolved) or wait after a failure.
    ///
    /// The ids the runs resolved are read once per kind for every mailbox
    /// ([`Manager::kept`]), not once per mailbox: a pass repeats soon while a
    /// folder is unresolved, and at 10,000 mailboxes a read per mailbox made each such pass
    /// 10,000 statements.
    async fn wanted(&self, roster: &crate::daemon::runner::Roster) -> (Vec<Want>, bool) {
        let mut wanted = Vec::new();
        let mut incomplete = false;
        let now = Timestamp::now();
        let folder_key = gc_sync::email::folders::folder_key(&self.settings.sync_folder);
        for runner in &self.runners {
            let kind = runner.kind();
            let key = match (kind, &self.settings.contacts) {
                (Kind::Email, _) => Some(folder_key.clone()),
                (Kind::Task, _) => Some(list_key(&self.settings.task_list)),
                (Kind::Contact, ContactsWatch::Folder(name)) => Some(contact_folder_key(name)),
                _ => None,
            };
            let kept = match &key {
                Some(key) => self.kept(kind, key).await,
                None => HashMap::new(),
            };
            for target in runner.mailboxes(roster) {
                let mailbox = target.mailbox().to_owned();
                if self
                    .lock_backoff()
                    .get(&(mailbox.clone(), kind))
                    .is_some_and(|(_, until)| *until > now)
                {
                    incomplete = true;
                    continue;
                }
                let user = &target.graph_user;
                let id = kept.get(&mailbox);
                let resource =
                    match (kind, &self.settings.contacts) {
                        (Kind::Email, _) => id
                            .map(|folder| format!("users/{user}/mailFolders('{folder}')/messages")),
                        (Kind::Appointment, _) => Some(format!("users/{user}/events")),
                        (Kind::Task, _) => {
                            id.map(|list| format!("users/{user}/todo/lists/{list}/tasks"))
                        }
                        (Kind::Contact, ContactsWatch::Folder(_)) => id
                            .map(|folder| format!("users/{user}/contactFolders/{folder}/contacts")),
                        (Kind::Contact, ContactsWatch::Mailbox) => {
                            Some(format!("users/{user}/contacts"))
                        }
                        _ => continue,
                    };
                // Not resolved by a run yet: asked for again soon.
                let Some(resource) = resource else {
                    incomplete = true;
                    continue;
                };
                wanted.push(Want {
                    mailbox,
                    kind,
                    resource,
                });
            }
        }
        (wanted, incomplete)
    }

    /// The ids the runs of `kind` resolved and kept under `key` (a folder or list), by
    /// mailbox. A store error leaves them all unresolved for this pass (asked for again soon).
    async fn kept(&self, kind: Kind, key: &str) -> HashMap<String, String> {
        match self.store.list_resolved(key).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|(_, k, _)| *k == kind)
                .map(|(mailbox, _, id)| (mailbox, id))
                .collect(),
            Err(e) => {
                tracing::warn!(%kind, error = %e, "cannot read the resolved ids from the state store");
                HashMap::new()
            }
        }
    }

    async fn apply(&self, action: Action) -> Result<(), gc_graph::GraphError> {
        match action {
            Action::Create(want) => self.create(&want).await,
            Action::Renew(old) => {
                let until = expiry(old.kind);
                match self
                    .graph
                    .renew_subscription(&old.subscription_id, until)
                    .await
                {
                    Ok(s) => {
                        self.put(&SubscriptionRecord {
                            expires_at: s.expiration_date_time,
                            ..old
                        })
                        .await;
                        Ok(())
                    }
                    // Graph removed it meanwhile: a new one.
                    Err(e) if e.status() == Some(404) => {
                        self.forget(&old).await;
                        self.create(&Want {
                            mailbox: old.mailbox.clone(),
                            kind: old.kind,
                            resource: old.resource.clone(),
                        })
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
            Action::Replace { old, want } => {
                self.graph.delete_subscription(&old.subscription_id).await?;
                self.forget(&old).await;
                self.create(&want).await
            }
            Action::Delete(old) => {
                self.graph.delete_subscription(&old.subscription_id).await?;
                self.forget(&old).await;
                Ok(())
            }
        }
    }

    async fn create(&self, want: &Want) -> Result<(), gc_graph::GraphError> {
        let client_state = Alphanumeric.sample_string(&mut rand::rng(), 64);
        let new = NewSubscription {
            change_type: super::change_types(want.kind).into(),
            notification_url: self.settings.notification_url.clone(),
            lifecycle_notification_url: self.settings.lifecycle_url(),
            resource: want.resource.clone(),
            expiration_date_time: expiry(want.kind),
            client_state: client_state.clone(),
        };
        let made = self.graph.create_subscription(&new).await?;
        tracing::info!(mailbox = want.mailbox, kind = %want.kind, expires = %made.expiration_date_time, "change-notification subscription created");
        self.put(&SubscriptionRecord {
            mailbox: want.mailbox.clone(),
            kind: want.kind,
            subscription_id: made.id,
            resource: want.resource.clone(),
            client_state,
            expires_at: made.expiration_date_time,
        })
        .await;
        // Covered before the pair is made due: its next run or probe may end before this pass
        // reads the subscriptions back, and what follows it is the safety net's.
        self.status.cover(&want.mailbox, want.kind);
        // Changes between the pair's last run and now were not notified: due now, and the
        // pair's idle probe looks for them, as polling would. Not a forced run: a tenant's
        // subscriptions are created together, mostly right after the first round filed
        // everything, and a run per pair then doubled the first round's runs and delayed the
        // first notified changes behind them (docs/PERFORMANCE.md, "10,000 mailboxes").
        // A run under way may have read Graph before those changes, and its end would set
        // the safety net's due time: the pair then runs again after it, as when notified.
        if self.status.is_running(&want.mailbox, want.kind) {
            self.hub.changed(&want.mailbox, want.kind).await;
        } else {
            self.hub.due(&want.mailbox, want.kind).await;
        }
        Ok(())
    }

    /// Store a subscription and tell the hub at once: Graph may notify for it before this
    /// pass ends, and the hub would otherwise look the id up in the store for each such
    /// notification.
    async fn put(&self, record: &SubscriptionRecord) {
        if let Err(e) = self.store.put_subscription(record).await {
            tracing::warn!(mailbox = record.mailbox, kind = %record.kind, error = %e, "cannot store the subscription");
        }
        self.hub.add_known(record.clone());
    }

    async fn forget(&self, record: &SubscriptionRecord) {
        if let Err(e) = self
            .store
            .delete_subscription(&record.subscription_id)
            .await
        {
            tracing::warn!(mailbox = record.mailbox, kind = %record.kind, error = %e, "cannot forget the subscription");
        }
    }

    fn lock_backoff(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Kind), (u32, Timestamp)>> {
        self.backoff
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count a failure of `pair`; it is tried again after 1, 2, 4, … minutes (at most an hour).
    fn fail(&self, pair: (String, Kind)) -> u32 {
        let mut b = self.lock_backoff();
        let entry = b.entry(pair).or_insert((0, Timestamp::now()));
        entry.0 += 1;
        let wait = Duration::from_secs(60 << entry.0.min(6).saturating_sub(1)).min(MAX_BACKOFF);
        entry.1 = Timestamp::now() + SignedDuration::try_from(wait).unwrap_or_default();
        entry.0
    }
}

fn pair_of(a: &Action) -> (String, Kind) {
    match a {
        Action::Create(w) | Action::Replace { want: w, .. } => (w.mailbox.clone(), w.kind),
        Action::Renew(s) | Action::Delete(s) => (s.mailbox.clone(), s.kind),
    }
}

/// The expiry to ask for: just under Graph's longest lifetime for the kind's resource.
fn expiry(kind: Kind) -> Timestamp {
    let max = match kind {
        Kind::Task => TODO_MAX_MINUTES,
        _ => OUTLOOK_MAX_MINUTES,
    };
    Timestamp::now() + SignedDuration::from_mins(max - 15)
}

/// With notifications off: delete the subscriptions an earlier configuration left, so Graph
/// stops calling an endpoint that no longer listens.
pub async fn remove_all(graph: GraphClient, store: Arc<dyn StateStore>) {
    let Ok(stored) = store.list_subscriptions().await else {
        return;
    };
    for s in stored {
        match graph.delete_subscription(&s.subscription_id).await {
            Ok(()) => {
                let _ = store.delete_subscription(&s.subscription_id).await;
            }
            Err(e) => {
                tracing::warn!(mailbox = s.mailbox, kind = %s.kind, error = %e, "cannot delete a change-notification subscription left from an earlier configuration")
            }
        }
    }
}
