//! HTTP transport: one reqwest client, POST `text/xml` to the configured CRM.interface URL,
//! timeouts, retries with backoff for transient failures and "User is already active", and
//! one request at a time per impersonated rep.
//!
//! This file holds the client and its per-rep turns; `config` the settings, `execute` a
//! request with its retries, `attempt` one attempt on the wire and its answer, `payload` the
//! body with content streamed into it, `session` what a master or rep session sends.

mod attempt;
mod config;
mod execute;
mod payload;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::dialect::Dialect;
use crate::error::CrmError;

pub use config::{CrmConfig, RetryPolicy, WRITE_BATCH};
pub use payload::ContentSource;
pub(crate) use payload::Streamed;
pub use session::{CrmSession, item_code};

/// A CRM.interface client. Cheap to clone (the HTTP connection pool and the per-rep turns are
/// shared).
///
/// CRM.interface runs one request per user at a time and answers a second one with "User is
/// already active", so the client sends the requests made for one impersonated rep one after
/// the other, whoever makes them (every sync kind shares this); requests for different reps
/// and the master user's own requests run in parallel.
#[derive(Debug, Clone)]
pub struct CrmClient {
    http: reqwest::Client,
    cfg: Arc<CrmConfig>,
    turns: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Requests in flight, at most [`CrmConfig::concurrency`].
    slots: Arc<tokio::sync::Semaphore>,
    /// A nested insert was read back and found as the dialect says (see
    /// [`crate::nested`]): checked once per process.
    pub(crate) nested_confirmed: Arc<std::sync::atomic::AtomicBool>,
    /// Held while a nested insert is confirmed, so the first wave of concurrent inserts
    /// waits for one confirmation instead of each reading its key back.
    pub(crate) nested_confirming: Arc<tokio::sync::Mutex<()>>,
}

impl CrmClient {
    /// Builds the client. A URL carrying a user name or password is refused: the master
    /// login goes in the request body, and credentials in a URL end up in logs.
    pub fn new(cfg: CrmConfig) -> Result<Self, CrmError> {
        if !cfg.url.username().is_empty() || cfg.url.password().is_some() {
            return Err(CrmError::InvalidRequest(
                "the CRM.interface URL must not carry a user name or password; give the master user and its password in the configuration".into(),
            ));
        }
        let mut builder = reqwest::Client::builder().timeout(cfg.timeout);
        if let Some(pem) = &cfg.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| {
                CrmError::InvalidRequest("the CA file is not a PEM certificate".into())
            })?;
            if certs.is_empty() {
                return Err(CrmError::InvalidRequest(
                    "the CA file holds no certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| CrmError::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            slots: Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1))),
            cfg: Arc::new(cfg),
            turns: Arc::new(Mutex::new(HashMap::new())),
            nested_confirmed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            nested_confirming: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Waits until no other request for `rep` is running; the guard is its turn.
    async fn turn(&self, rep: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self
                .turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(rep.trim().to_ascii_lowercase())
                .or_default()
                .clone()
        };
        m.lock_owned().await
    }

    /// The time zone of CRM dates and times.
    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.cfg.time_zone
    }

    /// The configuration.
    pub fn config(&self) -> &CrmConfig {
        &self.cfg
    }

    /// The protocol dialect in use.
    pub fn dialect(&self) -> &Dialect {
        &self.cfg.dialect
    }

    /// Acts as the master user (rep lists, catalogs, diagnostics).
    pub fn master(&self) -> CrmSession<'_> {
        CrmSession {
            client: self,
            rep_email: None,
        }
    }

    /// Acts for the rep with this e-mail address (`impersonate="email=…"`).
    pub fn as_rep<'a>(&'a self, email: &'a str) -> CrmSession<'a> {
        CrmSession {
            client: self,
            rep_email: Some(email),
        }
    }

    /// Whether the error carries one of the configured codes to watch.
    pub fn is_watched(&self, err: &CrmError) -> bool {
        err.code()
            .is_some_and(|c| self.cfg.watch_codes.contains(&c.code()))
    }
}
