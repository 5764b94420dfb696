//! The request counter (`GET /_sandbox/stats`) and trip wires, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{G, start, user};
use gc_sandbox::monitor::CrmCommand;
use gc_sandbox::{Sandbox, Target, Tripwire, When};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn stats(sb: &Sandbox) -> Value {
    let r = Client::new()
        .get(format!("{}/_sandbox/stats", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn reset(sb: &Sandbox) {
    let r = Client::new()
        .post(format!("{}/_sandbox/stats/reset", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

/// Posts a CRM.interface request; `Err` when the connection was dropped.
async fn crm(sb: &Sandbox, impersonate: Option<&str>, commands: &str) -> Result<String, String> {
    let c = sb.credentials();
    let imp = impersonate
        .map(|e| format!(" impersonate=\"email={e}\""))
        .unwrap_or_default();
    let body = format!(
        "<request user=\"{}\" pwd=\"{}\"{imp}>{commands}</request>",
        c.crm_master_user, c.crm_password
    );
    let r = Client::new()
        .post(format!("{}/crm/interface", sb.url()))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    r.text().await.map_err(|e| e.to_string())
}

fn company_insert(name: &str) -> String {
    format!("<insert><fields><Company><Company>{name}</Company></Company></fields></insert>")
}

const REP_QUERY: &str = "<query><tables><table tablename=\"Rep\"/></tables></query>";

/// A message in `user`'s Inbox and the id of the folder to move it to.
async fn movable(sb: &Sandbox, g: &G, u: &str) -> (String, String) {
    let id = sb.state().messages(u, "inbox").unwrap()[0]
        .immutable_id
        .clone();
    let (status, folder) = g
        .post(
            &format!("/users/{u}/mailFolders/inbox/childFolders"),
            json!({"displayName": format!("moved-{}", &id[id.len() - 6..])}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{folder}");
    (id, folder["id"].as_str().unwrap().to_owned())
}

async fn try_move(g: &G, u: &str, id: &str, folder: &str) -> Result<StatusCode, String> {
    let r = g
        .http
        .post(g.url(&format!("/users/{u}/messages/{id}/move")))
        .bearer_auth(&g.token)
        .json(&json!({"destinationId": folder}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    r.bytes().await.map_err(|e| e.to_string())?;
    Ok(status)
}

#[tokio::test]
async fn stats_count_graph_and_crm_requests_by_resource_rep_and_command() {
    let sb = start().await;
    let g = G::new(&sb).await; // one token request
    let u = user(&sb, 0);
    let u2 = user(&sb, 1);
    g.get("/users").await;
    let me = g.get(&format!("/users/{u}")).await;
    // a mailbox named by its user's id is the same mailbox
    g.get(&format!(
        "/users/{}/mailFolders/inbox",
        me["id"].as_str().unwrap()
    ))
    .await;
    g.walk(
        &format!("/users/{u}/mailFolders('inbox')/messages/delta"),
        None,
    )
    .await;
    let (id, folder) = movable(&sb, &g, &u).await;
    assert_eq!(
        try_move(&g, &u, &id, &folder).await.unwrap(),
        StatusCode::CREATED
    );
    // a batch is one request; its inner ones are counted apart
    let (status, _) = g
        .post(
            "/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": format!("/users/{u}/mailFolders/inbox")},
                {"id": "2", "method": "GET", "url": format!("/users/{u2}/mailFolders/inbox")},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // unauthenticated requests are round trips too
    let r = Client::new()
        .get(format!("{}/v1.0/users", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    crm(&sb, None, REP_QUERY).await.unwrap();
    crm(&sb, Some(&u.to_uppercase()), &company_insert("Counted Ltd"))
        .await
        .unwrap();
    crm(
        &sb,
        Some(&u),
        &format!("{REP_QUERY}{}", company_insert("Second Ltd")),
    )
    .await
    .unwrap();

    let s = stats(&sb).await;
    let graph = &s["graph"];
    let by = &graph["by_resource"];
    assert_eq!(by["token"], 1, "{s:#}");
    assert_eq!(by["users"], 3, "{s:#}"); // list, get, unauthenticated list
    assert!(by["messages.delta"].as_u64().unwrap() >= 1, "{s:#}");
    assert_eq!(by["childFolders"], 1, "{s:#}");
    assert_eq!(by["messages.move"], 1, "{s:#}");
    assert_eq!(by["$batch"], 1, "{s:#}");
    assert_eq!(graph["in_batch"]["mailFolders"], 2, "{s:#}");
    // per mailbox: what Outlook's four slots serve, alone or inside the batch (not the users
    // list, the user or the token)
    // (the delta pages, the Inbox by id, the folder made, the move, the Inbox in the batch)
    let mine = by["messages.delta"].as_u64().unwrap() + 4;
    assert_eq!(graph["by_mailbox"][u.to_ascii_lowercase()], mine, "{s:#}");
    assert_eq!(graph["by_mailbox"][u2.to_ascii_lowercase()], 1, "{s:#}");
    assert_eq!(graph["by_mailbox"].as_object().unwrap().len(), 2, "{s:#}");
    let sum: u64 = by
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(graph["total"].as_u64().unwrap(), sum, "{s:#}");

    let c = &s["crm"];
    assert_eq!(c["total"], 3, "{s:#}");
    let master = sb.credentials().crm_master_user.to_ascii_lowercase();
    assert_eq!(c["by_rep"][&master], 1, "{s:#}");
    assert_eq!(c["by_rep"][u.to_ascii_lowercase()], 2, "{s:#}");
    assert_eq!(c["by_command"]["query"], 2, "{s:#}");
    assert_eq!(c["by_command"]["insert"], 2, "{s:#}");
    assert_eq!(c["written_by_table"]["Company"], 2, "{s:#}");

    // the in-process view is the same
    assert_eq!(serde_json::to_value(sb.stats()).unwrap(), s);

    reset(&sb).await;
    let s = stats(&sb).await;
    assert_eq!(s["graph"]["total"], 0);
    assert_eq!(s["crm"]["total"], 0);
    assert!(s["graph"]["by_resource"].as_object().unwrap().is_empty());
    // the control API itself is not counted
    assert_eq!(sb.stats().graph.total, 0);
}

fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (n, move || {
        m.fetch_add(1, Ordering::SeqCst);
    })
}

#[tokio::test]
async fn a_tripwire_before_the_response_lets_the_move_happen_and_cuts_the_answer() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let (first, folder) = movable(&sb, &g, &u).await;
    let (ran, action) = counter();
    let wire = sb.arm_tripwire(
        Tripwire {
            target: Target::Graph(Some("messages.move".into())),
            nth: 2,
            when: When::BeforeResponse,
        },
        action,
    );
    // reads do not count; the first move passes
    g.get(&format!("/users/{u}/mailFolders/inbox")).await;
    assert_eq!(
        try_move(&g, &u, &first, &folder).await.unwrap(),
        StatusCode::CREATED
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(wire.seen(), 1);
    // the second is done, but its answer never arrives
    let second = sb.state().messages(&u, "inbox").unwrap()[0]
        .immutable_id
        .clone();
    let before = sb.state().count_messages(&u, "inbox").unwrap();
    let err = try_move(&g, &u, &second, &folder).await.unwrap_err();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "{err}");
    assert!(wire.fired());
    assert_eq!(
        sb.state().count_messages(&u, "inbox").unwrap(),
        before - 1,
        "moved although the client never heard of it"
    );
    // fired once: the next move is answered
    let third = sb.state().messages(&u, "inbox").unwrap()[0]
        .immutable_id
        .clone();
    assert_eq!(
        try_move(&g, &u, &third, &folder).await.unwrap(),
        StatusCode::CREATED
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_tripwire_before_processing_drops_the_request_unprocessed() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let (id, folder) = movable(&sb, &g, &u).await;
    let before = sb.state().count_messages(&u, "inbox").unwrap();
    let (ran, action) = counter();
    let wire = sb.arm_tripwire(
        Tripwire {
            target: Target::GraphWrite,
            nth: 1,
            when: When::BeforeProcessing,
        },
        action,
    );
    assert!(try_move(&g, &u, &id, &folder).await.is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(wire.fired());
    assert_eq!(sb.state().count_messages(&u, "inbox").unwrap(), before);
    // inside a batch: the inner request is cut, so is the whole exchange
    let (ran2, action2) = counter();
    let _wire2 = sb.arm_tripwire(
        Tripwire {
            target: Target::Graph(Some("messages.move".into())),
            nth: 1,
            when: When::BeforeProcessing,
        },
        action2,
    );
    let r = g
        .http
        .post(g.url("/$batch"))
        .bearer_auth(&g.token)
        .json(&json!({"requests": [
            {"id": "1", "method": "POST", "url": format!("/users/{u}/messages/{id}/move"),
             "headers": {"content-type": "application/json"}, "body": {"destinationId": folder}},
        ]}))
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the batch exchange is cut");
    assert_eq!(ran2.load(Ordering::SeqCst), 1);
    assert_eq!(sb.state().count_messages(&u, "inbox").unwrap(), before);
}

#[tokio::test]
async fn a_crm_tripwire_counts_only_its_command_and_table_and_the_write_survives_the_cut() {
    let sb = start().await;
    let u = user(&sb, 0);
    let (ran, action) = counter();
    let wire = sb.arm_tripwire(
        Tripwire {
            target: Target::Crm {
                command: Some(CrmCommand::Insert),
                table: Some("company".into()),
            },
            nth: 2,
            when: When::BeforeResponse,
        },
        action,
    );
    crm(&sb, Some(&u), REP_QUERY).await.unwrap();
    crm(&sb, Some(&u), &company_insert("Wire One Ltd"))
        .await
        .unwrap();
    assert_eq!(wire.seen(), 1);
    assert!(
        crm(&sb, Some(&u), &company_insert("Wire Two Ltd"))
            .await
            .is_err(),
        "the answer is cut"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    // the write happened: CRM has the record the client never heard of
    let list = crm(
        &sb,
        None,
        "<query><tables><table tablename=\"Company\"/></tables></query>",
    )
    .await
    .unwrap();
    assert!(list.contains("Wire Two Ltd"), "{list}");

    // before processing: nothing is written
    let (ran2, action2) = counter();
    let _w = sb.arm_tripwire(
        Tripwire {
            target: Target::CrmWrite,
            nth: 1,
            when: When::BeforeProcessing,
        },
        action2,
    );
    assert!(
        crm(&sb, Some(&u), &company_insert("Never Ltd"))
            .await
            .is_err()
    );
    assert_eq!(ran2.load(Ordering::SeqCst), 1);
    let list = crm(
        &sb,
        None,
        "<query><tables><table tablename=\"Company\"/></tables></query>",
    )
    .await
    .unwrap();
    assert!(!list.contains("Never Ltd"));
    // a disarmed (dropped) wire does nothing
    let (ran3, action3) = counter();
    drop(sb.arm_tripwire(
        Tripwire {
            target: Target::Any,
            nth: 1,
            when: When::BeforeProcessing,
        },
        action3,
    ));
    crm(&sb, Some(&u), REP_QUERY).await.unwrap();
    assert_eq!(ran3.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_tripwire_with_a_predicate_skips_the_requests_it_does_not_choose() {
    let sb = start().await;
    let u = user(&sb, 0);
    let (ran, action) = counter();
    // The company insert whose name has a '#', wherever it comes among the inserts.
    let wire = sb.arm_tripwire_where(
        Tripwire {
            target: Target::Crm {
                command: Some(CrmCommand::Insert),
                table: Some("Company".into()),
            },
            nth: 1,
            when: When::BeforeResponse,
        },
        |r| {
            r.crm_records().any(|rec| {
                rec.table() == "Company" && rec.field("company").is_some_and(|v| v.contains('#'))
            })
        },
        action,
    );
    for name in ["Plain One Ltd", "Plain Two Ltd"] {
        crm(&sb, Some(&u), &company_insert(name)).await.unwrap();
    }
    assert_eq!(wire.seen(), 0, "not chosen, not counted");
    assert!(!wire.fired());
    assert!(
        crm(&sb, Some(&u), &company_insert("Chosen #1 Ltd"))
            .await
            .is_err(),
        "the chosen insert's answer is cut"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!((wire.seen(), wire.fired()), (1, true));
    // fired once: the next one the predicate would choose is answered
    crm(&sb, Some(&u), &company_insert("Chosen #2 Ltd"))
        .await
        .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let list = crm(
        &sb,
        None,
        "<query><tables><table tablename=\"Company\"/></tables></query>",
    )
    .await
    .unwrap();
    for name in [
        "Plain One Ltd",
        "Plain Two Ltd",
        "Chosen #1 Ltd",
        "Chosen #2 Ltd",
    ] {
        assert!(list.contains(name), "{name}: {list}");
    }
}
