//! Ping, login and impersonation; reps and enabled reps; persons and companies by address.

use crate::common::*;
use gc_crm::ErrorKind;

#[tokio::test]
async fn ping_login_and_impersonation() {
    let env = env().await;
    let c = client(&env);
    c.master().ping().await.unwrap();
    c.as_rep(&rep_email(&env)).ping().await.unwrap();
    // uppercase address still finds the rep
    c.as_rep(&rep_email(&env).to_uppercase())
        .ping()
        .await
        .unwrap();

    let err = client_with_password(&env, "wrong")
        .master()
        .ping()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!format!("{err:?}{err}").contains(PASSWORD));
    assert!(!format!("{:?}", client(&env)).contains(PASSWORD));

    // an address cannot smuggle in a second impersonation pair
    let err = c.as_rep("x@y;rep=Admin").ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);

    let err = c.as_rep("nobody@contoso.example").ping().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ImpersonationRefused, "{err}");
    assert!(err.to_string().contains("nobody@contoso.example"));
}

#[tokio::test]
async fn reps_and_enabled_reps() {
    let env = env().await;
    let c = client(&env);
    let all = c.master().reps().await.unwrap();
    let dir = env.sandbox.directory();
    let members = dir
        .users
        .iter()
        .filter(|p| matches!(p.kind, gc_sandbox::people::PersonKind::Member { .. }))
        .count();
    assert_eq!(
        all.len(),
        members + 1,
        "one rep per member plus the outside rep"
    );
    let enabled = c.master().enabled_reps().await.unwrap();
    assert!(enabled.len() < all.len() && !enabled.is_empty());
    assert!(
        enabled
            .iter()
            .all(|r| r.connector_enabled && r.email.is_some())
    );
    // the member without a mailbox is enabled, so `check` can report it
    let mailless = dir
        .user_without_mailbox()
        .unwrap()
        .email
        .to_ascii_lowercase();
    assert!(
        enabled
            .iter()
            .any(|r| r.email.as_deref() == Some(mailless.as_str()))
    );
    // one enabled rep outside the managed domain
    let at_domain = format!("@{}", dir.domain);
    assert!(
        enabled
            .iter()
            .any(|r| !r.email.as_deref().unwrap().ends_with(&at_domain))
    );
    // by address
    let found = c
        .master()
        .reps_by_emails(&[rep_email(&env), "x@nowhere.example".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(!found[0].rep_id.is_empty());
}

#[tokio::test]
async fn persons_and_companies_by_many_addresses_in_one_request() {
    let env = env().await;
    let c = client(&env);
    let dir = env.sandbox.directory();
    let mut wanted: Vec<String> = dir
        .externals
        .iter()
        .map(|p| p.email.to_uppercase())
        .collect();
    wanted.push("unknown@nowhere.example".into());
    let before = env.sandbox.stats().requests;
    let me = rep_email(&env);
    let s = c.as_rep(&me);
    let matches = s.persons_by_emails(&wanted).await.unwrap();
    assert_eq!(
        env.sandbox.stats().requests - before,
        1,
        "one request for all addresses"
    );
    // four of five externals are persons in CRM
    let distinct: std::collections::BTreeSet<&str> =
        matches.iter().map(|m| m.email.as_str()).collect();
    let expected = dir
        .externals
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 4)
        .count();
    assert_eq!(distinct.len(), expected);
    // externals[1] exists twice (EMail1 and EMail2 of another person)
    let dup = dir.externals[1].email.to_ascii_lowercase();
    assert_eq!(matches.iter().filter(|m| m.email == dup).count(), 2);
    assert!(matches.iter().all(|m| m.company.is_some()));
    // companies
    let comps = s
        .companies_by_emails(
            &dir.companies
                .iter()
                .map(|co| format!("info@{}", co.domain))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert_eq!(comps.len(), dir.companies.len());
    assert!(s.persons_by_emails(&[]).await.unwrap().is_empty());
}
