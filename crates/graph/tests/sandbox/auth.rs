//! Tokens (cached, short-lived, revoked), certificate credentials (PEM PS256 and RS256,
//! PFX, unregistered), each AADSTS failure with its `check` line, `check` on a healthy tenant
//! and with each kind of failure, and the TLS sandbox's CA.

use std::sync::Arc;
use std::time::Duration;

use gc_graph::diagnose::{CheckStatus, all_ok};
use gc_graph::{
    AssertionAlgorithm, AuthCause, CertificateCredential, Credential, ErrorKind, GraphClient,
    Permission, diagnose,
};
use gc_sandbox::SandboxOptions;
use secrecy::SecretString;

use super::{client, mailbox, options, start};

#[tokio::test]
async fn token_is_cached_and_carries_the_granted_roles() {
    let sb = start(SandboxOptions::default()).await;
    let c = client(&sb);
    let before = jiff::Timestamp::now();
    let t1 = c.access_token().await.unwrap();
    let after = jiff::Timestamp::now();
    let t2 = c.access_token().await.unwrap();
    assert_eq!(t1.expose(), t2.expose());
    assert_eq!(c.tokens().fetch_count(), 1);
    let roles = t1.roles.clone().unwrap();
    for p in Permission::REQUIRED {
        assert!(p.granted_by(&roles), "{p} granted by default: {roles:?}");
    }
    // Entra's lifetime (3599 s), counted from the fetch
    let lifetime = jiff::SignedDuration::from_secs(3599);
    assert!(t1.expires_on >= before + lifetime && t1.expires_on <= after + lifetime);
    let me = mailbox(&sb);
    c.get_user(&me).await.unwrap();
    c.get_user(&me).await.unwrap();
    assert_eq!(c.tokens().fetch_count(), 1, "one token for several calls");
}

#[tokio::test]
async fn short_lived_and_revoked_tokens_are_replaced() {
    let sb = start(SandboxOptions {
        token_lifetime: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let c = client(&sb);
    let me = mailbox(&sb);
    c.get_user(&me).await.unwrap();
    let fetched = c.tokens().fetch_count();
    assert!(fetched >= 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The replacement is long-lived, so that it cannot expire again in flight on a slow
    // machine: exactly one more fetch.
    sb.state()
        .auth()
        .set_token_lifetime(Duration::from_secs(3599));
    c.get_user(&me).await.unwrap();
    assert_eq!(
        c.tokens().fetch_count(),
        fetched + 1,
        "expired token refreshed before use"
    );
    c.get_user(&me).await.unwrap();
    let before = c.tokens().fetch_count();
    sb.state().auth().revoke_tokens();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.get_user(&me).await.unwrap();
    assert_eq!(
        c.tokens().fetch_count(),
        before + 1,
        "a 401 replaces the revoked token once"
    );
}

#[tokio::test]
async fn certificate_credentials_pem_rs256_and_pfx() {
    let sb = start(SandboxOptions::default()).await;
    let (cert, key) = gc_sandbox::demo_client_certificate();
    let key = SecretString::from(key.to_owned());
    let me = mailbox(&sb);

    let ps = CertificateCredential::from_pem(cert.as_bytes(), &key).unwrap();
    let c = GraphClient::new(options(&sb, Credential::Certificate(Arc::new(ps)))).unwrap();
    c.get_user(&me).await.unwrap();

    let rs = CertificateCredential::from_pem(cert.as_bytes(), &key)
        .unwrap()
        .with_algorithm(AssertionAlgorithm::Rs256);
    let c = GraphClient::new(options(&sb, Credential::Certificate(Arc::new(rs)))).unwrap();
    c.get_user(&me).await.unwrap();

    // A certificate that is not registered is refused with a certificate cause.
    let pfx = CertificateCredential::from_pfx(
        include_bytes!("../fixtures/test.pfx"),
        &SecretString::from("test-password"),
    )
    .unwrap();
    let pfx = Arc::new(pfx);
    let c = GraphClient::new(options(&sb, Credential::Certificate(pfx.clone()))).unwrap();
    let err = c.get_user(&me).await.unwrap_err();
    match err.kind() {
        ErrorKind::Authentication(
            AuthCause::BadCertificateAssertion | AuthCause::CertificateNotRegistered,
        ) => {}
        other => panic!("unexpected {other:?}: {err}"),
    }
    // Once registered, the PFX works.
    sb.state()
        .auth()
        .register_certificate(include_str!("../fixtures/test-cert.pem"))
        .unwrap();
    let c = GraphClient::new(options(&sb, Credential::Certificate(pfx))).unwrap();
    c.get_user(&me).await.unwrap();
}

#[tokio::test]
async fn each_aadsts_failure_names_its_cause() {
    let sb = start(SandboxOptions::default()).await;
    type Switch = fn(&gc_sandbox::AuthControl<'_>, bool);
    let table: [(Switch, AuthCause, &str, &str); 4] = [
        (
            |a, on| a.set_secret_expired(on),
            AuthCause::ExpiredSecret,
            "client secret has expired",
            "create a new client secret",
        ),
        (
            |a, on| a.set_secret_invalid(on),
            AuthCause::InvalidSecret,
            "client secret is wrong",
            "Value (not its Secret ID)",
        ),
        (
            |a, on| a.set_app_unknown(on),
            AuthCause::UnknownApplication,
            "no application with this client id",
            "check tenant_id and client_id",
        ),
        (
            |a, on| a.set_tenant_unknown(on),
            AuthCause::UnknownTenant,
            "tenant id or domain does not exist",
            "check tenant_id",
        ),
    ];
    for (switch, cause, text, fix) in table {
        switch(&sb.state().auth(), true);
        let c = client(&sb);
        let err = c.access_token().await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Authentication(cause.clone()),
            "{err}"
        );
        assert!(err.to_string().contains(text), "{err}");
        assert!(
            !err.to_string().contains(&sb.credentials().client_secret),
            "secret never in errors"
        );
        let report = diagnose(&c, Some(&mailbox(&sb))).await;
        assert_eq!(report[0].status, CheckStatus::Failed);
        assert!(
            report[0].cause.as_deref().unwrap().contains(text),
            "{:?}",
            report[0]
        );
        assert!(
            report[0].fix.as_deref().unwrap().contains(fix),
            "{:?}",
            report[0]
        );
        assert!(report[1..].iter().all(|d| d.status == CheckStatus::Skipped));
        assert!(!all_ok(&report));
        switch(&sb.state().auth(), false);
    }
    // Wrong client id in the configuration.
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.client_id = "00000000-0000-0000-0000-000000000000".into();
    let err = GraphClient::new(o)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Authentication(AuthCause::UnknownApplication)
    );
}

#[tokio::test]
async fn check_passes_on_a_healthy_tenant_and_names_each_failure() {
    let sb = start(SandboxOptions::default()).await;
    let c = client(&sb);
    let me = mailbox(&sb);
    let report = diagnose(&c, Some(&me)).await;
    for d in &report {
        assert_eq!(d.status, CheckStatus::Ok, "{d}");
    }
    assert!(all_ok(&report));
    assert!(report.iter().any(|d| d.name == "permission Mail.ReadWrite"));
    assert!(report.iter().any(|d| d.name == format!("To Do of {me}")));

    // Missing consent.
    sb.state().auth().remove_role("Calendars.ReadWrite");
    let c = client(&sb);
    let report = diagnose(&c, Some(&me)).await;
    let perm = report
        .iter()
        .find(|d| d.name == "permission Calendars.ReadWrite")
        .unwrap();
    assert_eq!(perm.status, CheckStatus::Failed);
    assert_eq!(
        perm.cause.as_deref(),
        Some("admin consent not granted for Calendars.ReadWrite")
    );
    let cal = report
        .iter()
        .find(|d| d.name == format!("calendar of {me}"))
        .unwrap();
    assert_eq!(cal.status, CheckStatus::Failed, "{cal}");
    assert!(
        cal.cause
            .as_deref()
            .unwrap()
            .contains("Calendars.ReadWrite"),
        "{cal}"
    );
    assert!(!all_ok(&report));
    sb.state().auth().reset();

    // A user without an Exchange mailbox.
    let unlicensed = sb.directory().user_without_mailbox().unwrap().email.clone();
    let report = diagnose(&client(&sb), Some(&unlicensed)).await;
    let mail = report
        .iter()
        .find(|d| d.name == format!("mail folders of {unlicensed}"))
        .unwrap();
    assert_eq!(mail.status, CheckStatus::Failed, "{mail}");
    assert!(
        mail.cause
            .as_deref()
            .unwrap()
            .contains("no Exchange Online mailbox"),
        "{mail}"
    );

    // A mailbox that does not exist.
    let report = diagnose(&client(&sb), Some("nobody@nowhere.invalid")).await;
    let user = report
        .iter()
        .find(|d| d.name == "user nobody@nowhere.invalid")
        .unwrap();
    assert_eq!(
        user.cause.as_deref(),
        Some("mailbox nobody@nowhere.invalid does not exist")
    );
}

#[tokio::test]
async fn tls_sandbox_needs_its_ca_and_works_with_it() {
    let sb = start(SandboxOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    assert!(sb.url().starts_with("https://"));
    let me = mailbox(&sb);
    // options() passes the sandbox CA as extra_ca_pem.
    client(&sb).get_user(&me).await.unwrap();
    let mut without = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    without.extra_ca_pem = None;
    without.max_retries = 1;
    let err = GraphClient::new(without)
        .unwrap()
        .get_user(&me)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}
