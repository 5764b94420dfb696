//! `$batch`: sub-requests throttled inside a batch are retried.

use gc_graph::BatchRequest;
use gc_sandbox::{FaultSpec, SandboxOptions};

use super::{client, mailbox, start};

#[tokio::test]
async fn batch_retries_sub_requests_throttled_inside_it() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 80,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let ids: Vec<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .take(30)
        .collect();
    assert!(ids.len() >= 21, "more than one batch");
    sb.faults()
        .set_spec("429=0.3".parse::<FaultSpec>().unwrap());
    let c = client(&sb);
    let user = sb.directory().mailbox_users().next().unwrap().id.clone();
    let reqs: Vec<BatchRequest> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            BatchRequest::get(
                i.to_string(),
                format!("/users/{user}/messages/{id}?$select=id,subject"),
            )
        })
        .collect();
    let out = c.batch(Some(&me), reqs).await.unwrap();
    assert_eq!(out.len(), ids.len());
    for (r, id) in out.iter().zip(&ids) {
        assert_eq!(r.status, 200, "{r:?}");
        let m: gc_graph::models::Message = r.json().unwrap();
        assert_eq!(&m.id, id);
    }
    assert!(
        out.iter().any(|r| r.attempts > 1),
        "some sub-requests were throttled and retried"
    );
}
