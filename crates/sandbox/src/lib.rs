//! gc-sandbox: a local Microsoft 365 tenant for trying and testing the connector.
//!
//! One listener serves a faithful subset of Microsoft Graph v1.0 under `/v1.0/…`, the Microsoft
//! identity platform token endpoint under `/{tenant}/oauth2/v2.0/token`, the sandbox's own control
//! API under `/_sandbox/…`, and CRM.interface under `/crm/interface`. Data is generated from a
//! seed, so the same seed always gives the same tenant. See docs/SANDBOX.md.
//!
//! This crate never depends on gc-graph or gc-crm: its wire shapes are written independently from
//! the research notes, so that it can catch the clients' mistakes instead of sharing them.

pub mod crm;
pub mod faults;
pub mod migrated;
pub mod monitor;
pub mod people;

mod auth;
mod control;
mod delta;
mod error;
mod filter;
mod graph;
mod ids;
mod lazy;
mod mime;
mod seed;
mod server;
mod store;
mod subscriptions;
mod throttle;
mod tls;
mod tz;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use faults::{Fault, FaultPlan, FaultSpec, FaultSpecError};
pub use monitor::{Monitor, RequestStats, SeenRequest, Target, Tripwire, TripwireHandle, When};
pub use people::{Company, Directory, Person, PersonKind};

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Number of member users in the tenant (one of them has no mailbox).
    pub users: usize,
    /// Seed for all generated data and for fault decisions.
    pub seed: u64,
    /// Serve HTTPS with a generated CA and server certificate.
    pub tls: bool,
    /// Fault probabilities (`--faults`).
    pub faults: FaultSpec,
    /// Latency added to every request (`--latency-ms`).
    pub latency_ms: u64,
    /// Lifetime of issued access tokens (Entra: 3599 s).
    pub token_lifetime: Duration,
    /// How long a `$deltatoken` stays valid before it answers 410 `SyncStateNotFound`.
    pub delta_token_ttl: Duration,
    /// How long a `$skiptoken` (nextLink) stays valid.
    pub skip_token_ttl: Duration,
    /// Concurrent requests allowed per mailbox before 429 (Outlook: 4).
    pub mailbox_concurrency: usize,
    /// Requests allowed per mailbox per [`SandboxOptions::budget_window`] (Outlook: 10,000 / 10 min).
    pub mailbox_budget: u32,
    pub budget_window: Duration,
    /// Messages generated per mailbox (spread over its folders).
    pub messages_per_mailbox: usize,
    /// Generate each mailbox's content the first time something touches it (a Graph request
    /// naming the user, a control call, a delivery) instead of at start, so that a tenant of
    /// 10,000 users fits a small machine (`--lazy`). Lazy mailboxes hold per-mailbox content
    /// only: no message shared between colleagues, no calendar, contacts or tasks, and
    /// `messages_per_mailbox` short Inbox messages (docs/SANDBOX.md, "Large tenants").
    pub lazy_mailboxes: bool,
    /// A certificate (PEM) registered on the app for `client_assertion`; when `None` the built-in
    /// demo certificate ([`demo_client_certificate`]) is registered.
    pub client_certificate_pem: Option<String>,
    /// The names CRM.interface is served under (`--crm-dialect`); default: the connector's
    /// default names.
    pub crm_dialect: crm::CrmDialect,
    /// Seed a tenant "migrated from the EWS connector" (see [`migrated`]): events and messages
    /// whose CRM records the previous connector wrote, keyed by EWS ids, hex entry ids, the
    /// `iCalUId`, or not at all; the generated configuration sets `[crm] time_zone = "UTC"`.
    pub migrated_from_ews: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: 10,
            seed: 1,
            tls: false,
            faults: FaultSpec::default(),
            latency_ms: 0,
            token_lifetime: Duration::from_secs(3599),
            delta_token_ttl: Duration::from_secs(7 * 24 * 3600),
            skip_token_ttl: Duration::from_secs(3600),
            mailbox_concurrency: 4,
            mailbox_budget: 10_000,
            budget_window: Duration::from_secs(600),
            messages_per_mailbox: 40,
            lazy_mailboxes: false,
            client_certificate_pem: None,
            crm_dialect: crm::CrmDialect::default(),
            migrated_from_ews: false,
        }
    }
}

/// Secrets and ids a client needs to talk to the sandbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub crm_master_user: String,
    pub crm_password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("crm_master_user", &self.crm_master_user)
            .field("crm_password", &"<redacted>")
            .finish()
    }
}

/// Errors starting or driving a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid registered certificate: {0}")]
    Certificate(String),
    #[error("{0}")]
    State(String),
}

/// The built-in demo client certificate and its private key (PEM), registered on the sandbox app
/// unless [`SandboxOptions::client_certificate_pem`] says otherwise. Not a secret: sandbox only.
pub fn demo_client_certificate() -> (&'static str, &'static str) {
    (auth::DEMO_CLIENT_CERT_PEM, auth::DEMO_CLIENT_KEY_PEM)
}

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] leaves the server running until
/// the runtime ends.
pub struct Sandbox {
    shared: Arc<server::Shared>,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    /// Compares subscribed resources and delivers change notifications.
    watcher: tokio::task::JoinHandle<()>,
    ca_pem: Option<String>,
    /// The migrated tenant's items whose CRM records exist already (empty unless
    /// [`SandboxOptions::migrated_from_ews`]).
    migrated: Vec<migrated::MigratedItem>,
    /// The previous connector's records the CRM side was seeded with.
    legacy: Vec<crm::LegacyItem>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("url", &self.url()).finish()
    }
}

/// Starts a sandbox and returns once it accepts connections.
pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
    let listener =
        std::net::TcpListener::bind(opts.listen).map_err(|source| SandboxError::Bind {
            addr: opts.listen,
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| SandboxError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: opts.listen,
        source,
    })?;
    let scheme = if opts.tls { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");

    let shared = Arc::new(server::Shared::new(opts.clone(), url)?);
    let router = server::router(shared.clone());
    let watcher = tokio::spawn(subscriptions::Subscriptions::watch(shared.clone()));

    // The previous connector's records: keyed by iCalUId and internetMessageId, and for a
    // migrated tenant also by EWS ids, entry ids and content only.
    let mut legacy = crm::legacy_from_tenant(&StateHandle { shared: &shared }, &shared.directory);
    let mut legacy_records = Vec::new();
    let migrated = if opts.migrated_from_ews {
        let (records, kept, items) = migrated::prepare(&shared);
        legacy.extend(records);
        legacy_records = kept;
        items
    } else {
        Vec::new()
    };
    // ==== CRM.interface (owned by the CRM agent): merge `crm::router(...)` here. ====
    let crm_state = crm::CrmSandbox::new(
        shared.directory.clone(),
        shared.faults.clone(),
        crm::CrmOptions {
            master_user: shared.creds.crm_master_user.clone(),
            password: shared.creds.crm_password.clone(),
            seed: opts.seed,
            legacy: legacy.clone(),
            legacy_records,
            monitor: Some(shared.monitor.clone()),
            dialect: opts.crm_dialect.clone(),
            ..crm::CrmOptions::default()
        },
    )
    .await
    .map_err(|e| SandboxError::State(e.to_string()))?;
    let router = router.merge(crm::router(Arc::new(crm_state)));
    // ==== end CRM.interface ====

    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let (task, ca_pem) = if opts.tls {
        let material = tls::generate(&addr).map_err(SandboxError::Tls)?;
        let config = tls::server_config(&material).map_err(SandboxError::Tls)?;
        let server = axum_server::from_tcp_rustls(listener, config)
            .map_err(|source| SandboxError::Bind { addr, source })?
            .handle(handle.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = server.serve(app).await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        (task, Some(material.ca_pem))
    } else {
        let server = axum_server::from_tcp(listener)
            .map_err(|source| SandboxError::Bind { addr, source })?
            .handle(handle.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = server.serve(app).await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        (task, None)
    };
    handle.listening().await;
    Ok(Sandbox {
        shared,
        handle,
        task,
        watcher,
        ca_pem,
        migrated,
        legacy,
    })
}

impl Sandbox {
    /// `http(s)://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The items of a tenant migrated from the EWS connector whose CRM records exist (see
    /// [`migrated`]); empty for an ordinary tenant.
    pub fn migrated_items(&self) -> &[migrated::MigratedItem] {
        &self.migrated
    }

    /// The previous connector's records the CRM side was seeded with (for a CRM.interface
    /// served separately, seeded the same way).
    pub fn legacy_items(&self) -> &[crm::LegacyItem] {
        &self.legacy
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.creds
    }

    pub fn directory(&self) -> &Directory {
        &self.shared.directory
    }

    /// The fault switches (shared with the CRM side).
    pub fn faults(&self) -> &Arc<FaultPlan> {
        &self.shared.faults
    }

    /// The request counter and trip wires (shared with the CRM side; pass it to a CRM.interface
    /// served on its own through [`crm::CrmOptions::monitor`]).
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.shared.monitor
    }

    /// Requests counted so far (`GET /_sandbox/stats`).
    pub fn stats(&self) -> RequestStats {
        self.shared.monitor.stats()
    }

    /// Sets the request counts back to zero (`POST /_sandbox/stats/reset`).
    pub fn reset_stats(&self) {
        self.shared.monitor.reset_stats();
    }

    /// Arms a trip wire: `action` runs when the `wire.nth` request matching `wire.target`
    /// (counted from now) reaches `wire.when`, and that exchange is cut. For fault tests that
    /// must hit the same point of the work on any machine, e.g. SIGKILL the connector right
    /// after its 5th activity insert was written. See [`Monitor::arm_tripwire`].
    pub fn arm_tripwire(
        &self,
        wire: Tripwire,
        action: impl Fn() + Send + Sync + 'static,
    ) -> TripwireHandle {
        self.shared.monitor.arm_tripwire(wire, action)
    }

    /// Arms a trip wire that counts only the requests `select` chooses among those matching
    /// `wire.target`, e.g. the one activity insert whose external key is an occurrence's.
    /// See [`Monitor::arm_tripwire_where`].
    pub fn arm_tripwire_where(
        &self,
        wire: Tripwire,
        select: impl Fn(&SeenRequest<'_>) -> bool + Send + Sync + 'static,
        action: impl Fn() + Send + Sync + 'static,
    ) -> TripwireHandle {
        self.shared.monitor.arm_tripwire_where(wire, select, action)
    }

    /// The change-notification subscriptions as Graph renders them (`GET /_sandbox/subscriptions`).
    pub fn subscriptions(&self) -> Vec<serde_json::Value> {
        self.shared.subscriptions.list()
    }

    /// Notification switches and counters (`GET /_sandbox/notifications`).
    pub fn notifications(&self) -> NotificationKnobs {
        self.shared.subscriptions.knobs()
    }

    /// Drop the next `drop_next` notifications and/or delay every delivery by `delay_ms`
    /// (`POST /_sandbox/notifications`).
    pub fn set_notifications(
        &self,
        drop_next: Option<u32>,
        delay_ms: Option<u64>,
    ) -> NotificationKnobs {
        self.shared.subscriptions.set_knobs(drop_next, delay_ms)
    }

    /// Send the lifecycle event `event` (`reauthorizationRequired`, `subscriptionRemoved`,
    /// `missed`) of subscription `id` to its `lifecycleNotificationUrl`
    /// (`POST /_sandbox/subscriptions/{id}/lifecycle`).
    pub async fn lifecycle_event(&self, id: &str, event: &str) -> Result<(), SandboxError> {
        self.shared
            .subscriptions
            .lifecycle(&self.shared, id, event)
            .await
            .map_err(SandboxError::State)
    }

    /// The CA certificate (PEM) that signed the server certificate, with `--tls`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A complete connector configuration pointing at this sandbox (state DB and CA paths
    /// relative to the working directory; see [`Sandbox::write_config`] for absolute ones).
    pub fn config_toml(&self) -> String {
        self.render_config(None)
    }

    /// Writes [`Sandbox::config_toml`] to `path`, with the state database next to it, and with
    /// `--tls` the CA certificate next to it as `<stem>-ca.pem`.
    pub fn write_config(&self, path: &Path) -> Result<(), SandboxError> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if let Some(ca) = &self.ca_pem {
            let ca_path = self.ca_path_in(&dir, path);
            write_private(&ca_path, ca)?;
        }
        let text = self.render_config(Some((&dir, path)));
        write_private(path, &text)
    }

    fn ca_path_in(&self, dir: &Path, config: &Path) -> PathBuf {
        let stem = config
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sandbox");
        dir.join(format!("{stem}-ca.pem"))
    }

    fn render_config(&self, at: Option<(&Path, &Path)>) -> String {
        let c = &self.shared.creds;
        let url = self.url();
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let (db, ca) = match at {
            Some((dir, config)) => (
                format!(
                    "sqlite://{}",
                    dir.join("graph-connector-sandbox.db").display()
                ),
                self.ca_path_in(dir, config).display().to_string(),
            ),
            None => (
                "sqlite://graph-connector-sandbox.db".to_owned(),
                "sandbox-ca.pem".to_owned(),
            ),
        };
        let ca_line = if self.ca_pem.is_some() {
            format!("ca_file = {}\n", q(&ca))
        } else {
            String::new()
        };
        format!(
            "# Generated by the graph-connector sandbox (seed {seed}). Points at {url}.\n\
             [microsoft]\n\
             tenant_id = {tenant}\n\
             client_id = {client}\n\
             client_secret = {secret}\n\
             admin_email = {admin}\n\
             managed_domains = [{domain}]\n\
             graph_url = {graph}\n\
             login_url = {login}\n\
             {ca_line}\n\
             [crm]\n\
             interface_url = {crm}\n\
             master_user = {master}\n\
             password = {password}\n\
             {tz_line}{ca_line}\n\
             [state]\n\
             url = {db}\n{adoption}",
            seed = self.shared.opts.seed,
            tenant = q(&c.tenant_id),
            client = q(&c.client_id),
            secret = q(&c.client_secret),
            admin = q(&self.shared.directory.admin().email),
            domain = q(&self.shared.directory.domain),
            graph = q(&url),
            login = q(&url),
            crm = q(&format!("{url}/crm/interface")),
            master = q(&c.crm_master_user),
            password = q(&c.crm_password),
            db = q(&db),
            // A switch-over from the EWS connector is what content matching is for: the
            // connector leaves it off by default (a look-alike may be another item in flight).
            adoption = if self.shared.opts.migrated_from_ews {
                "\n[adoption]\ncontent_match = true\n"
            } else {
                ""
            },
            tz_line = if self.shared.opts.migrated_from_ews {
                "time_zone = \"UTC\"\n"
            } else {
                ""
            },
        )
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {
        self.watcher.abort();
        self.handle.graceful_shutdown(Some(Duration::from_secs(1)));
        let _ = self.task.await;
    }

    /// Direct access to tenant state for tests and demos.
    pub fn state(&self) -> StateHandle<'_> {
        StateHandle {
            shared: &self.shared,
        }
    }
}

/// Writes a file only its owner can read (mode 0600 on Unix): the configuration holds the
/// sandbox's client secret and CRM password. An existing file is truncated and gets the mode
/// too.
pub fn write_private(path: &Path, text: &str) -> Result<(), SandboxError> {
    use std::io::Write as _;
    let fail = |source| SandboxError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let file = options.open(path).map_err(fail)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        let mut file = file;
        file.write_all(text.as_bytes()).map_err(fail)
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path).map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)
    }
}

pub use auth::{AuthControl, DEFAULT_ROLES};
pub use store::{FolderCount, MessageSummary, NewMessage, StateError, StateHandle};
pub use subscriptions::NotificationKnobs;
