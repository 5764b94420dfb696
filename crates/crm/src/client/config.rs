//! The client's settings: where CRM.interface is, the master login, timeouts, retries,
//! watched codes, the dialect, the write batch and concurrency. Apart from the client because
//! they are what the connector's configuration fills in, and read without any of its code.

use std::time::Duration;

use secrecy::SecretString;

#[cfg(doc)]
use super::CrmClient;
use crate::dialect::Dialect;

/// The documented batch size of Aurea's connectors: at most this many items per write request
/// (the default of [`CrmConfig::write_batch`]).
pub const WRITE_BATCH: usize = 10;

/// Retry behaviour.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts including the first one.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for every further retry.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct CrmConfig {
    /// Full URL of the CRM.interface endpoint (no path is standard; it is configuration).
    pub url: url::Url,
    /// Master user login (e.g. `OCSU`).
    pub user: String,
    /// Master user password.
    pub password: SecretString,
    /// Session language (`lang`), e.g. `en`.
    pub lang: Option<String>,
    /// HTTP timeout per request (the original's default is 60 s).
    pub timeout: Duration,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// CRM.interface error codes to watch (the original's "error codes to monitor", e.g.
    /// 500 and 511): they are logged at warning level and [`CrmClient::is_watched`] lets the
    /// caller count them towards "stop after N errors".
    pub watch_codes: Vec<u16>,
    /// Additional codes (besides 506/511) after which a request is retried.
    pub retry_codes: Vec<u16>,
    /// Table/field names and protocol conventions.
    pub dialect: Dialect,
    /// Time zone of the dates and times CRM stores (`[crm] time_zone`): activities are
    /// written in it and times read from CRM are interpreted in it.
    pub time_zone: jiff::tz::TimeZone,
    /// Extra CA certificates (PEM) to trust, e.g. a company CA in front of CRM.interface.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// At most this many records per write request (`[crm] batch_size`).
    pub write_batch: usize,
    /// At most this many requests in flight to CRM.interface from this client, all reps
    /// together (`[crm] concurrency`); each rep still sends one at a time.
    pub concurrency: usize,
    /// Whether CRM.interface has its documented protection against executing the same
    /// request twice (`[crm] duplicate_protection`, default on). Off, a write that may have
    /// reached CRM (its answer was lost, a timeout, a 5xx) is not re-sent: the error goes to
    /// the caller, whose next attempt finds what was written by its marker.
    pub duplicate_protection: bool,
}

impl CrmConfig {
    /// Settings with the defaults of the original connector.
    pub fn new(url: url::Url, user: impl Into<String>, password: SecretString) -> Self {
        Self {
            url,
            user: user.into(),
            password,
            lang: Some("en".into()),
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            watch_codes: vec![500, 511],
            retry_codes: Vec::new(),
            dialect: Dialect::default(),
            time_zone: jiff::tz::TimeZone::UTC,
            extra_ca_pem: None,
            write_batch: WRITE_BATCH,
            concurrency: 4,
            duplicate_protection: true,
        }
    }
}
