//! [`GraphClient`] and the one request layer every call goes through.
//!
//! The layer owns: the shared reqwest client (rustls), the token, `Prefer` headers, the
//! per-mailbox concurrency limit (Outlook allows 4 requests in flight per mailbox), the
//! tenant-wide and per-mailbox request budgets (`budgets`), retries that honour `Retry-After`,
//! and one log line per attempt with mailbox, resource and Graph's `request-id` (never a token,
//! a secret or the query string of a skip/delta link).
//!
//! Here: the client itself (construction, options, token, counters, the link check, the
//! mailbox slots). What a request is and the helpers that build one are in `request`; the loop
//! that carries one out, attempt by attempt, is in `send`.

mod request;
mod send;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use crate::auth::{AccessToken, TokenProvider};
use crate::budgets::Budgets;
use crate::error::GraphError;
use crate::options::GraphOptions;
use crate::redact::redact_url;
use crate::slots::Slots;

pub(crate) use request::{Body, Req, qv, seg};

/// Counters of what the client did (for metrics, tests and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts sent to Graph (retries included, token requests excluded).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Answers with status 429.
    pub throttled: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) options: GraphOptions,
    graph_url: String,
    origin: String,
    tokens: TokenProvider,
    mailbox_slots: DashMap<String, Slots>,
    budgets: Budgets,
    counters: Counters,
}

/// A typed Microsoft Graph client for one tenant. Cheap to clone (shared inner state), so one
/// instance serves all mailboxes and tasks.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_url", &self.inner.graph_url)
            .field("tenant_id", &self.inner.options.tenant_id)
            .field("client_id", &self.inner.options.client_id)
            .finish_non_exhaustive()
    }
}

fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

impl GraphClient {
    /// Build a client (no network I/O happens here; the first call fetches a token).
    pub fn new(options: GraphOptions) -> Result<Self, GraphError> {
        let mut graph_url = options.graph_url.trim_end_matches('/').to_owned();
        // A bare host (`https://graph.microsoft.com`, the sandbox's base URL) means v1.0.
        if url::Url::parse(&graph_url).is_ok_and(|u| u.path().trim_matches('/').is_empty()) {
            graph_url.push_str("/v1.0");
        }
        let origin = origin_of(&graph_url)
            .ok_or_else(|| GraphError::Config(format!("graph_url is not a URL: {graph_url}")))?;
        if url::Url::parse(&options.login_url).is_err() {
            return Err(GraphError::Config(format!(
                "login_url is not a URL: {}",
                options.login_url
            )));
        }
        if options.mailbox_concurrency == 0 {
            return Err(GraphError::Config(
                "mailbox concurrency must be at least 1".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .pool_max_idle_per_host(64)
            .gzip(true);
        if let Some(pem) = &options.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| GraphError::Config("extra CA file is not PEM".into()))?;
            if certs.is_empty() {
                return Err(GraphError::Config(
                    "extra CA file holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| GraphError::Config(format!("cannot build the HTTP client: {e}")))?;
        let tokens = TokenProvider::new(http.clone(), &options);
        let budgets = Budgets::new(
            options.tenant_budget,
            options.mailbox_budget,
            options.budget_head_start,
        );
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                graph_url,
                origin,
                tokens,
                mailbox_slots: DashMap::new(),
                budgets,
                counters: Counters::default(),
                options,
            }),
        })
    }

    /// The options this client was built from.
    pub fn options(&self) -> &GraphOptions {
        &self.inner.options
    }

    /// The token provider (roles, expiry, fetch count).
    pub fn tokens(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// A valid access token (cached). Its `roles` list the granted application permissions.
    pub async fn access_token(&self) -> Result<Arc<AccessToken>, GraphError> {
        self.inner.tokens.token().await.map_err(GraphError::from)
    }

    /// Tell how many items the run of `mailbox` still has to work (`None` when it ends). While
    /// requests wait for the tenant budget, those of the mailboxes with more left go first,
    /// within [`crate::GraphOptions::budget_head_start`] (see [`crate::tenant_line`]); without
    /// a tenant budget this does nothing.
    pub fn set_backlog(&self, mailbox: &str, items: Option<u64>) {
        self.inner.budgets.set_backlog(mailbox, items);
    }

    /// What the client has done so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }

    /// Absolute URL for a path relative to the Graph base (`/users/...`).
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.inner.graph_url, path)
        } else {
            format!("{}/{}", self.inner.graph_url, path)
        }
    }

    /// The Graph base URL (with version), without trailing slash.
    pub fn graph_url(&self) -> &str {
        &self.inner.graph_url
    }

    /// Check that a link handed back by a caller (a stored nextLink/deltaLink) points at our
    /// Graph host, so the bearer token never goes anywhere else.
    pub(crate) fn check_link(&self, link: &str) -> Result<(), GraphError> {
        match origin_of(link) {
            Some(o) if o.eq_ignore_ascii_case(&self.inner.origin) => Ok(()),
            _ => Err(GraphError::Config(format!(
                "link {} does not point at the configured Graph host",
                redact_url(link)
            ))),
        }
    }

    fn mailbox_slot(&self, mailbox: &str) -> Slots {
        let key = mailbox.to_ascii_lowercase();
        self.inner
            .mailbox_slots
            .entry(key)
            .or_insert_with(|| Slots::new(self.inner.options.mailbox_concurrency))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_query_values_are_encoded() {
        assert_eq!(seg("AAMk+a/b=="), "AAMk%2Ba%2Fb==");
        assert_eq!(seg("user@contoso.com"), "user@contoso.com");
        assert_eq!(qv("mail eq 'a@b.c'"), "mail%20eq%20%27a@b.c%27");
    }

    #[test]
    fn bare_graph_host_means_v1() {
        let o = GraphOptions::new("t", "c", crate::Credential::secret("s"))
            .with_urls("http://127.0.0.1:9/", "http://127.0.0.1:9");
        assert_eq!(
            GraphClient::new(o.clone()).unwrap().graph_url(),
            "http://127.0.0.1:9/v1.0"
        );
        let o = o.with_urls(
            "https://graph.microsoft.com/beta",
            "https://login.microsoftonline.com",
        );
        assert_eq!(
            GraphClient::new(o).unwrap().graph_url(),
            "https://graph.microsoft.com/beta"
        );
    }
}
