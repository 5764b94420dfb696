#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Mail folders and messages: listing, paging, delta with tombstones, ids with and without
//! ImmutableId, PATCH, move, MIME, attachments, sendMail, errors.

mod common;

use common::*;
use gc_sandbox::{NewMessage, SandboxOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn folders_well_known_and_create_path() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let top = g.get(&format!("/users/{u}/mailFolders")).await;
    let names: Vec<&str> = top["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["displayName"].as_str().unwrap())
        .collect();
    for n in ["Inbox", "Sent Items", "Deleted Items", "Drafts"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let inbox = g.get(&format!("/users/{u}/mailFolders/inbox")).await;
    let inbox_id = inbox["id"].as_str().unwrap().to_owned();
    assert!(inbox["totalItemCount"].as_u64().unwrap() > 0);
    // OData key syntax works too
    let same = g.get(&format!("/users/{u}/mailFolders('Inbox')")).await;
    assert_eq!(same["id"], inbox_id.as_str());
    // Inbox/crm
    let (s, crm) = g
        .post(
            &format!("/users/{u}/mailFolders/inbox/childFolders"),
            json!({"displayName": "crm"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{crm}");
    assert_eq!(crm["parentFolderId"], inbox_id.as_str());
    let (s, e) = g
        .post(
            &format!("/users/{u}/mailFolders/inbox/childFolders"),
            json!({"displayName": "CRM"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "ErrorFolderExists");
    let crm_id = crm["id"].as_str().unwrap();
    let (s, ok) = g
        .post(
            &format!("/users/{u}/mailFolders/{crm_id}/childFolders"),
            json!({"displayName": "Sync_Success"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let children = g
        .get(&format!("/users/{u}/mailFolders/{inbox_id}/childFolders"))
        .await;
    assert!(
        children["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == crm["id"])
    );
    // nested childFolders addressing
    let nested = g
        .get(&format!(
            "/users/{u}/mailFolders/inbox/childFolders/{crm_id}/childFolders"
        ))
        .await;
    assert_eq!(nested["value"][0]["id"], ok["id"]);
    // folder delta is flattened and includes the new folders
    let (all, delta) = g.walk(&format!("/users/{u}/mailFolders/delta"), None).await;
    assert!(
        all.iter()
            .any(|f| f["id"] == ok["id"] && f["parentFolderId"] == crm["id"])
    );
    assert!(delta.is_some());
    let e = g
        .get_raw(&format!("/users/{u}/mailFolders/nosuchfolder"), None)
        .await;
    assert_eq!(e.status(), StatusCode::NOT_FOUND);
    sb.shutdown().await;
}

#[tokio::test]
async fn mailbox_less_user_and_unknown_user() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let nomb = sb.directory().user_without_mailbox().unwrap().email.clone();
    let r = g
        .get_raw(&format!("/users/{nomb}/mailFolders/inbox/messages"), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "MailboxNotEnabledForRESTAPI");
    // but the user exists in the directory
    let u = g.get(&format!("/users/{nomb}")).await;
    assert_eq!(u["mail"], nomb.as_str());
    let r = g.get_raw("/users/nobody@contoso.example", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "Request_ResourceNotFound");
    sb.shutdown().await;
}

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
async fn patch_categories_and_extended_properties_expand_and_filter() {
    let sb = start().await;
    let u = user(&sb, 1);
    let g = G::new(&sb).await;
    let first = g
        .get(&format!("/users/{u}/mailFolders/inbox/messages?$top=2"))
        .await;
    let id = first["value"][0]["id"].as_str().unwrap().to_owned();
    let pid = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId";
    let (s, v) = g
        .patch(&format!("/users/{u}/messages/{id}"), json!({"categories": ["CRM"], "isRead": true, "singleValueExtendedProperties": [{"id": pid, "value": "4711"}]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["categories"], json!(["CRM"]));
    let exp = g
        .get(&format!(
            "/users/{u}/messages/{id}?$expand=singleValueExtendedProperties($filter=id eq '{pid}')"
        ))
        .await;
    assert_eq!(exp["singleValueExtendedProperties"][0]["value"], "4711");
    let found = g
        .get(&format!("/users/{u}/messages?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{pid}' and ep/value eq '4711')"))
        .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    assert_eq!(found["value"][0]["id"], id.as_str());
    // a sent (non-draft) message's subject can't be changed
    let (s, e) = g
        .patch(
            &format!("/users/{u}/messages/{id}"),
            json!({"subject": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = g
        .patch(
            &format!("/users/{u}/messages/{id}"),
            json!({"noSuchProperty": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"]["code"].is_string());
    sb.shutdown().await;
}

#[tokio::test]
async fn mime_attachments_and_seed_variety() {
    let sb = start_with(SandboxOptions {
        users: 4,
        messages_per_mailbox: 24,
        ..Default::default()
    })
    .await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let (all, _) = g
        .walk(
            &format!(
                "/users/{u}/messages?$top=100&$expand=attachments($select=name,size,isInline)"
            ),
            None,
        )
        .await;
    assert!(all.iter().any(|m| m["body"]["contentType"] == "html"
        && m["body"]["content"].as_str().unwrap().contains("<!--")));
    assert!(all.iter().any(|m| m["body"]["contentType"] == "text"));
    assert!(
        all.iter()
            .any(|m| m["body"]["content"].as_str().unwrap().len() > 100_000),
        "a large body"
    );
    assert!(
        all.iter()
            .any(|m| !m["ccRecipients"].as_array().unwrap().is_empty())
    );
    assert!(
        all.iter()
            .any(|m| m["subject"].as_str().unwrap().starts_with("RE: "))
    );
    // inline image referenced by cid:
    let inline = all
        .iter()
        .find(|m| m["body"]["content"].as_str().unwrap().contains("cid:"))
        .expect("a message with an inline image");
    let atts = g
        .get(&format!(
            "/users/{u}/messages/{}/attachments",
            inline["id"].as_str().unwrap()
        ))
        .await;
    let a = &atts["value"][0];
    assert_eq!(a["isInline"], true);
    assert_eq!(a["@odata.type"], "#microsoft.graph.fileAttachment");
    assert!(a["contentId"].is_string());
    // file attachments, $value, item attachment
    let with_files: Vec<&Value> = all.iter().filter(|m| m["hasAttachments"] == true).collect();
    assert!(!with_files.is_empty());
    let mut saw_item = false;
    let mut saw_big = false;
    for m in with_files {
        let mid = m["id"].as_str().unwrap();
        let atts = g
            .get(&format!(
                "/users/{u}/messages/{mid}/attachments?$select=id,name,size"
            ))
            .await;
        for a in atts["value"].as_array().unwrap() {
            let aid = a["id"].as_str().unwrap();
            // $select without contentBytes: metadata only (sizes before downloads)
            assert!(a.get("contentBytes").is_none(), "{a}");
            assert!(
                a.get("contentType").is_none(),
                "only what was selected: {a}"
            );
            if a["@odata.type"] == "#microsoft.graph.itemAttachment" {
                saw_item = true;
                let raw = g
                    .get_raw(
                        &format!("/users/{u}/messages/{mid}/attachments/{aid}/$value"),
                        None,
                    )
                    .await;
                let text = raw.text().await.unwrap();
                assert!(text.contains("Subject: Original offer"), "{text}");
                let one = g.get(&format!("/users/{u}/messages/{mid}/attachments/{aid}?$expand=microsoft.graph.itemattachment/item")).await;
                assert!(one["item"]["subject"].is_string());
            } else if a["size"].as_u64().unwrap() > 10 * 1024 * 1024 {
                saw_big = true;
            } else {
                let raw = g
                    .get_raw(
                        &format!("/users/{u}/messages/{mid}/attachments/{aid}/$value"),
                        None,
                    )
                    .await;
                assert_eq!(
                    raw.bytes().await.unwrap().len() as u64,
                    a["size"].as_u64().unwrap()
                );
            }
        }
        let mime = g
            .get_raw(&format!("/users/{u}/messages/{mid}/$value"), None)
            .await;
        assert_eq!(mime.status(), StatusCode::OK);
        let bytes = mime.bytes().await.unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(&bytes[..])
            .unwrap();
        assert_eq!(parsed.subject().unwrap(), m["subject"].as_str().unwrap());
        assert!(parsed.message_id().is_some());
        assert!(parsed.attachment_count() >= 1);
    }
    assert!(saw_item, "an item attachment");
    assert!(saw_big, "an oversized attachment");
    sb.shutdown().await;
}

#[tokio::test]
async fn send_mail_create_in_folder_and_cross_mailbox_delivery() {
    let sb = start().await;
    let a = user(&sb, 0);
    let b = user(&sb, 1);
    let g = G::new(&sb).await;
    let before = sb.state().count_messages(&b, "inbox").unwrap();
    let (s, _) = g
        .post(
            &format!("/users/{a}/sendMail"),
            json!({"message": {"subject": "Sync failed", "body": {"contentType": "Text", "content": "Please check"}, "toRecipients": [{"emailAddress": {"address": b}}]}, "saveToSentItems": "false"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(sb.state().count_messages(&b, "inbox").unwrap(), before + 1);
    // sendMail needs Mail.Send
    sb.state().auth().remove_role("Mail.Send");
    let g2 = G::new(&sb).await;
    let (s, e) = g2.post(&format!("/users/{a}/sendMail"), json!({"message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": b}}]}})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    // create a message in a folder
    let (s, m) = g
        .post(
            &format!("/users/{a}/mailFolders/inbox/messages"),
            json!({"subject": "filed", "body": {"contentType": "HTML", "content": "<p>x</p>"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["body"]["contentType"], "html");
    // the seed's CC-to-colleagues mail lands in several mailboxes with one internetMessageId
    let sent = g
        .get(&format!(
            "/users/{a}/mailFolders/sentitems/messages?$top=100"
        ))
        .await;
    let multi = sent["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ccRecipients"].as_array().unwrap().len() >= 2)
        .expect("a CC'd mail");
    let imid = multi["internetMessageId"].as_str().unwrap();
    let cc0 = multi["ccRecipients"][0]["emailAddress"]["address"]
        .as_str()
        .unwrap();
    let found = g
        .get(&format!(
            "/users/{cc0}/messages?$filter=internetMessageId eq '{imid}'"
        ))
        .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
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

#[tokio::test]
async fn body_content_type_preference() {
    let sb = start().await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let (all, _) = g
        .walk(
            &format!("/users/{u}/mailFolders/inbox/messages?$top=50"),
            None,
        )
        .await;
    let html = all
        .iter()
        .find(|m| {
            m["body"]["contentType"] == "html"
                && m["body"]["content"].as_str().unwrap().contains("<!--")
        })
        .unwrap();
    let id = html["id"].as_str().unwrap();
    let r = g
        .get_raw(
            &format!("/users/{u}/messages/{id}"),
            Some("outlook.body-content-type=\"text\""),
        )
        .await;
    assert_eq!(
        r.headers()["preference-applied"],
        "outlook.body-content-type=\"text\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["body"]["contentType"], "text");
    let text = v["body"]["content"].as_str().unwrap();
    assert!(
        !text.contains('<') && !text.contains("internal note"),
        "{text}"
    );
    assert!(!v["bodyPreview"].as_str().unwrap().is_empty());
    // /beta is not simulated
    let r = g.get_raw(&format!("{}/beta/users", sb.url()), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn copy_attachments_crud_and_folder_patch_delete() {
    use base64::Engine;
    let sb = start().await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let (s, f) = g
        .post(
            &format!("/users/{u}/mailFolders"),
            json!({"displayName": "Temp"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let fid = f["id"].as_str().unwrap().to_owned();
    let (s, f2) = g
        .patch(
            &format!("/users/{u}/mailFolders/{fid}"),
            json!({"displayName": "Temp2"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f2["displayName"], "Temp2");
    let (s, _) = g
        .patch(
            &format!("/users/{u}/mailFolders/inbox"),
            json!({"displayName": "x"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "default folders can't be renamed"
    );
    let first = g
        .get(&format!("/users/{u}/mailFolders/inbox/messages?$top=1"))
        .await;
    let mid = first["value"][0]["id"].as_str().unwrap().to_owned();
    let (s, copy) = g
        .post(
            &format!("/users/{u}/messages/{mid}/copy"),
            json!({"destinationId": fid}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(copy["id"], mid.as_str());
    assert_eq!(copy["parentFolderId"], fid.as_str());
    let cid = copy["id"].as_str().unwrap();
    let bytes = b"hello attachment";
    let (s, a) = g
        .post(
            &format!("/users/{u}/messages/{cid}/attachments"),
            json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "hello.txt", "contentType": "text/plain", "contentBytes": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let aid = a["id"].as_str().unwrap();
    let raw = g
        .get_raw(
            &format!("/users/{u}/messages/{cid}/attachments/{aid}/$value"),
            None,
        )
        .await;
    assert_eq!(&raw.bytes().await.unwrap()[..], bytes);
    assert_eq!(
        g.get(&format!("/users/{u}/messages/{cid}")).await["hasAttachments"],
        true
    );
    assert_eq!(
        g.delete(&format!("/users/{u}/messages/{cid}/attachments/{aid}"))
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        g.delete(&format!("/users/{u}/mailFolders/{fid}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        g.get_raw(&format!("/users/{u}/messages/{cid}"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        g.delete(&format!("/users/{u}/mailFolders/inbox")).await,
        StatusCode::BAD_REQUEST
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn if_match_detects_a_stale_change_key() {
    let sb = start().await;
    let u = user(&sb, 0);
    let g = G::new(&sb).await;
    let first = g
        .get(&format!("/users/{u}/mailFolders/inbox/messages?$top=1"))
        .await;
    let m = &first["value"][0];
    let id = m["id"].as_str().unwrap();
    let etag = m["@odata.etag"].as_str().unwrap().to_owned();
    let patch = |etag: String| {
        g.http
            .patch(g.url(&format!("/users/{u}/messages/{id}")))
            .bearer_auth(&g.token)
            .header("If-Match", etag)
            .json(&json!({"isRead": true}))
            .send()
    };
    assert_eq!(patch(etag.clone()).await.unwrap().status(), StatusCode::OK);
    let r = patch(etag).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PRECONDITION_FAILED,
        "the first PATCH changed the key"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "ErrorIrresolvableConflict");
    assert_eq!(patch("*".into()).await.unwrap().status(), StatusCode::OK);
    sb.shutdown().await;
}
