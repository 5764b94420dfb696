//! Limits: at most four requests in flight per mailbox, and large bodies read in pieces up to
//! their cap.

use std::sync::atomic::Ordering;

use gc_graph::{ErrorKind, GraphClient};

use super::{options, server};

#[tokio::test]
async fn at_most_four_requests_in_flight_per_mailbox() {
    let (state, base) = server().await;
    let client = GraphClient::new(options(&base, "s")).unwrap();
    client.access_token().await.unwrap();
    // Requests are held until four are in flight: the limit is reached on any machine, and a
    // fifth would have to get past the client to show up.
    state.hold_until_in_flight.store(4, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get::<serde_json::Value>(Some("same@x.com"), "/users/same/slow")
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(state.max_in_flight.load(Ordering::SeqCst), 4);

    state.max_in_flight.store(0, Ordering::SeqCst);
    *state.peak.lock().unwrap() = None;
    // Three mailboxes: held until five are in flight, which only a client that runs different
    // mailboxes in parallel reaches.
    state.hold_until_in_flight.store(5, Ordering::SeqCst);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.get::<serde_json::Value>(Some(&format!("m{}@x.com", i % 3)), "/users/other/slow")
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        state.max_in_flight.load(Ordering::SeqCst) > 4,
        "different mailboxes run in parallel"
    );
}

#[tokio::test]
async fn large_bodies_are_read_in_pieces_up_to_their_cap() {
    let (_state, base) = server().await;
    let mut o = options(&base, "s");
    o.max_response_bytes = 2000;
    let c = GraphClient::new(o).unwrap();
    async fn read_all(mut d: gc_graph::Download) -> Result<usize, gc_graph::GraphError> {
        let mut n = 0;
        while let Some(piece) = d.chunk().await? {
            n += piece.len();
        }
        Ok(n)
    }
    // Downloads have their own cap, whatever max_response_bytes says.
    let d = c
        .download_message_mime("u", "big", 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(read_all(d).await.unwrap(), 300 * 1024);
    let d = c
        .download_attachment_content("u", "big", "a1", 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(read_all(d).await.unwrap(), 300 * 1024);
    // Over the cap: refused up front when the length is announced, else once it is passed.
    let e = c
        .download_attachment_content("u", "big", "a1", 100 * 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(e, gc_graph::GraphError::TooLarge { limit: 102400, .. }),
        "{e}"
    );
    let d = c
        .download_message_mime("u", "big", 100 * 1024)
        .await
        .unwrap();
    let e = read_all(d).await.unwrap_err();
    assert!(matches!(e, gc_graph::GraphError::TooLarge { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::Permanent, "not retried for ever");
    // Any other answer is read into memory only up to max_response_bytes (here 2000 bytes).
    let e = c.list_attachment_metadata("u", "big").await.unwrap_err();
    assert!(
        matches!(e, gc_graph::GraphError::TooLarge { limit: 2000, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("larger than the limit of 2 KB"),
        "{e}"
    );
}
