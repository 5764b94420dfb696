//! A CRM.interface with other names than the defaults (the sandbox served with a dialect):
//! the probe names every key to set, a wrong name is a configuration error (not an item's),
//! and with the matching `Dialect` every command works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use gc_crm::probe::{self, Kinds};
use gc_crm::{
    ActivityFilter, CrmClient, CrmError, Dialect, ErrorKind, NewActivity, NewExternalKey,
    NewParticipant, ParticipantRole,
};
use gc_sandbox::crm::{CrmDialect, CrmOptions};
use jiff::civil::{date, time};

/// The installation of the issue: no `Mailbox` on external keys, catalogs through a table
/// `Catalog` with `CatalogName`, another rep flag; plus other booleans and dates.
const OTHER: &str = r#"
true_value = "1"
false_value = "0"
date_format = "%d.%m.%Y"
[external_key]
mailbox = ""
[catalog]
table = "Catalog"
catalog = "CatalogName"
[rep]
connector_enabled = "EnableConnector"
[activity]
subject = "Betreff"
"#;

async fn other_env() -> Env {
    env_with(CrmOptions {
        password: PASSWORD.into(),
        seed: 7,
        dialect: CrmDialect::parse(OTHER).unwrap(),
        ..CrmOptions::default()
    })
    .await
}

fn client_with(env: &Env, dialect: Dialect) -> CrmClient {
    let mut cfg = client(env).config().clone();
    cfg.dialect = dialect;
    CrmClient::new(cfg).unwrap()
}

fn matching() -> Dialect {
    toml::from_str(OTHER).unwrap()
}

#[tokio::test]
async fn the_probe_names_every_key_to_set() {
    let env = other_env().await;
    let c = client(&env);
    let findings = probe::preflight(&c, Kinds::default(), &[]).await.unwrap();
    let origins: Vec<&str> = findings.iter().map(|f| f.origin.as_str()).collect();
    assert_eq!(
        origins,
        [
            "[crm.dialect.rep] connector_enabled",
            "[crm.dialect.activity] subject",
            "[crm.dialect.external_key] mailbox",
            "[crm.dialect.catalog] table",
        ],
        "{findings:#?}"
    );
    let mailbox = &findings[2];
    assert!(mailbox.cause.contains("\"Mailbox\""), "{mailbox:?}");
    assert!(mailbox.fix.contains("\"\""), "{mailbox:?}");
    // the catalog table is unknown: its catalogs are not read through it
    assert!(
        findings[3].cause.contains("\"CatalogValue\""),
        "{findings:?}"
    );

    // the same names in a real call: a configuration error that names the key
    let err = c.master().enabled_reps().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownName, "{err}");
    let CrmError::UnknownName { key, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(key.as_deref(), Some("[crm.dialect.rep] connector_enabled"));
    assert!(
        err.to_string()
            .contains("[crm.dialect.rep] connector_enabled")
    );
}

#[tokio::test]
async fn with_the_matching_dialect_everything_works() {
    let env = other_env().await;
    let c = client_with(&env, matching());
    let before = env.sandbox.stats().requests;
    let findings = probe::preflight(&c, Kinds::default(), &[]).await.unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    // The tables and the required catalogs in one request, in front of every mailbox.
    assert_eq!(env.sandbox.stats().requests - before, 1);
    let reps = c.master().enabled_reps().await.unwrap();
    assert!(!reps.is_empty());
    let me = rep_email(&env);
    assert!(reps.iter().any(|r| r.email.as_deref() == Some(me.as_str())));

    // an activity with participant and external key (no mailbox field in this installation)
    let s = c.as_rep(&me);
    let mut a = NewActivity::new("Meeting", "Dialect check", date(2026, 11, 30));
    a.time = Some(time(9, 30, 0, 0));
    a.participants.push(NewParticipant {
        role: ParticipantRole::Required,
        email: me.clone(),
        person: None,
        rep: Some(reps[0].id),
        status: None,
    });
    a.external_key = Some(NewExternalKey {
        ext_system: None,
        content_type: "text/x-vevent".into(),
        ext_key: "dialect-key-1".into(),
        mailbox: Some(me.clone()),
    });
    let id = s.insert_activity(&a).await.unwrap();
    let stored = env.sandbox.record(id.get()).await.unwrap().unwrap();
    // stored under the canonical names, written with the wire's formats
    assert_eq!(stored.fields["Subject"], "Dialect check");
    assert_eq!(stored.fields["Date"], "2026-11-30");
    let got = s.activity(id).await.unwrap().unwrap();
    assert_eq!(got.get("Betreff"), Some("Dialect check"));
    assert_eq!(got.get("Date"), Some("30.11.2026"));
    assert_eq!(got.participants.len(), 1);
    let keys = s
        .find_external_keys(Some("GraphApi"), &["dialect-key-1".into()])
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].record, Some(("Contact".into(), id)));
    assert_eq!(keys[0].mailbox, None);
    let xk = env.sandbox.records("ExternalKey").await.unwrap();
    let ours = xk
        .iter()
        .find(|r| r.fields.get("ExtKey").map(String::as_str) == Some("dialect-key-1"))
        .unwrap();
    assert!(!ours.fields.contains_key("Mailbox"), "{ours:?}");

    // dates in conditions are read in the wire format too
    let window = s
        .activities(&ActivityFilter {
            from: date(2026, 11, 30),
            to: date(2026, 11, 30),
            rep_id: None,
            condition: None,
            fields: Vec::new(),
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap();
    assert!(window.iter().any(|a| a.id == id));
    let start = s.activity_start(&got).unwrap();
    assert_eq!(start, "2026-11-30T09:30:00Z".parse().unwrap());

    // catalogs through the table `Catalog`
    let missing = gc_crm::diagnose::missing_catalog_values(&c).await.unwrap();
    assert!(missing.is_empty(), "{missing:?}");
}
