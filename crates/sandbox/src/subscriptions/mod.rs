//! Change notifications: the `/subscriptions` resource and their delivery.
//!
//! Written from Microsoft's "Set up notifications for changes in resource data" and the
//! `subscription` resource reference (not from the connector's client):
//!
//! - `POST /subscriptions` validates the `notificationUrl` (and a distinct
//!   `lifecycleNotificationUrl`) first: a POST of `?validationToken=…` that must answer 200 with
//!   the token as `text/plain` within 10 seconds, or the subscription is refused (400).
//! - Supported resources: `users/{id}/mailFolders('{folder}')/messages`, `users/{id}/events`
//!   (also `…/calendar/events`), `users/{id}/contacts` (every contact of the mailbox),
//!   `users/{id}/contactFolders/{folder}/contacts`, `users/{id}/todo/lists/{list}/tasks`.
//!   Expiry at most 10,080 minutes ahead (4,230 for To Do tasks); `PATCH` renews, `DELETE`
//!   removes; an expired subscription stops notifying and is removed.
//! - A watcher compares each subscription's items (id → change sequence) every 100 ms while
//!   the tenant changed, and POSTs `{"value": [...]}` with one entry per created, updated or
//!   deleted item (`subscriptionId`, `changeType`, `resource`, `resourceData`, `clientState`,
//!   `tenantId`), as Graph sends them: a notification names the item, never its content.
//! - Lifecycle events (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) are sent to
//!   the `lifecycleNotificationUrl` when the control API asks (`subscriptionRemoved` removes
//!   the subscription first); as in Graph, `subscriptionRemoved` and `missed` exist for
//!   Outlook messages, events and contacts only, not for To Do tasks.
//! - The control API can drop the next N notifications and delay every delivery, to test a
//!   receiver's safety net.

mod delivery;
mod endpoint;
mod scope;
mod validation;
mod watcher;

use crate::server::Shared;
use delivery::Outgoing;
use jiff::Timestamp;
use scope::Scope;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub(crate) use endpoint::handle;

/// One subscription.
#[derive(Debug, Clone)]
struct Sub {
    id: String,
    resource: String,
    scope: Scope,
    change_types: Vec<String>,
    notification_url: String,
    lifecycle_url: Option<String>,
    client_state: Option<String>,
    expires: Timestamp,
    immutable: bool,
    /// The items as last compared; `None` until the watcher first looked.
    seen: Option<HashMap<String, u64>>,
}

impl Sub {
    fn render(&self) -> Value {
        json!({
            "id": self.id,
            "resource": self.resource,
            "changeType": self.change_types.join(","),
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "clientState": self.client_state,
            "expirationDateTime": crate::store::ts(self.expires),
            "applicationId": Value::Null,
            "latestSupportedTlsVersion": "v1_2",
        })
    }
}

/// The drop and delay switches and what happened to deliveries.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationKnobs {
    /// Notifications still to be dropped (not sent at all).
    pub drop_next: u32,
    /// Delay before each delivery.
    pub delay_ms: u64,
    /// Notifications delivered (2xx from the receiver).
    pub delivered: u64,
    /// Notifications dropped by `drop_next`.
    pub dropped: u64,
    /// Deliveries the receiver refused or did not answer (after the retries).
    pub failed: u64,
    /// Validation requests sent.
    pub validations: u64,
}

#[derive(Default)]
struct State {
    subs: BTreeMap<String, Sub>,
    knobs: NotificationKnobs,
    /// The tenant's change sequence when the watcher last compared.
    last_seq: u64,
}

/// The subscriptions of a sandbox.
pub(crate) struct Subscriptions {
    state: Mutex<State>,
    http: reqwest::Client,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Subscriptions {
            state: Mutex::new(State::default()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The switches and counters (`GET /_sandbox/notifications`).
    pub fn knobs(&self) -> NotificationKnobs {
        self.lock().knobs
    }

    /// Set the switches (`POST /_sandbox/notifications`).
    pub fn set_knobs(&self, drop_next: Option<u32>, delay_ms: Option<u64>) -> NotificationKnobs {
        let mut s = self.lock();
        if let Some(n) = drop_next {
            s.knobs.drop_next = n;
        }
        if let Some(d) = delay_ms {
            s.knobs.delay_ms = d;
        }
        s.knobs
    }

    /// Every subscription as Graph renders it (`GET /_sandbox/subscriptions`).
    pub fn list(&self) -> Vec<Value> {
        self.lock().subs.values().map(Sub::render).collect()
    }

    /// Send a lifecycle event for subscription `id` (`subscriptionRemoved` removes it first).
    /// `Err` when there is no such subscription or it has no lifecycle URL.
    pub async fn lifecycle(&self, shared: &Shared, id: &str, event: &str) -> Result<(), String> {
        let out = {
            let mut s = self.lock();
            let sub = s
                .subs
                .get(id)
                .cloned()
                .ok_or_else(|| format!("no subscription {id}"))?;
            let url = sub
                .lifecycle_url
                .clone()
                .ok_or_else(|| format!("subscription {id} has no lifecycleNotificationUrl"))?;
            // Graph sends these two for Outlook messages, events and contacts only.
            if matches!(sub.scope, Scope::Tasks { .. })
                && ["subscriptionRemoved", "missed"].contains(&event)
            {
                return Err(format!(
                    "Graph sends no {event} for To Do tasks (subscription {id})"
                ));
            }
            if event == "subscriptionRemoved" {
                s.subs.remove(id);
            }
            Outgoing {
                url,
                body: json!({"value": [{
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": crate::store::ts(sub.expires),
                    "tenantId": shared.creds.tenant_id,
                    "clientState": sub.client_state,
                    "lifecycleEvent": event,
                }]}),
            }
        };
        self.send(out).await;
        Ok(())
    }
}
