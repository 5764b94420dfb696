//! Paging: delta pages across empty pages, a 503 and a restart, expired delta state; event
//! reads in UTC, and links to other hosts refused.

use gc_graph::{DeltaItem, ErrorKind, GraphClient, MessageDeltaOptions};

use super::{options, server};

#[tokio::test]
async fn delta_pages_follow_empty_pages_retry_and_resume() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let mut stream = client.message_delta("u", "inbox", &MessageDeltaOptions::default());
    let p1 = stream.next_page().await.unwrap().unwrap();
    assert_eq!(p1.items.len(), 2);
    assert!(p1.items[0].is_ok());
    assert_eq!(
        p1.items[1].as_ref().unwrap_err().id.as_deref(),
        Some("m2"),
        "malformed item fails alone"
    );
    let checkpoint = p1.checkpoint().unwrap().to_owned();
    assert!(checkpoint.contains("skiptoken=p2"));
    // p2 answers 503 once (retried below us), then is empty with a nextLink → followed to p3.
    let p3 = stream.next_page().await.unwrap().unwrap();
    assert_eq!(p3.items.len(), 2);
    assert_eq!(
        p3.items[1].as_ref().unwrap(),
        &DeltaItem::Removed {
            id: "m1".into(),
            reason: gc_graph::RemovalReason::Deleted
        }
    );
    let delta_link = p3.delta_link.clone().unwrap();
    assert!(stream.next_page().await.is_none());
    assert_eq!(stream.pages_fetched(), 3);

    // Simulated restart: a new client resumes from the stored nextLink.
    let client2 = GraphClient::new(options(&base, "s")).unwrap();
    let mut resumed = client2.resume_message_delta("u", &checkpoint);
    let page = resumed.next_page().await.unwrap().unwrap();
    assert_eq!(page.delta_link.as_deref(), Some(delta_link.as_str()));
    // Next round from the deltaLink.
    let mut round2 = client2.resume_message_delta("u", &delta_link);
    let r2 = round2.next_page().await.unwrap().unwrap();
    assert_eq!(r2.items[0].as_ref().unwrap().changed().unwrap().id, "m4");

    // Immutable ids requested on every page.
    let prefer = state.prefer.lock().unwrap().clone();
    assert!(
        prefer
            .iter()
            .filter(|(p, _)| p.contains("/messages/delta"))
            .all(|(_, v)| v.contains("IdType=\"ImmutableId\""))
    );

    // Expired state is its own kind and ends the stream.
    let mut old = client2.resume_message_delta(
        "u",
        &format!("{base}/v1.0/users/u/mailFolders/inbox/messages/delta?$deltatoken=old"),
    );
    let err = old.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SyncStateExpired);
    assert_eq!(err.request_id(), Some("rid-42"));
    assert!(old.next_page().await.is_none());
}

#[tokio::test]
async fn event_reads_ask_for_utc_and_foreign_links_are_refused() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    let start = "2024-01-01T00:00:00Z".parse().unwrap();
    let end = "2024-02-01T00:00:00Z".parse().unwrap();
    let page = client
        .event_delta("u", start, end)
        .next_page()
        .await
        .unwrap()
        .unwrap();
    assert!(page.delta_link.is_some());
    let prefer = state.prefer.lock().unwrap().clone();
    let (_, v) = prefer
        .iter()
        .find(|(p, _)| p.contains("calendarView"))
        .unwrap();
    assert!(
        v.contains("outlook.timezone=\"UTC\"") && v.contains("ImmutableId"),
        "{v}"
    );

    let err = client
        .resume_message_delta("u", "https://attacker.example/x?$deltatoken=1")
        .next_page()
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, gc_graph::GraphError::Config(_)));
    assert!(
        !err.to_string().contains("deltatoken=1"),
        "link redacted in errors"
    );
    let mut evil =
        client.delta::<serde_json::Value>(Some("u"), gc_graph::ResourceKind::Mail, "/users/u/evil");
    assert!(
        evil.next_page().await.unwrap().is_err(),
        "a nextLink to another host is not followed"
    );
}
