#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Lazy tenants (`SandboxOptions::lazy_mailboxes`): mailboxes generated on first use, the
//! same for the same seed, and lookups by name that do not depend on the tenant's size.

mod common;

use common::*;
use gc_sandbox::SandboxOptions;
use reqwest::StatusCode;

fn lazy(users: usize) -> SandboxOptions {
    SandboxOptions {
        users,
        messages_per_mailbox: 3,
        lazy_mailboxes: true,
        seed: 7,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_lazy_mailbox_is_generated_on_first_use_and_the_same_for_the_same_seed() {
    let sb = start_with(lazy(2_000)).await;
    let g = G::new(&sb).await;
    // A user far down the list, never touched before.
    let u = sb.directory().users[1_234].email.clone();
    let folders = g.get(&format!("/users/{u}/mailFolders")).await;
    let names: Vec<&str> = folders["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["displayName"].as_str())
        .collect();
    assert!(
        names.contains(&"Inbox") && names.contains(&"Sent Items"),
        "{names:?}"
    );
    let inbox = g
        .get(&format!("/users/{u}/mailFolders/inbox/messages"))
        .await;
    let msgs = inbox["value"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "messages_per_mailbox in the Inbox");
    assert!(msgs.iter().all(|m| {
        m["from"]["emailAddress"]["address"]
            .as_str()
            .is_some_and(|a| !a.ends_with("@contoso.example"))
    }));
    // The sync folder of the connector can be made and filled as in a full tenant.
    let st = sb.state();
    st.create_folder_path(&u, "Inbox/crm").unwrap();
    assert_eq!(st.file_inbox_messages(&u, 2, "Inbox/crm").unwrap().len(), 2);
    assert_eq!(st.count_messages(&u, "Inbox/crm").unwrap(), 2);
    let ids: Vec<String> = msgs.iter().map(|m| m["subject"].to_string()).collect();

    // Another sandbox with the same seed generates the same mailbox, whenever it is touched.
    let again = start_with(lazy(2_000)).await;
    let g2 = G::new(&again).await;
    let inbox2 = g2
        .get(&format!("/users/{u}/mailFolders/inbox/messages"))
        .await;
    let ids2: Vec<String> = inbox2["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].to_string())
        .collect();
    assert_eq!(ids, ids2);
}

#[tokio::test]
async fn users_without_a_mailbox_and_lookups_by_name_behave_as_in_a_full_tenant() {
    let sb = start_with(lazy(500)).await;
    let g = G::new(&sb).await;
    let none = sb.directory().user_without_mailbox().unwrap().email.clone();
    let (status, body) = g
        .send(
            reqwest::Method::GET,
            &format!("/users/{none}/mailFolders"),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "MailboxNotEnabledForRESTAPI");

    // The connector's lookup filter: address, UPN or proxy address, several names per call;
    // a pending mailbox counts as a licence.
    let a = sb.directory().users[10].email.clone();
    let b = sb.directory().users[400].email.clone();
    let local = b.split('@').next().unwrap();
    let filter = format!(
        "mail eq '{a}' or userPrincipalName eq '{a}' or proxyAddresses/any(p:p eq 'smtp:{local}@contoso.onmicrosoft.example') or mail eq 'nobody@contoso.example'"
    );
    let found = g
        .get(&format!(
            "/users?$filter={filter}&$select=mail,assignedLicenses"
        ))
        .await;
    let mut mails: Vec<String> = found["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            assert_eq!(u["assignedLicenses"].as_array().unwrap().len(), 1, "{u}");
            u["mail"].as_str().unwrap().to_owned()
        })
        .collect();
    mails.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(mails, want);
    // Any other filter still looks at every user.
    let guests = g
        .get("/users?$filter=userType eq 'Guest'&$select=mail")
        .await;
    assert_eq!(guests["value"].as_array().unwrap().len(), 2);
}
