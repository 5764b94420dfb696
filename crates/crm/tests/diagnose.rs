//! `check` (CRM part) against the CRM sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use gc_crm::diagnose::{DiagnoseOptions, MailboxState, Status, missing_catalog_values};
use gc_crm::{Forms, diagnose, fix_catalogs, rep_mailbox_diagnostics};
use gc_sandbox::crm::CrmOptions;

fn forms() -> Forms {
    Forms::parse(include_str!("fixtures/forms.xml")).unwrap()
}

#[tokio::test]
async fn healthy_installation_passes() {
    let env = env().await;
    let c = client(&env);
    let f = forms();
    let report = diagnose(&c, Some(&f), &DiagnoseOptions::default()).await;
    for d in &report.checks {
        assert_eq!(d.status, Status::Ok, "{d:?}");
    }
    assert!(report.ok());
    assert!(!report.enabled_reps.is_empty());
    assert!(report.get("crm.forms").unwrap().cause.contains("line 8"));
    assert!(
        report
            .get("crm.impersonation")
            .unwrap()
            .cause
            .contains("can act for")
    );
}

#[tokio::test]
async fn missing_catalog_value_is_named_and_fixed() {
    let env = env_with(CrmOptions {
        password: PASSWORD.into(),
        seed: 7,
        omit_required_catalog_values: true,
        ..CrmOptions::default()
    })
    .await;
    let c = client(&env);
    let report = diagnose(&c, Some(&forms()), &DiagnoseOptions::default()).await;
    let cat = report.get("crm.catalogs").unwrap();
    assert_eq!(cat.status, Status::Failed);
    assert!(cat.cause.contains("text/x-mmTasks"), "{}", cat.cause);
    assert!(
        cat.cause.contains("\"Ext. System (Rep)\": GraphApi"),
        "{}",
        cat.cause
    );
    assert!(cat.fix.contains("--fix-catalogs"));
    assert!(!report.ok());
    // the other checks still pass
    assert_eq!(report.get("crm.login").unwrap().status, Status::Ok);

    let added = fix_catalogs(&c).await.unwrap();
    assert_eq!(added.len(), 2);
    assert!(missing_catalog_values(&c).await.unwrap().is_empty());
    let report = diagnose(&c, Some(&forms()), &DiagnoseOptions::default()).await;
    assert!(report.ok(), "{:?}", report.checks);

    // removing values at run time (control switch) is detected too
    env.sandbox.remove_required_catalog_values().await.unwrap();
    let report = diagnose(&c, None, &DiagnoseOptions::default()).await;
    assert_eq!(report.get("crm.catalogs").unwrap().status, Status::Failed);
    assert_eq!(report.get("crm.forms").unwrap().status, Status::Skipped);
}

#[tokio::test]
async fn wrong_master_password_is_named() {
    let env = env().await;
    let c = client_with_password(&env, "not-the-password");
    let report = diagnose(&c, Some(&forms()), &DiagnoseOptions::default()).await;
    assert_eq!(report.get("crm.reachable").unwrap().status, Status::Ok);
    let login = report.get("crm.login").unwrap();
    assert_eq!(login.status, Status::Failed);
    assert!(
        login.cause.contains("wrong master password"),
        "{}",
        login.cause
    );
    assert!(login.fix.contains("crm.password"));
    assert!(!format!("{report:?}").contains("not-the-password"));
    assert_eq!(report.get("crm.catalogs").unwrap().status, Status::Skipped);

    // password changed on the CRM side while the connector keeps the old one
    let good = client(&env);
    env.sandbox.set_password("rotated");
    let report = diagnose(&good, None, &DiagnoseOptions::default()).await;
    assert_eq!(report.get("crm.login").unwrap().status, Status::Failed);
}

#[tokio::test]
async fn unreachable_interface_is_named() {
    let mut cfg = client(&env().await).config().clone();
    cfg.url = "http://127.0.0.1:9/crm/interface".parse().unwrap();
    cfg.retry.max_attempts = 1;
    let c = gc_crm::CrmClient::new(cfg).unwrap();
    let report = diagnose(&c, None, &DiagnoseOptions::default()).await;
    let r = report.get("crm.reachable").unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.fix.contains("crm.url"));
}

#[tokio::test]
async fn forms_without_graphapi_entry_and_impersonation_refused() {
    let env = env().await;
    let c = client(&env);
    let text = include_str!("fixtures/forms.xml").replace(
        "<masterUser client=\"GraphApi\" login=\"Principal,ClientID\">OCSU</masterUser>",
        "",
    );
    let f = Forms::parse(&text).unwrap();
    let opts = DiagnoseOptions {
        forms_path: Some("/srv/crm/Web/system/xml/forms.xml".into()),
        probe_rep: Some("ghost@contoso.example".into()),
        ..DiagnoseOptions::default()
    };
    let report = diagnose(&c, Some(&f), &opts).await;
    let fd = report.get("crm.forms").unwrap();
    assert_eq!(fd.status, Status::Failed);
    assert!(
        fd.fix.contains("<masterUser client=\"GraphApi\""),
        "{}",
        fd.fix
    );
    assert!(fd.fix.contains("/srv/crm/Web/system/xml/forms.xml"));
    let imp = report.get("crm.impersonation").unwrap();
    assert_eq!(imp.status, Status::Failed);
    assert!(imp.cause.contains("ghost@contoso.example"));
    assert!(imp.fix.contains("rep (ID)"));
}

#[tokio::test]
async fn rep_without_mailbox_and_outside_domain_are_named() {
    let env = env().await;
    let c = client(&env);
    let report = diagnose(&c, None, &DiagnoseOptions::default()).await;
    let dir = env.sandbox.directory();
    // the Microsoft 365 side (here: the sandbox directory) answers per address
    let diags = rep_mailbox_diagnostics(
        &report.enabled_reps,
        std::slice::from_ref(&dir.domain),
        |addr| match dir.find_by_email(addr) {
            Some(p) if p.has_mailbox() => MailboxState::Found,
            _ => MailboxState::NotFound,
        },
    );
    assert_eq!(diags.len(), report.enabled_reps.len());
    let mailless = dir
        .user_without_mailbox()
        .unwrap()
        .email
        .to_ascii_lowercase();
    let d = diags.iter().find(|d| d.cause.contains(&mailless)).unwrap();
    assert_eq!(d.status, Status::Failed);
    assert!(d.cause.contains("no Microsoft 365 mailbox"), "{}", d.cause);
    let outside = diags
        .iter()
        .find(|d| d.cause.contains(gc_sandbox::crm::OUTSIDE_DOMAIN))
        .unwrap();
    assert_eq!(outside.status, Status::Failed);
    assert!(outside.cause.contains("outside the managed domains"));
    assert!(diags.iter().filter(|d| d.status == Status::Ok).count() >= 2);
}
