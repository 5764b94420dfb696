//! Paging and delta over thousands of messages with tombstones, ids that change on move
//! without ImmutableId, and expired or stale tokens (410).

use crate::common::*;
use gc_sandbox::{NewMessage, SandboxOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn paging_and_delta_over_thousands_with_tombstones() {
    let sb = start_with(SandboxOptions {
        users: 3,
        messages_per_mailbox: 12,
        ..Default::default()
    })
    .await;
    let u = user(&sb, 0);
    let st = sb.state();
    st.create_folder_path(&u, "Inbox/bulk").unwrap();
    for i in 0..2500 {
        st.deliver(
            &u,
            NewMessage {
                subject: format!("bulk {i}"),
                folder: Some("Inbox/bulk".into()),
                body_text: Some("x".into()),
                ..Default::default()
            },
        )
        .unwrap();
    }
    let mut g = G::new(&sb).await;
    g.immutable = true;
    let folder = g
        .get(&format!(
            "/users/{u}/mailFolders/inbox/childFolders?$filter=displayName eq 'bulk'"
        ))
        .await;
    let fid = folder["value"][0]["id"].as_str().unwrap().to_owned();
    // list paging with $top/$skip
    let (listed, _) = g
        .walk(
            &format!("/users/{u}/mailFolders/{fid}/messages?$top=500&$select=subject"),
            None,
        )
        .await;
    assert_eq!(listed.len(), 2500);
    assert!(listed[0].get("body").is_none(), "$select honoured");
    // delta round 1 with maxpagesize
    let (round1, delta) = g
        .walk(
            &format!("/users/{u}/mailFolders/{fid}/messages/delta?$select=subject,isRead"),
            Some("odata.maxpagesize=200, IdType=\"ImmutableId\""),
        )
        .await;
    assert_eq!(round1.len(), 2500);
    let delta = delta.unwrap();
    assert!(delta.contains("$deltatoken="));
    // nothing changed: empty round
    let (round2, delta2) = g.walk(&delta, None).await;
    assert!(round2.is_empty(), "{round2:?}");
    // changes: delete 3 (→ Deleted Items), move 2 out, mark 1 read, add 1
    let ids: Vec<String> = round1
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids[0..3] {
        assert_eq!(
            g.delete(&format!("/users/{u}/messages/{id}")).await,
            StatusCode::NO_CONTENT
        );
    }
    for id in &ids[3..5] {
        let (s, moved) = g
            .post(
                &format!("/users/{u}/messages/{id}/move"),
                json!({"destinationId": "archive"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(moved["id"], id.as_str(), "immutable id survives the move");
    }
    let (s, _) = g
        .patch(
            &format!("/users/{u}/messages/{}", ids[5]),
            json!({"isRead": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    st.deliver(
        &u,
        NewMessage {
            subject: "late arrival".into(),
            folder: Some("Inbox/bulk".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (round3, _) = g
        .walk(&delta2.unwrap(), Some("IdType=\"ImmutableId\""))
        .await;
    let removed: Vec<&Value> = round3
        .iter()
        .filter(|v| v.get("@removed").is_some())
        .collect();
    assert_eq!(removed.len(), 5, "{round3:?}");
    assert!(removed.iter().all(|r| r["@removed"]["reason"] == "deleted"));
    let removed_ids: Vec<&str> = removed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in &ids[0..5] {
        assert!(removed_ids.contains(&id.as_str()));
    }
    let live: Vec<&Value> = round3
        .iter()
        .filter(|v| v.get("@removed").is_none())
        .collect();
    assert_eq!(live.len(), 2);
    assert!(live.iter().any(|m| m["subject"] == "late arrival"));
    assert!(
        live.iter()
            .any(|m| m["id"] == ids[5].as_str() && m["isRead"] == true)
    );
    assert!(st.count_messages(&u, "Archive").unwrap() >= 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn ids_change_on_move_without_immutable_id() {
    let sb = start().await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let page = g
        .get(&format!("/users/{u}/mailFolders/inbox/messages?$top=1"))
        .await;
    let rest_id = page["value"][0]["id"].as_str().unwrap().to_owned();
    let imm = g
        .get_raw(
            &format!("/users/{u}/messages/{rest_id}"),
            Some("IdType=\"ImmutableId\""),
        )
        .await;
    let imm: Value = imm.json().await.unwrap();
    let imm_id = imm["id"].as_str().unwrap().to_owned();
    assert_ne!(rest_id, imm_id, "the two id formats differ");
    let (s, moved) = g
        .post(
            &format!("/users/{u}/messages/{rest_id}/move"),
            json!({"destinationId": "deleteditems"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let new_rest = moved["id"].as_str().unwrap();
    assert_ne!(new_rest, rest_id, "REST id changes on move");
    let r = g
        .get_raw(&format!("/users/{u}/messages/{rest_id}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "ErrorItemNotFound");
    // the immutable id still resolves, and so does the new REST id
    let again: Value = g
        .get_raw(
            &format!("/users/{u}/messages/{imm_id}"),
            Some("IdType=\"ImmutableId\""),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], imm_id.as_str());
    assert_eq!(
        again["parentFolderId"],
        g.get(&format!("/users/{u}/mailFolders/deleteditems")).await["id"]
    );
    g.get(&format!("/users/{u}/messages/{new_rest}")).await;
    let (s, t) = g
        .post(&format!("/users/{u}/translateExchangeIds"), json!({"inputIds": [new_rest, "AAMkADnothing"], "targetIdType": "restImmutableEntryId", "sourceIdType": "restId"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["value"][0]["targetId"], imm_id.as_str());
    assert!(t["value"][1]["errorDetails"].is_object());
    sb.shutdown().await;
}

#[tokio::test]
async fn expired_and_stale_tokens_answer_410() {
    let sb = start_with(SandboxOptions {
        users: 3,
        messages_per_mailbox: 30,
        delta_token_ttl: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let (_, delta) = g
        .walk(
            &format!("/users/{u}/mailFolders/inbox/messages/delta"),
            None,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = g.get_raw(&delta.unwrap(), None).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "SyncStateNotFound");
    // unknown skiptoken
    let r = g
        .get_raw(
            &format!("/users/{u}/mailFolders/inbox/messages/delta?$skiptoken=bogus"),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::GONE);
    // control API: existing tokens answer resyncRequired, new rounds work
    let (_, delta2) = g
        .walk(
            &format!("/users/{u}/mailFolders/inbox/messages/delta"),
            None,
        )
        .await;
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/sync-state/resync-required", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = g.get_raw(&delta2.unwrap(), None).await;
    assert_eq!(r.status(), StatusCode::GONE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "resyncRequired");
    let (_, fresh) = g
        .walk(
            &format!("/users/{u}/mailFolders/inbox/messages/delta"),
            None,
        )
        .await;
    assert_eq!(
        g.get_raw(&fresh.unwrap(), None).await.status(),
        StatusCode::OK
    );
    // fault switch: every nextLink stale
    sb.faults().set_spec("stale-nextlink=1".parse().unwrap());
    let first = g
        .get_raw(
            &format!("/users/{u}/mailFolders/inbox/messages/delta"),
            Some("odata.maxpagesize=2"),
        )
        .await;
    let v: Value = first.json().await.unwrap();
    let next = v["@odata.nextLink"].as_str().unwrap();
    assert_eq!(g.get_raw(next, None).await.status(), StatusCode::GONE);
    sb.shutdown().await;
}
