//! MIME and attachments, the variety of seeded messages, copy, attachment CRUD, and folder
//! PATCH and DELETE.

use crate::common::*;
use gc_sandbox::SandboxOptions;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
