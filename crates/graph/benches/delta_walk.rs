//! Walk a 10,000-message delta on the sandbox with 20 ms latency per request.
//!
//! 1. One folder of 10,000 messages: gc-graph's page stream versus a plain sequential reqwest
//!    loop over the same pages (the overhead of the request layer; a delta is sequential).
//! 2. The same 10,000 messages spread over 4 folders: gc-graph walks the folders concurrently
//!    (within the 4-per-mailbox limit) versus plain sequential page requests.
//!
//! Run: `cargo bench -p gc-graph --bench delta_walk`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gc_graph::{Credential, DeltaItem, GraphClient, GraphOptions, MessageDeltaOptions};
use gc_sandbox::{Sandbox, SandboxOptions};

const MESSAGES: usize = 10_000;
const PAGE: u32 = 100;
const SELECT: &str = "id,subject,from,receivedDateTime,internetMessageId,categories,parentFolderId";

struct Run {
    items: usize,
    requests: u64,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }
}

fn client(sb: &Sandbox) -> GraphClient {
    let c = sb.credentials();
    let mut o = GraphOptions::new(
        c.tenant_id.clone(),
        c.client_id.clone(),
        Credential::secret(c.client_secret.clone()),
    )
    .with_urls(sb.url(), sb.url());
    o.page_size = Some(PAGE);
    GraphClient::new(o).unwrap()
}

async fn gc_walk(c: &GraphClient, mailbox: &str, folders: &[String]) -> Run {
    let before = c.stats().requests;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for f in folders {
        let c = c.clone();
        let mailbox = mailbox.to_owned();
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let opts = MessageDeltaOptions {
                select: Some(SELECT.into()),
                ..Default::default()
            };
            let mut s = c.message_delta(&mailbox, &f, &opts);
            let mut n = 0usize;
            while let Some(page) = s.next_page().await {
                for item in page.unwrap().items {
                    if let Ok(DeltaItem::Changed(_)) = item {
                        n += 1;
                    }
                }
            }
            n
        }));
    }
    let mut items = 0;
    for t in tasks {
        items += t.await.unwrap();
    }
    Run {
        items,
        requests: c.stats().requests - before,
        elapsed: started.elapsed(),
    }
}

async fn plain_walk(sb: &Sandbox, user: &str, folders: &[String]) -> Run {
    let http = reqwest::Client::new();
    let c = sb.credentials();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let token: serde_json::Value = http
        .post(format!("{}/{}/oauth2/v2.0/token", sb.url(), c.tenant_id))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let mut requests = 0u64;
    let mut items = 0usize;
    for f in folders {
        let mut url = Some(format!(
            "{}/v1.0/users/{user}/mailFolders/{f}/messages/delta?$select={SELECT}",
            sb.url()
        ));
        while let Some(u) = url.take() {
            let page: serde_json::Value = http
                .get(&u)
                .bearer_auth(&bearer)
                .header(
                    "Prefer",
                    format!("odata.maxpagesize={PAGE}, IdType=\"ImmutableId\""),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            requests += 1;
            items += page["value"].as_array().map_or(0, Vec::len);
            url = page["@odata.nextLink"].as_str().map(str::to_owned);
        }
    }
    Run {
        items,
        requests,
        elapsed: started.elapsed(),
    }
}

fn row(name: &str, r: &Run) {
    println!(
        "| {name} | {} | {} | {:.2} | {:.0} |",
        r.items,
        r.requests,
        r.elapsed.as_secs_f64(),
        r.rate()
    );
}

#[tokio::main]
async fn main() {
    let sb = gc_sandbox::start(SandboxOptions {
        users: 2,
        messages_per_mailbox: 10,
        latency_ms: 20,
        ..Default::default()
    })
    .await
    .unwrap();
    let person = sb.directory().mailbox_users().next().unwrap().clone();
    let state = sb.state();
    let mut one = Vec::new();
    let mut four = Vec::new();
    for name in [
        "Inbox/bench",
        "Inbox/q1",
        "Inbox/q2",
        "Inbox/q3",
        "Inbox/q4",
    ] {
        let id = state.create_folder_path(&person.email, name).unwrap();
        if name == "Inbox/bench" {
            one.push(id);
        } else {
            four.push(id);
        }
    }
    for i in 0..MESSAGES {
        // Every message twice: once into the single folder, once into one of the four.
        for target in ["Inbox/bench".to_owned(), format!("Inbox/q{}", i % 4 + 1)] {
            let msg = gc_sandbox::NewMessage {
                subject: format!("bench {i}"),
                folder: Some(target),
                ..Default::default()
            };
            state.deliver(&person.email, msg).unwrap();
        }
    }
    let c = client(&sb);
    c.access_token().await.unwrap();

    println!("10,000 messages, page size {PAGE}, sandbox latency 20 ms per request\n");
    println!("| walk | items | requests | seconds | items/s |");
    println!("|---|---|---|---|---|");
    let plain1 = plain_walk(&sb, &person.id, &one).await;
    row("plain sequential, 1 folder", &plain1);
    let gc1 = gc_walk(&c, &person.email, &one).await;
    row("gc-graph, 1 folder", &gc1);
    let plain4 = plain_walk(&sb, &person.id, &four).await;
    row("plain sequential, 4 folders", &plain4);
    let gc4 = gc_walk(&c, &person.email, &four).await;
    row("gc-graph, 4 folders concurrently", &gc4);
    println!();
    println!(
        "ratio gc-graph / plain (items/s), 1 folder: {:.2}",
        gc1.rate() / plain1.rate()
    );
    println!(
        "ratio gc-graph / plain (items/s), 4 folders: {:.2}",
        gc4.rate() / plain4.rate()
    );
    assert_eq!(gc1.items, MESSAGES);
    assert_eq!(plain1.items, MESSAGES);
    assert_eq!(gc4.items, MESSAGES);
    assert_eq!(plain4.items, MESSAGES);
    sb.shutdown().await;
}
