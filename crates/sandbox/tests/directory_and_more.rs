#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Users, contacts, To Do, categories, $batch, throttling, faults, TLS and the written config.

mod common;

use common::*;
use gc_sandbox::SandboxOptions;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn users_list_filter_select_top_and_delta() {
    let sb = start_with(SandboxOptions {
        users: 150,
        messages_per_mailbox: 1,
        ..Default::default()
    })
    .await;
    let g = G::new(&sb).await;
    let (all, _) = g.walk("/users?$top=40", None).await;
    assert_eq!(all.len(), 152, "150 members + 2 guests");
    let first = g.get("/users?$top=40").await;
    assert!(
        first["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$skiptoken=")
    );
    let admin = sb.directory().admin().email.clone();
    let f = g
        .get(&format!(
            "/users?$filter=mail eq '{admin}'&$select=id,mail,accountEnabled,proxyAddresses"
        ))
        .await;
    let v = &f["value"][0];
    assert_eq!(v["mail"], admin.as_str());
    assert_eq!(v["accountEnabled"], true);
    assert!(
        v["proxyAddresses"][0]
            .as_str()
            .unwrap()
            .starts_with("SMTP:")
    );
    assert!(v.get("displayName").is_none(), "$select narrows");
    let f = g
        .get(&format!(
            "/users?$filter=userPrincipalName eq '{}'",
            admin.to_uppercase()
        ))
        .await;
    assert_eq!(f["value"].as_array().unwrap().len(), 1);
    let guest = g
        .get("/users?$filter=userType eq 'Guest'&$select=userType,userPrincipalName")
        .await;
    assert_eq!(guest["value"].as_array().unwrap().len(), 2);
    assert!(
        guest["value"][0]["userPrincipalName"]
            .as_str()
            .unwrap()
            .contains("#EXT#")
    );
    let (d1, link) = g.walk("/users/delta?$select=mail", None).await;
    assert_eq!(d1.len(), 152);
    let (d2, link2) = g.walk(&link.unwrap(), None).await;
    assert!(d2.is_empty());
    // a blocked and a soft-deleted user
    let members: Vec<String> = sb
        .directory()
        .mailbox_users()
        .map(|p| p.email.clone())
        .collect();
    sb.state().set_account_enabled(&members[1], false).unwrap();
    let r = reqwest::Client::new()
        .delete(format!("{}/_sandbox/users/{}", sb.url(), members[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (d3, _) = g.walk(&link2.unwrap(), None).await;
    assert_eq!(d3.len(), 2, "{d3:?}");
    assert!(d3.iter().any(|u| u["@removed"]["reason"] == "changed"));
    assert!(d3.iter().any(|u| u["mail"] == members[1].as_str()));
    assert_eq!(
        g.get_raw(&format!("/users/{}", members[2]), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (none, latest) = g.walk("/users/delta?$deltatoken=latest", None).await;
    assert!(none.is_empty() && latest.is_some());
    sb.shutdown().await;
}

#[tokio::test]
async fn contacts_folders_delta_and_crud() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let list = g.get(&format!("/users/{u}/contacts?$top=50")).await;
    assert!(list["value"].as_array().unwrap().len() >= 5);
    assert!(list["value"][0]["emailAddresses"][0]["address"].is_string());
    let folders = g.get(&format!("/users/{u}/contactFolders")).await;
    assert!(
        folders["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["displayName"] == "Suppliers")
    );
    let (s, crm) = g
        .post(
            &format!("/users/{u}/contactFolders"),
            json!({"displayName": "CRM"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let fid = crm["id"].as_str().unwrap();
    let (_, link) = g
        .walk(
            &format!("/users/{u}/contactFolders/{fid}/contacts/delta"),
            None,
        )
        .await;
    let pid = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId";
    let (s, c) = g
        .post(
            &format!("/users/{u}/contactFolders/{fid}/contacts"),
            json!({"givenName": "Ada", "surname": "Lovelace", "emailAddresses": [{"address": "ada@analytical.example", "name": "Ada"}], "companyName": "Analytical", "singleValueExtendedProperties": [{"id": pid, "value": "KP-1"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["displayName"], "Ada Lovelace");
    let cid = c["id"].as_str().unwrap();
    let (s, _) = g
        .patch(
            &format!("/users/{u}/contacts/{cid}"),
            json!({"jobTitle": "Analyst"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let found = g.get(&format!("/users/{u}/contactFolders/{fid}/contacts?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{pid}' and ep/value eq 'KP-1')")).await;
    assert_eq!(found["value"][0]["jobTitle"], "Analyst");
    let (d, link2) = g.walk(&link.unwrap(), None).await;
    assert_eq!(d.len(), 1);
    assert_eq!(
        g.delete(&format!("/users/{u}/contacts/{cid}")).await,
        StatusCode::NO_CONTENT
    );
    let (d, _) = g.walk(&link2.unwrap(), None).await;
    assert_eq!(d[0]["@removed"]["reason"], "deleted");
    let (s, _) = g.post(&format!("/users/{u}/contacts"), json!({"givenName": "X", "emailAddresses": [{"address": "a@x"}, {"address": "b@x"}, {"address": "c@x"}, {"address": "d@x"}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn todo_lists_tasks_delta_and_crud() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let lists = g.get(&format!("/users/{u}/todo/lists")).await;
    let default = lists["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["wellknownListName"] == "defaultList")
        .unwrap()
        .clone();
    let lid = default["id"].as_str().unwrap();
    let tasks = g.get(&format!("/users/{u}/todo/lists/{lid}/tasks")).await;
    assert!(tasks["value"].as_array().unwrap().len() >= 3);
    let (_, link) = g
        .walk(&format!("/users/{u}/todo/lists/{lid}/tasks/delta"), None)
        .await;
    let (s, t) = g
        .post(
            &format!("/users/{u}/todo/lists/{lid}/tasks"),
            json!({"title": "Call Ada", "dueDateTime": {"dateTime": "2026-12-01T00:00:00", "timeZone": "UTC"}, "linkedResources": [{"webUrl": "https://crm.example/a1/1", "applicationName": "CRM", "displayName": "A1", "externalId": "A1-1"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["linkedResources"][0]["externalId"], "A1-1");
    let tid = t["id"].as_str().unwrap();
    let (s, t2) = g
        .patch(
            &format!("/users/{u}/todo/lists/{lid}/tasks/{tid}"),
            json!({"status": "completed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(t2["completedDateTime"].is_object());
    let (s, _) = g
        .patch(
            &format!("/users/{u}/todo/lists/{lid}/tasks/{tid}"),
            json!({"status": "bogus"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (d, link2) = g.walk(&link.unwrap(), None).await;
    assert_eq!(d.len(), 1);
    let exp = g
        .get(&format!(
            "/users/{u}/todo/lists/{lid}/tasks/{tid}?$expand=linkedResources"
        ))
        .await;
    assert_eq!(exp["linkedResources"][0]["applicationName"], "CRM");
    assert_eq!(
        g.delete(&format!("/users/{u}/todo/lists/{lid}/tasks/{tid}"))
            .await,
        StatusCode::NO_CONTENT
    );
    let (d, _) = g.walk(&link2.unwrap(), None).await;
    assert!(d[0]["@removed"].is_object());
    // To Do needs Tasks.*
    sb.state().auth().remove_role("Tasks.ReadWrite.All");
    let g2 = G::new(&sb).await;
    assert_eq!(
        g2.get_raw(&format!("/users/{u}/todo/lists"), None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn master_categories() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let (s, c) = g
        .post(
            &format!("/users/{u}/outlook/masterCategories"),
            json!({"displayName": "CRM", "color": "preset9"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = g
        .post(
            &format!("/users/{u}/outlook/masterCategories"),
            json!({"displayName": "crm"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let id = c["id"].as_str().unwrap();
    let (s, _) = g
        .patch(
            &format!("/users/{u}/outlook/masterCategories/{id}"),
            json!({"displayName": "Other"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, c) = g
        .patch(
            &format!("/users/{u}/outlook/masterCategories/{id}"),
            json!({"color": "preset4"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["color"], "preset4");
    assert!(
        sb.state()
            .categories(&u)
            .unwrap()
            .contains(&"CRM".to_owned())
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn batch_depends_on_statuses_and_limits() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let nomb = sb.directory().user_without_mailbox().unwrap().email.clone();
    let (s, v) = g
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": format!("/users/{u}/mailFolders/inbox")},
                {"id": "2", "method": "POST", "url": format!("/users/{u}/mailFolders/inbox/childFolders"), "headers": {"Content-Type": "application/json"}, "body": {"displayName": "batch"}, "dependsOn": ["1"]},
                {"id": "3", "method": "GET", "url": format!("users/{nomb}/messages")},
                {"id": "4", "method": "GET", "url": "/users?$top=1", "dependsOn": ["3"]},
                {"id": "5", "method": "GET", "url": format!("/users/{u}/messages?$top=1"), "headers": {"Prefer": "IdType=\"ImmutableId\""}},
                {"id": "6", "method": "GET", "url": format!("{}/v1.0/users/{u}/mailFolders?$top=2", sb.url())}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let by_id = |id: &str| {
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("1")["status"], 200);
    assert!(by_id("1")["body"]["id"].is_string());
    assert_eq!(by_id("2")["status"], 201);
    assert_eq!(by_id("3")["status"], 404);
    assert_eq!(
        by_id("3")["body"]["error"]["code"],
        "MailboxNotEnabledForRESTAPI"
    );
    assert_eq!(by_id("4")["status"], 424);
    assert!(
        by_id("5")["body"]["value"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("AAkAL"),
        "inner Prefer honoured"
    );
    assert!(by_id("1")["headers"]["Content-Type"].is_string());
    assert_eq!(
        by_id("6")["status"],
        200,
        "absolute URLs on this service, as the SDKs send them"
    );
    assert_eq!(by_id("6")["body"]["value"].as_array().unwrap().len(), 2);
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"}))
        .collect();
    let (s, _) = g.post("/$batch", json!({"requests": many})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = g.post("/$batch", json!({"requests": [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "ids are case-insensitive");
    sb.shutdown().await;
}

#[tokio::test]
async fn throttling_under_concurrency_and_budget() {
    let sb = start_with(SandboxOptions {
        users: 3,
        messages_per_mailbox: 5,
        latency_ms: 300,
        ..Default::default()
    })
    .await;
    let g = std::sync::Arc::new(G::new(&sb).await);
    let u = user(&sb, 0);
    // Admitted requests are held in their slots until all ten have arrived, so that the ten
    // overlap however slowly the machine sends them (the latency alone would be a race).
    sb.faults().hold(true);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let g = g.clone();
        let url = format!("/users/{u}/mailFolders/inbox");
        tasks.push(tokio::spawn(async move { g.get_raw(&url, None).await }));
    }
    // A request is counted on arrival and admitted or refused in the same step (this test's
    // runtime has one thread).
    while sb.stats().graph.by_resource.get("mailFolders").copied() != Some(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sb.faults().hold(false);
    let mut ok = 0;
    let mut throttled = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().get("retry-after").is_some());
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["error"]["code"], "ApplicationThrottled");
                assert!(
                    v["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("MailboxConcurrency")
                );
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 4, "4 concurrent requests per mailbox");
    assert_eq!(throttled, 6);
    // another mailbox is not affected; the budget per window
    sb.faults().set_latency_ms(0);
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/throttle", sb.url()))
        .json(&json!({"budget": 5, "windowSecs": 86_400, "reset": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let u2 = user(&sb, 1);
    for _ in 0..5 {
        assert_eq!(
            g.get_raw(&format!("/users/{u2}/mailFolders"), None)
                .await
                .status(),
            StatusCode::OK
        );
    }
    let r = g.get_raw(&format!("/users/{u2}/mailFolders"), None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: f64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0.0);
    // inner batch requests count too
    let (s, v) = g.post("/$batch", json!({"requests": [{"id": "1", "method": "GET", "url": format!("/users/{u2}/mailFolders")}]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["responses"][0]["status"], 429);
    assert!(v["responses"][0]["headers"]["Retry-After"].is_string());
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_are_deterministic_under_the_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let sb = start_with(SandboxOptions {
            users: 2,
            seed,
            messages_per_mailbox: 2,
            ..Default::default()
        })
        .await;
        let g = G::new(&sb).await;
        // faults on after the token: the token endpoint rolls its own faults (scope "login")
        sb.faults()
            .set_spec("429=0.2,503=0.1,504=0.1".parse().unwrap());
        let u = user(&sb, 0);
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(
                g.get_raw(&format!("/users/{u}/mailFolders"), None)
                    .await
                    .status()
                    .as_u16(),
            );
        }
        sb.shutdown().await;
        out
    }
    let a = statuses(7).await;
    let b = statuses(7).await;
    let c = statuses(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&429) && a.contains(&200));
    // connection reset: the client sees a transport error
    let sb = start_with(SandboxOptions {
        users: 2,
        messages_per_mailbox: 2,
        ..Default::default()
    })
    .await;
    let g = G::new(&sb).await;
    sb.faults().set_spec("reset=1".parse().unwrap());
    let u = user(&sb, 0);
    let r = g
        .http
        .get(g.url(&format!("/users/{u}/mailFolders")))
        .bearer_auth(&g.token)
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "reset must break the response");
    sb.shutdown().await;
}

#[tokio::test]
async fn tls_and_written_config() {
    let sb = start_with(SandboxOptions {
        users: 2,
        messages_per_mailbox: 2,
        tls: true,
        ..Default::default()
    })
    .await;
    assert!(sb.url().starts_with("https://127.0.0.1:"));
    let ca = sb.ca_pem().unwrap().to_owned();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/_sandbox/health", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.toml");
    sb.write_config(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg: toml::Value = toml::from_str(&text).unwrap();
    let ms = &cfg["microsoft"];
    assert_eq!(
        ms["tenant_id"].as_str().unwrap(),
        sb.credentials().tenant_id
    );
    assert_eq!(
        ms["client_secret"].as_str().unwrap(),
        sb.credentials().client_secret
    );
    assert_eq!(ms["graph_url"].as_str().unwrap(), sb.url());
    assert_eq!(ms["login_url"].as_str().unwrap(), sb.url());
    assert_eq!(
        ms["managed_domains"][0].as_str().unwrap(),
        "contoso.example"
    );
    let ca_file = ms["ca_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(ca_file).unwrap(), ca);
    assert_eq!(
        cfg["crm"]["interface_url"].as_str().unwrap(),
        format!("{}/crm/interface", sb.url())
    );
    assert_eq!(cfg["crm"]["master_user"].as_str().unwrap(), "OCSU");
    assert_eq!(cfg["crm"]["ca_file"].as_str().unwrap(), ca_file);
    let db = cfg["state"]["url"].as_str().unwrap();
    assert!(db.starts_with("sqlite:///"), "{db}");
    sb.shutdown().await;
    // same seed, same tenant
    let a = gc_sandbox::Directory::generate(3, 10);
    let s1 = start_with(SandboxOptions {
        users: 10,
        seed: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(s1.directory(), &a);
    let ids1 = s1.state().messages(&user(&s1, 0), "inbox").unwrap();
    let creds1 = s1.credentials().clone();
    s1.shutdown().await;
    let s2 = start_with(SandboxOptions {
        users: 10,
        seed: 3,
        ..Default::default()
    })
    .await;
    let ids2 = s2.state().messages(&user(&s2, 0), "inbox").unwrap();
    assert_eq!(creds1, *s2.credentials());
    assert_eq!(
        ids1.iter().map(|m| &m.immutable_id).collect::<Vec<_>>(),
        ids2.iter().map(|m| &m.immutable_id).collect::<Vec<_>>()
    );
    s2.shutdown().await;
    let _ = Duration::from_secs(0);
}

#[tokio::test]
async fn parallel_batch_requests_share_the_mailbox_concurrency() {
    let sb = start_with(SandboxOptions {
        users: 2,
        messages_per_mailbox: 2,
        latency_ms: 200,
        mailbox_concurrency: 2,
        ..Default::default()
    })
    .await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let reqs: Vec<Value> = (0..8).map(|i| json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{u}/mailFolders/inbox")})).collect();
    let (s, v) = g.post("/$batch", json!({"requests": reqs})).await;
    assert_eq!(s, StatusCode::OK);
    let statuses: Vec<u64> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    // with dependsOn the batch runs sequentially and stays under the limit
    let reqs: Vec<Value> = (0..4)
        .map(|i| {
            let mut r = json!({"id": i.to_string(), "method": "GET", "url": format!("/users/{u}/mailFolders/inbox")});
            if i > 0 {
                r["dependsOn"] = json!([(i - 1).to_string()]);
            }
            r
        })
        .collect();
    let (_, v) = g.post("/$batch", json!({"requests": reqs})).await;
    assert!(
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == 200),
        "{v}"
    );
    sb.shutdown().await;
}
