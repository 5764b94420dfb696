//! Alerts. With a fake Graph side on a real SQLite store: repeated delta resets (noticed by
//! the metered store when the engine clears a cursor), secret expiry, rate limiting, delivery
//! failures and `notify_admin = false`. End to end (`run` on the sandbox): an excluded mailbox
//! and an expiring certificate reach the administrator's mailbox once each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gc_store::{AlertDelivery, Kind, MailboxUpsert, StateStore};
use gc_sync::ports::{ErrorClass, Notification, Notifier, PortError};
use graph_connector::daemon::alerts::Alerter;
use graph_connector::daemon::metered_store::MeteredStore;

#[cfg(unix)]
use common::Env;
#[cfg(unix)]
use common::service::{Run, eventually, free_port, http, write_toml};
#[cfg(unix)]
use gc_sandbox::SandboxOptions;
#[cfg(unix)]
use std::path::{Path, PathBuf};

/// Records notifications; everything else is refused.
#[derive(Default)]
struct FakeGraph {
    sent: Mutex<Vec<(String, Notification)>>,
    fail: bool,
}

#[async_trait]
impl Notifier for FakeGraph {
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
            .clear_cursor("r1", Kind::Email, "folder-1", &[])
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

/// A certificate valid for five more days, signed with the sandbox's demo client key.
#[cfg(unix)]
fn short_lived_certificate(dir: &Path) -> (PathBuf, String) {
    let (_, key_pem) = gc_sandbox::demo_client_certificate();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["graph-connector-test".into()]).unwrap();
    let now = std::time::SystemTime::now();
    params.not_before = (now - Duration::from_secs(86_400)).into();
    params.not_after = (now + Duration::from_secs(5 * 86_400)).into();
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join("app.pem");
    std::fs::write(&path, format!("{}\n{}", cert.pem().trim_end(), key_pem)).unwrap();
    (path, cert.pem())
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_for_an_excluded_mailbox_and_an_expiring_certificate() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, cert_pem) = short_lived_certificate(dir.path());
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 1,
            client_certificate_pem: Some(cert_pem),
            ..SandboxOptions::default()
        },
        &format!(
            "[emails]\ninterval_minutes = 0\n\n[errors]\nexclude_after_access_errors = 1\n\
             expiry_warning_days = 30\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    )
    .await;
    // Authenticate with the certificate instead of the secret.
    write_toml(&env, |t| {
        let mut out = String::new();
        for line in t.lines() {
            if line.starts_with("client_secret") {
                out.push_str(&format!(
                    "certificate = {:?}\n",
                    cert_path.display().to_string()
                ));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    });
    let admin = env.config().microsoft.admin_email.clone();
    let victim = env
        .enabled_users()
        .await
        .into_iter()
        .find(|u| *u != admin)
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut run = Run::start(&env.config_path(), &[]);
    let client = http();
    eventually("every mailbox ran", 60, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/mailboxes");
        async move {
            let rows: Vec<serde_json::Value> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            (!rows.is_empty() && rows.iter().all(|r| !r["last_run"].is_null())).then_some(())
        }
    })
    .await;
    // The mailbox goes away (licence withdrawn): the next run cannot access it.
    env.demo.sandbox.state().remove_mailbox(&victim).unwrap();
    let alerts: Vec<serde_json::Value> =
        eventually("both alerts delivered", 60, Some(&mut run), || {
            let client = client.clone();
            let url = format!("{base}/api/alerts");
            async move {
                let alerts: Vec<serde_json::Value> =
                    client.get(url).send().await.ok()?.json().await.ok()?;
                let sent = |kind: &str| {
                    alerts
                        .iter()
                        .any(|a| a["kind"] == kind && a["delivery"] == "sent")
                };
                (sent("mailbox_excluded") && sent("certificate_expiry")).then_some(alerts)
            }
        })
        .await;
    let excluded = alerts
        .iter()
        .find(|a| a["kind"] == "mailbox_excluded")
        .unwrap();
    assert!(
        excluded["subject"].as_str().unwrap().contains(&victim),
        "{excluded}"
    );
    let cert = alerts
        .iter()
        .find(|a| a["kind"] == "certificate_expiry")
        .unwrap();
    assert!(
        cert["subject"].as_str().unwrap().contains("expires in"),
        "{cert}"
    );
    // Delivered through Graph into the administrator's mailbox, once each.
    let inbox = env.demo.sandbox.state().messages(&admin, "inbox").unwrap();
    let subjects: Vec<&str> = inbox.iter().map(|m| m.subject.as_str()).collect();
    let count = |needle: &str| subjects.iter().filter(|s| s.contains(needle)).count();
    assert_eq!(count("is excluded from synchronization"), 1, "{subjects:?}");
    assert_eq!(count("the certificate expires in"), 1, "{subjects:?}");
    // Listed on the admin page; the mailbox table shows the exclusion.
    let page = client
        .get(format!("{base}/alerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("mailbox_excluded") && page.contains("certificate_expiry"));
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r["mailbox"] == victim.as_str())
        .unwrap();
    assert_eq!(row["state"], "excluded", "{row}");
    assert!(
        !row["excluded_until"].is_null() && !row["fix"].is_null(),
        "{row}"
    );
    // Rate-limited: later runs raise nothing new.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let again: Vec<serde_json::Value> = client
        .get(format!("{base}/api/alerts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.len(), alerts.len(), "{again:?}");
    let (ok, _) = run.term().await;
    assert!(ok);
}
