//! Options a [`crate::GraphClient`] is built from.
//!
//! Deliberately independent of the connector's configuration type: the binary maps its config
//! into [`GraphOptions`], and tests build them by hand against the sandbox.

use std::time::Duration;

use crate::auth::Credential;

/// A request budget: at most `requests` per `per`, spread evenly (GCRA, via `governor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed per window (also the burst size).
    pub requests: u32,
    /// Window length.
    pub per: Duration,
}

impl Budget {
    /// `requests` per second.
    pub fn per_second(requests: u32) -> Self {
        Budget {
            requests,
            per: Duration::from_secs(1),
        }
    }
}

/// Everything needed to talk to Microsoft Graph for one tenant.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Graph base URL including the version, e.g. `https://graph.microsoft.com/v1.0`; a bare
    /// host (no path) gets `/v1.0` appended.
    pub graph_url: String,
    /// Identity platform base URL, e.g. `https://login.microsoftonline.com`.
    pub login_url: String,
    /// Token scope, `https://graph.microsoft.com/.default` for the real service.
    pub scope: String,
    /// Tenant id (GUID) or primary domain.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret or certificate.
    pub credential: Credential,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout (a timeout is retried like a 504).
    pub request_timeout: Duration,
    /// Retries per request after the first attempt (429/503/504/connection errors).
    pub max_retries: u32,
    /// Upper bound of the total time one request may spend waiting on retries; a throttled
    /// request waits (it never fails the run) until this or `max_retries` is exhausted.
    pub max_retry_wait: Duration,
    /// First backoff step when the server gives no `Retry-After`.
    pub base_backoff: Duration,
    /// Cap of a single backoff step (and of an absurd `Retry-After`).
    pub max_backoff: Duration,
    /// Concurrent requests in flight per mailbox (Outlook allows 4).
    pub mailbox_concurrency: usize,
    /// Tenant-wide budget shared by all mailboxes of this client (`None`: unlimited).
    pub tenant_budget: Option<Budget>,
    /// Per-mailbox budget (Outlook: 10,000 requests per 10 minutes; `None`: unlimited).
    pub mailbox_budget: Option<Budget>,
    /// How far ahead the requests of a mailbox with work left ([`crate::GraphClient::set_backlog`])
    /// queue for the tenant budget ([`crate::tenant_line`]).
    pub budget_head_start: crate::HeadStart,
    /// Refresh the token this long before it expires (halved for short-lived tokens).
    pub token_refresh_margin: Duration,
    /// Extra CA certificate(s) in PEM to trust, e.g. the sandbox's self-signed `--tls` CA.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// `Prefer: odata.maxpagesize` sent on list and delta requests (`None`: server default).
    pub page_size: Option<u32>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Largest response body read into memory (JSON pages, error bodies); a
    /// bigger answer is refused with [`crate::GraphError::TooLarge`] instead of growing the
    /// process. Downloads ([`crate::Download`]) have their own cap per call.
    pub max_response_bytes: u64,
}

impl GraphOptions {
    /// Production defaults for the given tenant, app and credential.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        credential: Credential,
    ) -> Self {
        GraphOptions {
            graph_url: "https://graph.microsoft.com/v1.0".into(),
            login_url: "https://login.microsoftonline.com".into(),
            scope: "https://graph.microsoft.com/.default".into(),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(100),
            max_retries: 10,
            max_retry_wait: Duration::from_secs(15 * 60),
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(120),
            mailbox_concurrency: 4,
            tenant_budget: Some(Budget::per_second(200)),
            mailbox_budget: Some(Budget {
                requests: 10_000,
                per: Duration::from_secs(600),
            }),
            budget_head_start: crate::HeadStart::default(),
            token_refresh_margin: Duration::from_secs(300),
            extra_ca_pem: None,
            page_size: None,
            user_agent: format!("graph-connector/{}", env!("CARGO_PKG_VERSION")),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }

    /// Point at another Graph and login host (sandbox, national cloud).
    pub fn with_urls(mut self, graph_url: impl Into<String>, login_url: impl Into<String>) -> Self {
        self.graph_url = graph_url.into();
        self.login_url = login_url.into();
        self
    }

    /// The token endpoint for this tenant.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_url.trim_end_matches('/'),
            self.tenant_id
        )
    }
}
