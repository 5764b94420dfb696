//! Tokens: cached, fetched once for many waiters, replaced after a 401 and ahead of expiry;
//! an expired secret is a typed authentication error.

use std::sync::atomic::Ordering;
use std::time::Duration;

use gc_graph::{ErrorKind, GraphClient};

use super::{options, server};

#[tokio::test]
async fn token_is_cached_shared_and_refetched_after_401() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let before = jiff::Timestamp::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.access_token().await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = jiff::Timestamp::now();
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        1,
        "single-flight: one fetch for 16 waiters"
    );
    let t = client.access_token().await.unwrap();
    assert_eq!(
        t.roles.as_deref().unwrap(),
        ["Mail.ReadWrite", "User.ReadWrite.All"]
    );
    // the lifetime the endpoint granted (3599 s), counted from the fetch
    let lifetime = jiff::SignedDuration::from_secs(3599);
    assert!(
        t.expires_on >= before + lifetime && t.expires_on <= after + lifetime,
        "{:?} not within [{before}, {after}] + 3599 s",
        t.expires_on
    );
    assert!(!format!("{t:?}").contains(t.expose()));

    *state.reject_next_token.lock().unwrap() = true;
    let v: serde_json::Value = client.get(None, "/users/u/slow").await.unwrap();
    assert_eq!(v["id"], "x");
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        2,
        "a 401 invalidates the token once"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_ahead_of_expiry() {
    // Every step holds however slow the machine is: a cached token is checked while it is
    // long-lived, and a refresh is asserted only where it happens at or after half-life
    // (a refresh after expiry gives the same observations).
    let (state, base) = server().await;
    *state.token_lifetime.lock().unwrap() = 3599;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let first = client.access_token().await.unwrap();
    let again = client.access_token().await.unwrap();
    assert_eq!(
        first.expose(),
        again.expose(),
        "cached while far from expiry"
    );
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 1);
    // A short-lived token (2 s) replaces it.
    *state.token_lifetime.lock().unwrap() = 2;
    client.tokens().invalidate(&first);
    let short = client.access_token().await.unwrap();
    assert_ne!(first.expose(), short.expose());
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 2);
    // Past half-life (still valid, unless the machine stalled): refreshed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = client.access_token().await.unwrap();
    assert_ne!(short.expose(), refreshed.expose());
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 3);
    // Fully expired: many waiters, one fetch (of a long-lived token, so that no waiter that
    // runs late finds it past half-life again).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    *state.token_lifetime.lock().unwrap() = 3599;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.access_token().await.unwrap().expose().to_owned()
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(state.token_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn expired_secret_is_a_typed_authentication_error() {
    let (_state, base) = server().await;
    let client = GraphClient::new(options(&base, "expired")).unwrap();
    let err = client
        .get::<serde_json::Value>(None, "/flaky")
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Authentication(gc_graph::AuthCause::ExpiredSecret)
    );
    let text = err.to_string();
    assert!(
        text.contains("client secret has expired") && text.contains("trace-9"),
        "{text}"
    );
    assert!(!text.contains("expired\""), "no secret echoed");
}
