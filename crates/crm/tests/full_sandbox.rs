//! The CRM side as served by the complete sandbox (`gc_sandbox::start`): same listener as
//! the Microsoft 365 side, same credentials, legacy external keys pointing at real events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gc_crm::{CrmClient, CrmConfig, diagnose};
use gc_sandbox::{SandboxOptions, start};
use secrecy::SecretString;

#[tokio::test]
async fn crm_interface_on_the_sandbox_listener() {
    let sb = start(SandboxOptions {
        users: 6,
        seed: 3,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let creds = sb.credentials().clone();
    let url = format!("{}/crm/interface", sb.url());
    let cfg = CrmConfig::new(
        url.parse().unwrap(),
        creds.crm_master_user.clone(),
        SecretString::from(creds.crm_password.clone()),
    );
    let c = CrmClient::new(cfg).unwrap();
    let report = diagnose(&c, None, &gc_crm::DiagnoseOptions::default()).await;
    assert_eq!(
        report.get("crm.login").unwrap().status,
        gc_crm::Status::Ok,
        "{:?}",
        report.checks
    );
    assert_eq!(
        report.get("crm.catalogs").unwrap().status,
        gc_crm::Status::Ok
    );
    assert!(!report.enabled_reps.is_empty());

    // the legacy external keys are the iCalUIds of real events in the mailboxes
    let admin = sb.directory().admin().email.clone();
    let events = sb.state().events(&admin).unwrap();
    let icals: Vec<String> = events
        .iter()
        .map(|e| e.2.clone())
        .filter(|k| !k.is_empty())
        .collect();
    if !icals.is_empty() {
        let keys = c
            .as_rep(&admin)
            .find_external_keys(Some("SyncML"), &icals)
            .await
            .unwrap();
        assert!(
            !keys.is_empty(),
            "no legacy key matches an event of {admin}"
        );
        assert!(
            keys.iter()
                .all(|k| k.content_type == "text/x-vevent" && k.record.is_some())
        );
    }

    // control API on the same listener
    let http = reqwest::Client::new();
    let stats: serde_json::Value = http
        .get(format!("{}/_sandbox/crm/stats", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats["requests"].as_u64().unwrap() >= 4);
    let r = http
        .post(format!(
            "{}/_sandbox/crm/catalogs/remove-required",
            sb.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let report = diagnose(&c, None, &gc_crm::DiagnoseOptions::default()).await;
    assert_eq!(
        report.get("crm.catalogs").unwrap().status,
        gc_crm::Status::Failed
    );
    let reps: serde_json::Value = http
        .get(format!("{}/_sandbox/crm/records/Rep", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reps.as_array().unwrap().len() >= 6);
    sb.shutdown().await;
}
