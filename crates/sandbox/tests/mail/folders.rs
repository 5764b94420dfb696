//! Mail folders: well-known names, create by path; users without a mailbox and unknown users.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
