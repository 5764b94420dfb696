//! Message delta rounds: every item once under throttling and 5xx, resume from a persisted
//! nextLink after a restart and the next round from the deltaLink, and expired sync state.

use std::collections::HashSet;

use gc_graph::{Credential, ErrorKind, GraphClient, MessageDeltaOptions};
use gc_sandbox::{FaultSpec, SandboxOptions};

use super::{client, mailbox, options, start, walk};

#[tokio::test]
async fn delta_under_throttling_and_5xx_delivers_every_item_once() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 150,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let expected: HashSet<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .collect();
    assert!(
        expected.len() > 20,
        "enough messages for several pages: {}",
        expected.len()
    );
    sb.faults()
        .set_spec("429=0.3,503=0.05,504=0.05".parse::<FaultSpec>().unwrap());
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.page_size = Some(10);
    let c = GraphClient::new(o).unwrap();
    let (changed, removed, _delta) =
        walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    let unique: HashSet<String> = changed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        changed.len(),
        "no duplicates from retried pages"
    );
    assert_eq!(unique, expected, "every item arrives");
    assert!(removed.is_empty());
    let stats = c.stats();
    assert!(
        stats.throttled > 0 && stats.retries > 0,
        "faults were met and retried: {stats:?}"
    );
}

#[tokio::test]
async fn delta_resumes_from_a_persisted_checkpoint_after_restart() {
    let sb = start(SandboxOptions {
        messages_per_mailbox: 120,
        ..Default::default()
    })
    .await;
    let me = mailbox(&sb);
    let expected: HashSet<String> = sb
        .state()
        .messages(&me, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.immutable_id)
        .collect();
    let mut o = options(
        &sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    );
    o.page_size = Some(7);
    let select = MessageDeltaOptions {
        select: Some(
            "id,subject,receivedDateTime,internetMessageId,categories,parentFolderId".into(),
        ),
        ..Default::default()
    };

    // First process: two pages, checkpoint persisted after each, then "crash".
    let mut seen: Vec<String> = Vec::new();
    let checkpoint = {
        let c = GraphClient::new(o.clone()).unwrap();
        let mut s = c.message_delta(&me, "inbox", &select);
        let mut cp = String::new();
        for _ in 0..2 {
            let page = s.next_page().await.unwrap().unwrap();
            cp = page.checkpoint().unwrap().to_owned();
            seen.extend(
                page.items
                    .into_iter()
                    .map(|i| i.unwrap().changed().unwrap().id.clone()),
            );
        }
        cp
    };
    assert!(
        checkpoint.contains("skiptoken") || checkpoint.contains("skipToken"),
        "a nextLink"
    );

    // Second process resumes from the stored link.
    let c = GraphClient::new(o.clone()).unwrap();
    let (rest, _, delta_link) = walk(c.resume_message_delta(&me, &checkpoint)).await;
    seen.extend(rest);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(unique, expected);

    // Changes after the round show up in the next round only.
    let new_id = sb
        .state()
        .deliver(
            &me,
            gc_sandbox::NewMessage {
                subject: "fresh".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let crm = c.ensure_mail_folder(&me, "/Inbox/crm").await.unwrap();
    let moved_away = seen[0].clone();
    let moved = c.move_message(&me, &moved_away, &crm.id).await.unwrap();
    assert_eq!(moved.id, moved_away, "immutable id survives the move");
    let (changed, removed, next_delta) = walk(c.resume_message_delta(&me, &delta_link)).await;
    assert_eq!(changed, vec![new_id]);
    assert_eq!(removed, vec![moved_away.clone()]);
    assert_ne!(next_delta, delta_link);

    // The moved message appears in the target folder's delta with the same id.
    let (in_crm, _, _) = walk(c.message_delta(&me, &crm.id, &select)).await;
    assert!(in_crm.contains(&moved_away));
}

#[tokio::test]
async fn expired_sync_state_is_its_own_error_kind() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let (_, _, delta_link) =
        walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    let http = reqwest::Client::builder().build().unwrap();
    let resp = http
        .post(format!("{}/_sandbox/sync-state/expire", sb.url()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let mut s = c.resume_message_delta(&me, &delta_link);
    let err = s.next_page().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SyncStateExpired, "{err}");
    assert!(err.is_sync_state_expired());
    assert!(s.next_page().await.is_none());
    // Re-enumerating from scratch works.
    let (all, _, _) = walk(c.message_delta(&me, "inbox", &MessageDeltaOptions::default())).await;
    assert!(!all.is_empty());
}
