//! Messages: PATCH of categories and extended properties, sendMail and create in a folder,
//! the body content type preference, If-Match with a stale change key.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
