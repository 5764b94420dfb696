//! The process itself: `[state]` (the store, with [`DatabaseUrl`] redacting its password),
//! `[admin]`, `[notifications]`, `[service]` and `[logging]`; settings of how the connector
//! runs rather than of what it synchronizes.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// `[state]`: the sync state store.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct State {
    pub url: DatabaseUrl,
    pub url_file: Option<PathBuf>,
    pub ledger_retention_days: u32,
    pub lease_seconds: u32,
    /// The name this process goes by in leases and on the admin page (default: the host
    /// name); the process id and its start time are always added, so two processes given one
    /// name by mistake still never share a lease.
    pub instance_name: Option<String>,
    /// Connections to the state database the process keeps open (default: 1 for a SQLite
    /// file, 8 for PostgreSQL). One SQLite connection does every read and write of the
    /// process: SQLite runs one write at a time anyway, and a connection whose cache another
    /// one's commit made stale reads its pages again (docs/STORE.md, "Connections").
    pub connections: Option<u32>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            url: DatabaseUrl("sqlite://graph-connector.db".into()),
            url_file: None,
            ledger_retention_days: 180,
            lease_seconds: 120,
            instance_name: None,
            connections: None,
        }
    }
}

/// A database URL. It may carry a password (`postgres://user:secret@host/db`, or
/// `?password=…`/`?sslpassword=…` in the query), so `Debug` and `Display` show it redacted.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL itself, for opening the store. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL's scheme (`sqlite`, `postgres`, …), if it has one.
    pub fn scheme(&self) -> Option<&str> {
        self.0.split_once("://").map(|(s, _)| s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&gc_store::redact_url(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `[admin]`: the admin web page, JSON API and metrics.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    pub enabled: bool,
    pub listen: String,
    pub token: Option<SecretString>,
    pub token_file: Option<PathBuf>,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:8089".into(),
            token: None,
            token_file: None,
        }
    }
}

/// `[notifications]`: change notifications from Microsoft Graph (see docs/NOTIFICATIONS.md).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notifications {
    pub enabled: bool,
    /// The public HTTPS address Graph POSTs notifications to; it must reach `listen` (usually
    /// through the administrator's reverse proxy). Lifecycle events go to it + `/lifecycle`.
    pub notification_url: String,
    /// The listener of the notification endpoint (separate from the admin page, which must
    /// not be public).
    pub listen: String,
    /// Polling interval of a (mailbox, kind) whose subscription is live: the safety net for
    /// notifications that never arrive.
    pub safety_net_minutes: u32,
    /// A subscription is renewed when less than this is left of it.
    pub renew_before_minutes: u32,
    /// How long the first notification of a quiet moment waits for others before their pairs
    /// start together (0: each at once). Runs started together share the machine's warm
    /// caches; started one by one, each pays the cost of a cold start (docs/PERFORMANCE.md,
    /// "10,000 mailboxes").
    pub gather_ms: u32,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            enabled: false,
            notification_url: String::new(),
            listen: "127.0.0.1:8090".into(),
            safety_net_minutes: 60,
            renew_before_minutes: 1440,
            gather_ms: 1000,
        }
    }
}

/// `[service]`: the process itself, read once at start (a change needs a restart).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Threads of the async runtime of the commands that work mailboxes (`run`, `sync`);
    /// 0: one per CPU core. The connector mostly waits for Graph, CRM and the store, and one
    /// thread spends less CPU per item than one per core (docs/PERFORMANCE.md, "10,000
    /// mailboxes"): the threads' hand-overs cost more than the work they share.
    pub worker_threads: u32,
}

impl Default for Service {
    fn default() -> Self {
        Self { worker_threads: 1 }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    Pretty,
    Json,
}

/// `[logging]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    pub level: String,
    pub format: LogFormat,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}
