//! The watcher: every 100 ms while the tenant changed, each subscription's items are compared
//! with what it saw last, and the differences become created/updated/deleted notifications that
//! name the item, never its content.

use super::{Outgoing, Subscriptions};
use crate::server::Shared;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::time::Duration;

/// How often the watcher looks for changes.
const WATCH_EVERY: Duration = Duration::from_millis(100);

impl Subscriptions {
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
}
