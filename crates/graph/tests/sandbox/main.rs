//! gc-graph against the gc-sandbox tenant: tokens (secret, certificate, PFX), every AADSTS
//! switch, `check` diagnostics, delta under 30 % throttling and 10 % 5xx, resume after restart,
//! expired sync state and tokens, `$batch` with throttled sub-requests, and the mail operations
//! the sync engine uses.
//!
//! One test binary, one module per area; the helpers here start a sandbox, build a client
//! for it and walk a message delta.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod batch;
mod calendar;
mod contacts_and_todo;
mod delta;
mod ids;
mod mail;

use std::time::Duration;

use gc_graph::{Credential, DeltaItem, GraphClient, GraphOptions};
use gc_sandbox::{Sandbox, SandboxOptions};

async fn start(opts: SandboxOptions) -> Sandbox {
    gc_sandbox::start(opts).await.unwrap()
}

fn options(sb: &Sandbox, credential: Credential) -> GraphOptions {
    let c = sb.credentials();
    let mut o = GraphOptions::new(c.tenant_id.clone(), c.client_id.clone(), credential)
        .with_urls(sb.url(), sb.url());
    o.base_backoff = Duration::from_millis(50);
    o.max_backoff = Duration::from_secs(5);
    o.max_retries = 30;
    o.extra_ca_pem = sb.ca_pem().map(|p| p.as_bytes().to_vec());
    o
}

fn client(sb: &Sandbox) -> GraphClient {
    GraphClient::new(options(
        sb,
        Credential::secret(sb.credentials().client_secret.clone()),
    ))
    .unwrap()
}

fn mailbox(sb: &Sandbox) -> String {
    sb.directory().mailbox_users().next().unwrap().email.clone()
}

/// Walk a whole delta round; returns (changed ids in order, removed ids, deltaLink).
async fn walk(
    mut s: gc_graph::PageStream<DeltaItem<gc_graph::models::Message>>,
) -> (Vec<String>, Vec<String>, String) {
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut delta = None;
    while let Some(page) = s.next_page().await {
        let page = page.unwrap();
        for item in page.items {
            match item.unwrap() {
                DeltaItem::Changed(m) => changed.push(m.id),
                DeltaItem::Removed { id, .. } => removed.push(id),
            }
        }
        delta = page.delta_link;
    }
    (changed, removed, delta.unwrap())
}
