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

use crate::error::{GResult, GraphError};
use crate::graph::{Req, Resp};
use crate::server::Shared;
use crate::store::Tenant;
use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Longest lifetime of a subscription to Outlook messages, events and contacts (minutes).
const OUTLOOK_MAX_MINUTES: i64 = 10_080;
/// Longest lifetime of a subscription to To Do tasks (minutes).
const TODO_MAX_MINUTES: i64 = 4_230;
/// How long the validation request may take.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the watcher looks for changes.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// What a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Messages { user: String, folder: String },
    Events { user: String },
    Contacts { user: String },
    ContactFolder { user: String, folder: String },
    Tasks { user: String, list: String },
}

impl Scope {
    fn parse(resource: &str) -> Option<Scope> {
        let segs = crate::graph::split_path(resource);
        let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = l.iter().map(String::as_str).collect();
        let user = segs.get(1).cloned()?;
        match l.as_slice() {
            ["users", _, "mailfolders", _, "messages"] => Some(Scope::Messages {
                user,
                folder: segs[3].clone(),
            }),
            ["users", _, "events"] | ["users", _, "calendar", "events"] => {
                Some(Scope::Events { user })
            }
            ["users", _, "contacts"] => Some(Scope::Contacts { user }),
            ["users", _, "contactfolders", _, "contacts"] => Some(Scope::ContactFolder {
                user,
                folder: segs[3].clone(),
            }),
            ["users", _, "todo", "lists", _, "tasks"] => Some(Scope::Tasks {
                user,
                list: segs[4].clone(),
            }),
            _ => None,
        }
    }

    fn user(&self) -> &str {
        match self {
            Scope::Messages { user, .. }
            | Scope::Events { user }
            | Scope::Contacts { user }
            | Scope::ContactFolder { user, .. }
            | Scope::Tasks { user, .. } => user,
        }
    }

    fn max_minutes(&self) -> i64 {
        match self {
            Scope::Tasks { .. } => TODO_MAX_MINUTES,
            _ => OUTLOOK_MAX_MINUTES,
        }
    }

    /// `(@odata.type, resource path segment)` of the items.
    fn item_type(&self) -> (&'static str, &'static str) {
        match self {
            Scope::Messages { .. } => ("#Microsoft.Graph.Message", "Messages"),
            Scope::Events { .. } => ("#Microsoft.Graph.Event", "Events"),
            Scope::Contacts { .. } | Scope::ContactFolder { .. } => {
                ("#Microsoft.Graph.Contact", "Contacts")
            }
            Scope::Tasks { .. } => ("#Microsoft.Graph.todoTask", "Tasks"),
        }
    }

    /// The items in scope now: id → change sequence. `None` when the mailbox, folder or list
    /// no longer exists.
    fn snapshot(&self, t: &Tenant, immutable: bool) -> Option<HashMap<String, u64>> {
        let u = t.user_index(self.user())?;
        let user = &t.users[u];
        if user.deleted {
            return None;
        }
        let mbx = user.mailbox.as_ref()?;
        let id = |imm: &str, rest: &str| if immutable { imm } else { rest }.to_owned();
        Some(match self {
            Scope::Messages { folder, .. } => {
                let folder = &mbx.folders[mbx.folder_index(folder)?].id;
                mbx.messages
                    .values()
                    .filter(|m| &m.folder == folder)
                    .map(|m| (id(&m.imm, &m.rest), m.seq))
                    .collect()
            }
            Scope::Events { .. } => mbx
                .events
                .values()
                .map(|e| {
                    let seq = e.exceptions.values().map(|x| x.seq).fold(e.seq, u64::max);
                    (id(&e.imm, &e.rest), seq)
                })
                .collect(),
            // "Changes to all personal contacts in a user's mailbox."
            Scope::Contacts { .. } => mbx
                .contacts
                .values()
                .map(|c| (id(&c.imm, &c.rest), c.seq))
                .collect(),
            // "Changes to contacts in a user's contactFolder" (that folder's own contacts).
            Scope::ContactFolder { folder, .. } => {
                let folder = mbx.contact_folders.iter().find(|f| f.id == *folder)?;
                mbx.contacts
                    .values()
                    .filter(|c| c.folder == folder.id)
                    .map(|c| (id(&c.imm, &c.rest), c.seq))
                    .collect()
            }
            Scope::Tasks { list, .. } => {
                let list = mbx
                    .todo_lists
                    .iter()
                    .find(|l| l.id == *list || l.well_known.eq_ignore_ascii_case(list))?;
                mbx.tasks
                    .values()
                    .filter(|x| x.list == list.id)
                    .map(|x| (x.id.clone(), x.seq))
                    .collect()
            }
        })
    }
}

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

/// One notification to send.
struct Outgoing {
    url: String,
    body: Value,
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

    /// The watcher: compares and delivers until the runtime ends.
    pub async fn watch(shared: std::sync::Arc<Shared>) {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let out = shared.subscriptions.compare(&shared);
            for o in out {
                let shared = shared.clone();
                tokio::spawn(async move { shared.subscriptions.deliver(o).await });
            }
        }
    }

    /// What changed since the last comparison, as notifications to send.
    fn compare(&self, shared: &Shared) -> Vec<Outgoing> {
        let now = Timestamp::now();
        let mut s = self.lock();
        s.subs.retain(|_, sub| sub.expires > now);
        let fresh = s.subs.values().any(|sub| sub.seen.is_none());
        if s.subs.is_empty() {
            return Vec::new();
        }
        let t = shared.lock_tenant();
        if t.seq == s.last_seq && !fresh {
            return Vec::new();
        }
        s.last_seq = t.seq;
        let mut out = Vec::new();
        for sub in s.subs.values_mut() {
            let now_items = sub.scope.snapshot(&t, sub.immutable).unwrap_or_default();
            let Some(before) = sub.seen.replace(now_items.clone()) else {
                continue;
            };
            let mut changes: Vec<(&str, &String)> = Vec::new();
            for (id, seq) in &now_items {
                match before.get(id) {
                    None => changes.push(("created", id)),
                    Some(old) if old != seq => changes.push(("updated", id)),
                    Some(_) => {}
                }
            }
            for id in before.keys().filter(|id| !now_items.contains_key(*id)) {
                changes.push(("deleted", id));
            }
            let (odata_type, segment) = sub.scope.item_type();
            let value: Vec<Value> = changes
                .into_iter()
                .filter(|(c, _)| sub.change_types.iter().any(|t| t == c))
                .map(|(change, id)| {
                    let resource = format!("Users/{}/{segment}/{id}", sub.scope.user());
                    json!({
                        "subscriptionId": sub.id,
                        "subscriptionExpirationDateTime": crate::store::ts(sub.expires),
                        "changeType": change,
                        "resource": resource,
                        "resourceData": {
                            "@odata.type": odata_type,
                            "@odata.id": resource,
                            "id": id,
                        },
                        "clientState": sub.client_state,
                        "tenantId": shared.creds.tenant_id,
                    })
                })
                .collect();
            if !value.is_empty() {
                out.push(Outgoing {
                    url: sub.notification_url.clone(),
                    body: json!({ "value": value }),
                });
            }
        }
        out
    }

    /// Drop, delay, then POST one notification (retried twice, as Graph retries a failing
    /// endpoint, only more briefly).
    async fn deliver(&self, o: Outgoing) {
        let delay = {
            let mut s = self.lock();
            if s.knobs.drop_next > 0 {
                s.knobs.drop_next -= 1;
                s.knobs.dropped += 1;
                return;
            }
            s.knobs.delay_ms
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.send(o).await;
    }

    async fn send(&self, o: Outgoing) {
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            let sent = self
                .http
                .post(&o.url)
                .json(&o.body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                self.lock().knobs.delivered += 1;
                return;
            }
        }
        self.lock().knobs.failed += 1;
        tracing::warn!(url = %o.url, "sandbox: the notification endpoint did not accept a notification");
    }

    /// The validation handshake: POST `?validationToken=…`, expect 200 and the token as
    /// `text/plain` within 10 s.
    async fn validate(&self, url: &str) -> GResult<()> {
        self.lock().knobs.validations += 1;
        let token = format!(
            "Validation: Testing client application reachability for subscription Request-Id: {}",
            uuid::Uuid::new_v4()
        );
        let failed = |why: String| {
            GraphError::bad_request(
                "ValidationError",
                format!(
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. ({why})"
                ),
            )
        };
        let resp = self
            .http
            .post(url)
            .query(&[("validationToken", token.as_str())])
            .header("content-type", "text/plain; charset=utf-8")
            .timeout(VALIDATION_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(format!("{url}: {e}")))?;
        if resp.status() != StatusCode::OK {
            return Err(failed(format!("{url} answered {}", resp.status())));
        }
        let plain = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
        let body = resp.text().await.unwrap_or_default();
        if !plain || body != token {
            return Err(failed(format!(
                "{url} did not echo the validation token as text/plain"
            )));
        }
        Ok(())
    }
}

/// `/v1.0/subscriptions[/{id}]`.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> GResult<Resp> {
    let id = req.segs.get(1).cloned();
    let subs = &shared.subscriptions;
    match (&req.method, id) {
        (m, None) if *m == Method::POST => create(shared, req).await,
        (m, None) if *m == Method::GET => {
            let value = subs.list();
            Ok(Resp::ok(json!({
                "@odata.context": format!("{}/v1.0/$metadata#subscriptions", shared.base_url),
                "value": value,
            })))
        }
        (m, Some(id)) if *m == Method::GET => subs
            .lock()
            .subs
            .get(&id)
            .map(|s| Resp::ok(s.render()))
            .ok_or_else(|| not_found(&id)),
        (m, Some(id)) if *m == Method::PATCH => {
            let body = req.json()?;
            let mut s = subs.lock();
            let sub = s.subs.get_mut(&id).ok_or_else(|| not_found(&id))?;
            if let Some(v) = body.get("expirationDateTime") {
                sub.expires = expiry(v, &sub.scope)?;
            }
            Ok(Resp::ok(sub.render()))
        }
        (m, Some(id)) if *m == Method::DELETE => subs
            .lock()
            .subs
            .remove(&id)
            .map(|_| Resp::no_content())
            .ok_or_else(|| not_found(&id)),
        _ => Err(GraphError::no_route(req.method.as_str(), &req.path)),
    }
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The object was not found. Subscription {id}"),
    )
}

/// A requested `expirationDateTime`, within the resource's limits.
fn expiry(v: &Value, scope: &Scope) -> GResult<Timestamp> {
    let bad = |m: String| GraphError::bad_request("InvalidRequest", m);
    let at: Timestamp = v
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("expirationDateTime is not a date-time.".to_owned()))?;
    let now = Timestamp::now();
    if at <= now {
        return Err(bad(
            "Subscription expiration can only be in the future.".to_owned()
        ));
    }
    let max = scope.max_minutes();
    if at > now + SignedDuration::from_mins(max) {
        return Err(bad(format!(
            "Subscription expiration can only be {max} minutes in the future."
        )));
    }
    Ok(at)
}

async fn create(shared: &Shared, req: &Req) -> GResult<Resp> {
    let body = req.json()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let bad = |m: &str| GraphError::bad_request("InvalidRequest", m.to_owned());
    let resource = text("resource").ok_or_else(|| bad("resource is required."))?;
    let scope = Scope::parse(&resource).ok_or_else(|| {
        GraphError::bad_request(
            "ExtensionError",
            format!("Operation: Create; Exception: [Status Code: BadRequest; Reason: The resource '{resource}' is not supported for subscriptions in this sandbox.]"),
        )
    })?;
    let notification_url =
        text("notificationUrl").ok_or_else(|| bad("notificationUrl is required."))?;
    let change_types: Vec<String> = text("changeType")
        .ok_or_else(|| bad("changeType is required."))?
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    if change_types
        .iter()
        .any(|c| !["created", "updated", "deleted"].contains(&c.as_str()))
    {
        return Err(bad("changeType must be created, updated and/or deleted."));
    }
    let expires = expiry(
        body.get("expirationDateTime").unwrap_or(&Value::Null),
        &scope,
    )?;
    let client_state = text("clientState");
    if client_state.as_ref().is_some_and(|c| c.len() > 128) {
        return Err(bad("clientState must be at most 128 characters."));
    }
    let lifecycle_url = text("lifecycleNotificationUrl");
    {
        let mut t = shared.lock_tenant();
        t.materialize_key(scope.user());
        if scope.snapshot(&t, false).is_none() {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!("The resource '{resource}' was not found."),
            ));
        }
    }
    let subs = &shared.subscriptions;
    subs.validate(&notification_url).await?;
    if let Some(l) = lifecycle_url.as_deref().filter(|l| *l != notification_url) {
        subs.validate(l).await?;
    }
    let sub = Sub {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        scope,
        change_types,
        notification_url,
        lifecycle_url,
        client_state,
        expires,
        immutable: req.prefer.immutable,
        seen: None,
    };
    // The items as they are now: only later changes are notified.
    let mut sub = sub;
    sub.seen = sub.scope.snapshot(&shared.lock_tenant(), sub.immutable);
    let rendered = sub.render();
    subs.lock().subs.insert(sub.id.clone(), sub);
    Ok(Resp::created(rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_into_scopes() {
        assert_eq!(
            Scope::parse("users/u1/mailFolders('AAMk=')/messages"),
            Some(Scope::Messages {
                user: "u1".into(),
                folder: "AAMk=".into()
            })
        );
        assert_eq!(
            Scope::parse("/users/u1/events"),
            Some(Scope::Events { user: "u1".into() })
        );
        assert_eq!(
            Scope::parse("users/u1/calendar/events"),
            Some(Scope::Events { user: "u1".into() })
        );
        assert_eq!(
            Scope::parse("users/u1/todo/lists/L1/tasks"),
            Some(Scope::Tasks {
                user: "u1".into(),
                list: "L1".into()
            })
        );
        assert_eq!(
            Scope::parse("/users/u1/contactFolders/F1/contacts"),
            Some(Scope::ContactFolder {
                user: "u1".into(),
                folder: "F1".into()
            })
        );
        assert_eq!(Scope::parse("users/u1/messages/x"), None);
        assert_eq!(Scope::parse("groups/g/events"), None);
    }

    #[test]
    fn expiry_is_limited_per_resource() {
        let events = Scope::Events { user: "u".into() };
        let tasks = Scope::Tasks {
            user: "u".into(),
            list: "l".into(),
        };
        let at = |mins: i64| {
            json!(crate::store::ts(
                Timestamp::now() + SignedDuration::from_mins(mins)
            ))
        };
        assert!(expiry(&at(10_000), &events).is_ok());
        assert!(expiry(&at(10_000), &tasks).is_err());
        assert!(expiry(&at(-1), &events).is_err());
        assert!(expiry(&json!("soon"), &events).is_err());
    }
}
