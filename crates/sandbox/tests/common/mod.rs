//! Shared helpers for the sandbox's end-to-end tests (reqwest as the client, never gc-graph).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use gc_sandbox::{Sandbox, SandboxOptions};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub async fn start() -> Sandbox {
    start_with(SandboxOptions {
        users: 5,
        messages_per_mailbox: 24,
        ..Default::default()
    })
    .await
}

pub async fn start_with(opts: SandboxOptions) -> Sandbox {
    gc_sandbox::start(opts).await.expect("sandbox starts")
}

pub fn token_url(sb: &Sandbox) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        sb.url(),
        sb.credentials().tenant_id
    )
}

pub async fn token(sb: &Sandbox) -> String {
    let c = sb.credentials();
    let r = Client::new()
        .post(token_url(sb))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// A tiny Graph client for tests.
pub struct G {
    pub base: String,
    pub token: String,
    pub http: Client,
    pub immutable: bool,
}

impl G {
    pub async fn new(sb: &Sandbox) -> G {
        G {
            base: format!("{}/v1.0", sb.url()),
            token: token(sb).await,
            http: Client::new(),
            immutable: false,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn req(&self, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .request(m, self.url(path))
            .bearer_auth(&self.token);
        if self.immutable {
            r = r.header("Prefer", "IdType=\"ImmutableId\"");
        }
        r
    }

    pub async fn get_raw(&self, path: &str, prefer: Option<&str>) -> Response {
        let mut r = self.req(reqwest::Method::GET, path);
        if let Some(p) = prefer {
            r = r.header("Prefer", p);
        }
        r.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self.req(reqwest::Method::GET, path).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {v}");
        v
    }

    pub async fn send(&self, m: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.req(m, path).json(&body).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.req(reqwest::Method::DELETE, path)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Follows nextLinks to the end; returns all items and the final deltaLink (if any).
    pub async fn walk(&self, first: &str, prefer: Option<&str>) -> (Vec<Value>, Option<String>) {
        let mut url = self.url(first);
        let mut all = Vec::new();
        loop {
            let r = self.get_raw(&url, prefer).await;
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert!(status.is_success(), "GET {url}: {status} {v}");
            all.extend(v["value"].as_array().unwrap().iter().cloned());
            if let Some(n) = v["@odata.nextLink"].as_str() {
                url = n.to_owned();
                continue;
            }
            return (all, v["@odata.deltaLink"].as_str().map(str::to_owned));
        }
    }
}

pub fn user(sb: &Sandbox, i: usize) -> String {
    sb.directory().mailbox_users().nth(i).unwrap().email.clone()
}
