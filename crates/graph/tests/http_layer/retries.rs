//! Retries: `Retry-After` honoured, endless throttling ends as throttled, a POST is not
//! retried on 504, and `$batch` retries throttled sub-requests and their dependents.

use std::sync::atomic::Ordering;
use std::time::Duration;

use gc_graph::{BatchRequest, ErrorKind, GraphClient};

use super::{options, server};

#[tokio::test]
async fn retries_honour_retry_after_then_succeed() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let user: gc_graph::models::User = client.get(None, "/flaky").await.unwrap();
    assert_eq!(user.mail.as_deref(), Some("a@x.com"));
    let times = state.flaky_times.lock().unwrap().clone();
    assert_eq!(times.len(), 4, "two 429s, one 503, then success");
    assert!(
        times[1] - times[0] >= Duration::from_millis(190),
        "Retry-After 0.2 s honoured: {:?}",
        times[1] - times[0]
    );
    assert!(times[2] - times[1] >= Duration::from_millis(190));
    let stats = client.stats();
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.throttled, 2);
    assert_eq!(
        state.token_calls.load(Ordering::SeqCst),
        1,
        "token fetched once and cached"
    );
}

#[tokio::test]
async fn endless_throttling_ends_as_throttled_after_max_retries() {
    let (_state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let err = client
        .get::<serde_json::Value>(None, "/always429")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.code(), Some("ApplicationThrottled"));
    assert_eq!(client.stats().requests, 6, "first attempt + 5 retries");
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_on_504() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let msg = gc_graph::NewMessage {
        subject: "x".into(),
        ..Default::default()
    };
    let err = client.send_mail("u", &msg, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(state.hits.lock().unwrap()["/v1.0/users/u/sendMail?"], 1);
}

#[tokio::test]
async fn batch_retries_throttled_sub_requests_and_their_dependents() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let mut reqs = vec![
        BatchRequest::get("1", "/users/u/messages/a"),
        BatchRequest::get("2", "/users/u/messages/b"),
        BatchRequest::with_body(
            "3",
            "PATCH",
            "/users/u/messages/b",
            serde_json::json!({"isRead": true}),
        )
        .depends_on("2"),
        BatchRequest::get("4", "/users/u/messages/missing"),
    ];
    for i in 5..25 {
        reqs.push(BatchRequest::get(
            i.to_string(),
            format!("/users/u/events/{i}"),
        ));
    }
    let out = client.batch(Some("u"), reqs).await.unwrap();
    assert_eq!(out.len(), 24);
    assert_eq!(
        out.iter().map(|r| r.id.clone()).collect::<Vec<_>>()[..4],
        ["1", "2", "3", "4"]
    );
    assert_eq!(out[0].status, 200);
    assert_eq!(out[1].status, 200, "throttled sub-request retried");
    assert_eq!(out[1].attempts, 2);
    assert_eq!(out[2].status, 200, "its dependent retried too");
    assert_eq!(out[0].attempts, 1, "successful ones are not re-sent");
    assert_eq!(
        out[3].error(gc_graph::ResourceKind::Mail).unwrap().kind(),
        ErrorKind::NotFound
    );
    let v: serde_json::Value = out[1].json().unwrap();
    assert_eq!(v["id"], "item-2");

    let bodies = state.batch_bodies.lock().unwrap().clone();
    assert!(
        bodies
            .iter()
            .all(|b| b["requests"].as_array().unwrap().len() <= 20)
    );
    let retry = bodies.iter().find(|b| {
        let ids: Vec<&str> = b["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        ids == ["2", "3"]
    });
    let retry = retry.expect("a retry batch with only 2 and 3");
    assert_eq!(retry["requests"][1]["dependsOn"][0], "2");
    let first = &bodies[0]["requests"][0];
    assert_eq!(first["headers"]["Prefer"], "IdType=\"ImmutableId\"");
    let patch = bodies[0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "3")
        .unwrap();
    assert_eq!(patch["headers"]["Content-Type"], "application/json");
}
