//! Change-notification subscriptions (`/subscriptions`).
//!
//! A subscription asks Graph to POST a notification to the connector's endpoint when items of
//! one resource change (messages of a mail folder, events, contacts, To Do tasks). Graph
//! validates the endpoint while the create request waits (the endpoint must echo a
//! `validationToken` within 10 s), so creating one takes as long as that round trip. A
//! subscription expires (at most 10,080 minutes for Outlook resources, 4,230 for To Do
//! tasks) and is renewed by `PATCH`ing its `expirationDateTime`, which also reauthorizes it.

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{GraphClient, seg};
use crate::error::{GraphError, ResourceKind};

/// The longest lifetime Graph grants a subscription to Outlook messages, events and contacts.
pub const OUTLOOK_MAX_MINUTES: i64 = 10_080;
/// The longest lifetime Graph grants a subscription to To Do tasks.
pub const TODO_MAX_MINUTES: i64 = 4_230;

/// A subscription to create. `client_state` is the secret Graph sends back with every
/// notification so the receiver can tell Graph's notifications from forged ones: it is never
/// shown by `Debug`.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscription {
    /// `created,updated,deleted` or a part of it.
    pub change_type: String,
    /// Where Graph POSTs notifications (HTTPS in Microsoft 365).
    pub notification_url: String,
    /// Where Graph POSTs lifecycle events (`reauthorizationRequired`, `subscriptionRemoved`,
    /// `missed`).
    pub lifecycle_notification_url: String,
    /// The watched resource, e.g. `users/{id}/mailFolders('{folder}')/messages`.
    pub resource: String,
    /// When it expires (Graph's format, UTC).
    #[serde(serialize_with = "utc")]
    pub expiration_date_time: Timestamp,
    /// The shared secret (at most 128 characters).
    pub client_state: String,
}

impl std::fmt::Debug for NewSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSubscription")
            .field("change_type", &self.change_type)
            .field("notification_url", &self.notification_url)
            .field("resource", &self.resource)
            .field("expiration_date_time", &self.expiration_date_time)
            .field("client_state", &"<redacted>")
            .finish()
    }
}

fn utc<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A subscription as Graph answers it (its `clientState` is not kept here: the caller has it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Graph's id of the subscription.
    pub id: String,
    /// The watched resource.
    #[serde(default)]
    pub resource: String,
    /// When it expires.
    pub expiration_date_time: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Renewal {
    #[serde(serialize_with = "utc")]
    expiration_date_time: Timestamp,
}

impl GraphClient {
    /// Create a subscription (Graph validates the notification endpoint meanwhile). Not
    /// repeated on a lost answer: a repeat would create a second subscription.
    pub async fn create_subscription(
        &self,
        new: &NewSubscription,
    ) -> Result<Subscription, GraphError> {
        self.send_json(
            Method::POST,
            None,
            ResourceKind::Other,
            "/subscriptions",
            new,
            false,
        )
        .await
    }

    /// Move a subscription's expiry to `until` (renews and reauthorizes it). A 404 means
    /// Graph removed it: create a new one.
    pub async fn renew_subscription(
        &self,
        id: &str,
        until: Timestamp,
    ) -> Result<Subscription, GraphError> {
        self.send_json(
            Method::PATCH,
            None,
            ResourceKind::Other,
            &format!("/subscriptions/{}", seg(id)),
            &Renewal {
                expiration_date_time: until,
            },
            true,
        )
        .await
    }

    /// Delete a subscription; one that is gone already counts as deleted.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), GraphError> {
        match self
            .delete(
                None,
                ResourceKind::Other,
                &format!("/subscriptions/{}", seg(id)),
            )
            .await
        {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_body_has_graphs_names_and_debug_hides_the_secret() {
        let new = NewSubscription {
            change_type: "created,updated,deleted".into(),
            notification_url: "https://crm.example/graph/notifications".into(),
            lifecycle_notification_url: "https://crm.example/graph/lifecycle".into(),
            resource: "users/u1/events".into(),
            expiration_date_time: "2030-01-02T03:04:05Z".parse().unwrap(),
            client_state: "s3cret-state".into(),
        };
        let v = serde_json::to_value(&new).unwrap();
        assert_eq!(v["expirationDateTime"], "2030-01-02T03:04:05Z");
        assert_eq!(v["clientState"], "s3cret-state");
        assert_eq!(
            v["lifecycleNotificationUrl"],
            "https://crm.example/graph/lifecycle"
        );
        assert!(!format!("{new:?}").contains("s3cret"));
    }

    #[test]
    fn an_answer_decodes() {
        let s: Subscription = serde_json::from_value(serde_json::json!({
            "id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
            "resource": "users/u1/events",
            "changeType": "created",
            "clientState": "x",
            "expirationDateTime": "2030-01-02T03:04:05.1234567Z"
        }))
        .unwrap();
        assert_eq!(s.id, "7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
        assert_eq!(s.expiration_date_time.as_second(), 1_893_553_445);
    }
}
