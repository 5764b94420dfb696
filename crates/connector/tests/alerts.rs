//! Alerts on a real SQLite store with a fake Graph side: repeated delta resets (noticed by the
//! metered store when the engine clears a cursor), secret expiry, rate limiting, delivery
//! failures and `notify_admin = false`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gc_store::{AlertDelivery, Kind, MailboxUpsert, StateStore};
use gc_sync::email::model::{MailAttachment, MailPage};
use gc_sync::ports::{ErrorClass, FolderRef, MailGraph, MailUser, Notification, PortError};
use graph_connector::daemon::alerts::Alerter;
use graph_connector::daemon::metered_store::MeteredStore;

/// Records notifications; everything else is refused.
#[derive(Default)]
struct FakeGraph {
    sent: Mutex<Vec<(String, Notification)>>,
    fail: bool,
}

fn refused<T>() -> Result<T, PortError> {
    Err(PortError::new(ErrorClass::Item, "not used in this test"))
}

#[async_trait]
impl MailGraph for FakeGraph {
    async fn find_user(&self, _: &str) -> Result<Option<MailUser>, PortError> {
        refused()
    }
    async fn folder(&self, _: &str, _: &str, _: bool) -> Result<Option<FolderRef>, PortError> {
        refused()
    }
    async fn child_folder(&self, _: &str, _: &str, _: &str) -> Result<FolderRef, PortError> {
        refused()
    }
    async fn delta_page(&self, _: &str, _: &str, _: Option<&str>) -> Result<MailPage, PortError> {
        refused()
    }
    async fn mime(&self, _: &str, _: &str) -> Result<Vec<u8>, PortError> {
        refused()
    }
    async fn attachments(&self, _: &str, _: &str) -> Result<Vec<MailAttachment>, PortError> {
        refused()
    }
    async fn move_to(&self, _: &str, _: &str, _: &str) -> Result<(), PortError> {
        refused()
    }
    async fn set_categories(&self, _: &str, _: &str, _: &[String]) -> Result<(), PortError> {
        refused()
    }
    async fn notify(&self, mailbox: &str, note: &Notification) -> Result<(), PortError> {
        if self.fail {
            return Err(PortError::new(
                ErrorClass::Mailbox,
                "ErrorAccessDenied: Mail.Send not granted",
            ));
        }
        self.sent
            .lock()
            .unwrap()
            .push((mailbox.to_owned(), note.clone()));
        Ok(())
    }
}

async fn store() -> (tempfile::TempDir, Arc<dyn StateStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = gc_store::open(&url).await.unwrap();
    store
        .upsert_mailbox(&MailboxUpsert {
            rep_id: "r1".into(),
            address: "anna@contoso.example".into(),
            graph_user_id: None,
            enabled: true,
        })
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn repeated_delta_resets_raise_one_alert() {
    let (_dir, inner) = store().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let store: Arc<dyn StateStore> = Arc::new(MeteredStore::new(inner, Some(tx)));
    let graph = Arc::new(FakeGraph::default());
    let alerts = Alerter::new(
        store.clone(),
        graph.clone(),
        "admin@contoso.example".into(),
        true,
        Duration::from_secs(3600),
        3,
    );
    // The engine clears a cursor when Graph says the delta expired: the store notices.
    for _ in 0..5 {
        store
            .clear_cursor("r1", Kind::Email, "folder-1")
            .await
            .unwrap();
        let (mailbox, kind) = rx.recv().await.unwrap();
        alerts
            .delta_reset(&mailbox, "anna@contoso.example", kind)
            .await;
    }
    let sent = graph.sent.lock().unwrap().clone();
    assert_eq!(
        sent.len(),
        1,
        "the third reset alerts, later ones are rate-limited"
    );
    assert_eq!(sent[0].0, "admin@contoso.example");
    assert!(
        sent[0].1.subject.contains("anna@contoso.example"),
        "{:?}",
        sent[0].1
    );
    assert!(sent[0].1.html.contains("3 times"), "{}", sent[0].1.html);
    let listed = store.list_alerts(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, "delta_resets");
    assert_eq!(listed[0].mailbox.as_deref(), Some("r1"));
    assert_eq!(listed[0].delivery, AlertDelivery::Sent);
}

#[tokio::test]
async fn secret_expiry_delivery_failure_and_notify_off() {
    let (_dir, store) = store().await;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 10);
    // Delivery fails: recorded with the reason.
    let failing = Arc::new(FakeGraph {
        fail: true,
        ..Default::default()
    });
    let alerts = Alerter::new(
        store.clone(),
        failing,
        "admin@contoso.example".into(),
        true,
        Duration::from_secs(3600),
        3,
    );
    alerts.credential_expiry("client secret", expires, 9).await;
    let a = &store.list_alerts(10).await.unwrap()[0];
    assert_eq!(a.kind, "client_secret_expiry");
    assert!(a.subject.contains("expires in 9 day(s)"), "{}", a.subject);
    assert_eq!(a.delivery, AlertDelivery::Failed);
    assert!(a.delivery_error.as_deref().unwrap().contains("Mail.Send"));

    // notify_admin = false: listed, not sent.
    let graph = Arc::new(FakeGraph::default());
    let quiet = Alerter::new(
        store.clone(),
        graph.clone(),
        "admin@contoso.example".into(),
        false,
        Duration::from_secs(3600),
        3,
    );
    quiet
        .tenant_error("AADSTS7000222: the client secret expired")
        .await;
    assert!(graph.sent.lock().unwrap().is_empty());
    let listed = store.list_alerts(10).await.unwrap();
    assert_eq!(listed[0].kind, "tenant_error");
    assert_eq!(listed[0].delivery, AlertDelivery::Disabled);
    assert!(listed[0].body.contains("AADSTS7000222"));
}
