//! The typed configuration. Field names are the TOML keys; `config/example.toml` documents each
//! one and is the single place where defaults are explained to users.
//!
//! Every section is `#[serde(default, deny_unknown_fields)]`: a missing key takes its default, and
//! an unknown key is reported (with a suggestion) by [`super::load`] instead of being silently
//! ignored.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub microsoft: Microsoft,
    pub crm: Crm,
    pub state: State,
    pub mailboxes: Mailboxes,
    pub emails: Emails,
    pub appointments: Appointments,
    pub tasks: Tasks,
    pub contacts: Contacts,
    pub absences: Absences,
    pub errors: Errors,
    pub admin: Admin,
    pub notifications: Notifications,
    pub logging: Logging,
    pub adoption: super::adoption::Adoption,
    pub service: Service,
}

/// `[microsoft]`: the Entra app registration and the tenant.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Microsoft {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub certificate_password: Option<SecretString>,
    pub certificate_password_file: Option<PathBuf>,
    pub certificate_algorithm: CertificateAlgorithm,
    /// When the client secret expires (Entra shows it; reading it from Microsoft needs a
    /// permission the connector does not have), for the expiry alert and metric.
    pub client_secret_expires: Option<jiff::civil::Date>,
    pub admin_email: String,
    /// Messages `admin_email` may send per rolling minute (notices and alerts; 0: no limit).
    /// Exchange Online's published limit for one mailbox is 30.
    pub admin_sends_per_minute: u32,
    /// Recipients `admin_email` may reach per rolling 24 hours (0: no limit). Exchange
    /// Online's published limit is 10,000; a mailbox over it is blocked from sending for a day.
    pub admin_recipients_per_day: u32,
    pub managed_domains: Vec<String>,
    pub graph_url: String,
    pub login_url: String,
    pub ca_file: Option<PathBuf>,
    pub mailbox_concurrency: u32,
    /// The tenant-wide Graph budget of this process. Outlook's limits are per app and
    /// mailbox (4 concurrent, 10,000 per 10 minutes, both enforced per mailbox anyway); the
    /// only app-wide one Microsoft documents is 2,000 requests per second, so the default takes
    /// a quarter of it, which leaves room for up to four processes sharing the app.
    pub requests_per_second: u32,
    /// Items per page asked of list and delta requests (`Prefer: odata.maxpagesize`). Graph's
    /// own default for message delta is 10, and so is this one's: pages of 50 were faster
    /// but made the appointments model test's crash runs fail once (docs/PERFORMANCE.md).
    pub page_size: u32,
}

impl Default for Microsoft {
    fn default() -> Self {
        Self {
            tenant_id: String::new(),
            client_id: String::new(),
            client_secret: None,
            client_secret_file: None,
            certificate: None,
            certificate_password: None,
            certificate_password_file: None,
            certificate_algorithm: CertificateAlgorithm::Ps256,
            client_secret_expires: None,
            admin_email: String::new(),
            admin_sends_per_minute: 30,
            admin_recipients_per_day: 10_000,
            managed_domains: Vec::new(),
            graph_url: "https://graph.microsoft.com".into(),
            login_url: "https://login.microsoftonline.com".into(),
            ca_file: None,
            mailbox_concurrency: 4,
            requests_per_second: 500,
            page_size: 10,
        }
    }
}

impl Microsoft {
    /// Whether `address` belongs to one of the managed domains (case-insensitive).
    pub fn is_managed_address(&self, address: &str) -> bool {
        let Some((_, domain)) = address.rsplit_once('@') else {
            return false;
        };
        self.managed_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// Signature algorithm of the certificate client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateAlgorithm {
    /// PS256 with the `x5t#S256` header: Microsoft's current guidance.
    Ps256,
    /// RS256 with the `x5t` (SHA-1) header: older guidance, still accepted.
    Rs256,
}

/// `[crm]`: CRM.interface.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Crm {
    pub interface_url: String,
    pub master_user: String,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    pub forms_xml: Option<PathBuf>,
    pub language: String,
    pub ca_file: Option<PathBuf>,
    pub batch_size: u32,
    /// CRM.interface requests at once for the whole process. Requests for one rep always go
    /// one after the other (CRM.interface answers a second one with "User is already
    /// active"), so this is how many reps are served at once.
    pub concurrency: u32,
    /// Whether CRM.interface protects against executing the same request twice (Aurea
    /// documents it); off, a write whose answer was lost is not re-sent.
    pub duplicate_protection: bool,
    /// IANA name of the zone CRM dates and times are in; `None`: the machine's zone.
    pub time_zone: Option<String>,
    /// Table and field names and protocol conventions of this installation
    /// (`[crm.dialect]`, every key optional; see docs/CRM-INTERFACE.md).
    pub dialect: gc_crm::Dialect,
}

impl Default for Crm {
    fn default() -> Self {
        Self {
            interface_url: String::new(),
            master_user: "OCSU".into(),
            password: None,
            password_file: None,
            forms_xml: None,
            language: "en".into(),
            ca_file: None,
            batch_size: 10,
            concurrency: 16,
            duplicate_protection: true,
            time_zone: None,
            dialect: gc_crm::Dialect::default(),
        }
    }
}

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
}

impl Default for State {
    fn default() -> Self {
        Self {
            url: DatabaseUrl("sqlite://graph-connector.db".into()),
            url_file: None,
            ledger_retention_days: 180,
            lease_seconds: 120,
            instance_name: None,
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

/// `[mailboxes]`: which mailboxes are synchronized and how many at once.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mailboxes {
    pub refresh_interval_minutes: u32,
    /// Mailboxes worked at once: `"auto"` (from the bound, see [`Parallel`]) or a number.
    pub parallel: Parallel,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Megabytes of item content (small documents written with their activity) the whole
    /// process holds in memory at once; downloads are parked in temporary files and big
    /// documents streamed from there.
    pub memory_budget_mb: u32,
    /// Honour each rep's `UserSettings` (`<SyncSettings>` overrides of the global settings).
    pub user_settings: bool,
    /// The unit of `AttachSizeLimit` in `UserSettings` (Aurea does not document it).
    pub user_settings_size_unit: SizeUnitSetting,
    /// On the first sync of a mailbox (per kind), items dated before this day (in `[crm]
    /// time_zone`) are left alone: for migrations from another connector.
    pub sync_from: Option<jiff::civil::Date>,
    /// "Enable after review": a mailbox (per kind) whose first sync would create more than
    /// this many records, or delete any, waits for the administrator's confirmation
    /// (`graph-connector confirm`, the admin page) instead of syncing. 0: no review. 500 by
    /// default: a rollout should not file a whole mailbox's backlog unseen.
    pub confirm_first_sync_above: u64,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Self {
            refresh_interval_minutes: 1440,
            parallel: Parallel::Auto,
            include: Vec::new(),
            exclude: Vec::new(),
            memory_budget_mb: 16,
            user_settings: true,
            user_settings_size_unit: SizeUnitSetting::Kb,
            sync_from: None,
            confirm_first_sync_above: 500,
        }
    }
}

/// `[mailboxes] user_settings_size_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeUnitSetting {
    Bytes,
    Kb,
    Mb,
}

/// `[mailboxes] parallel`: how many mailboxes are worked at once.
///
/// A mailbox's work is bounded by itself, not by the others: Graph allows it 4 concurrent
/// requests (`[microsoft] mailbox_concurrency`) and CRM.interface one request at a time per
/// rep. So the bound of a tenant grows with every mailbox worked at once, and `"auto"` works
/// them all at once, up to `[microsoft] requests_per_second` of them (the tenant-wide Graph
/// budget: each running mailbox should get at least one request a second). A number fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallel {
    /// From the bound: every mailbox, at most `requests_per_second`.
    Auto,
    /// This many.
    Fixed(u32),
}

impl Parallel {
    /// Mailboxes to work at once for `mailboxes` mailboxes (at least 1).
    pub fn resolve(self, mailboxes: usize, requests_per_second: u32) -> usize {
        match self {
            Parallel::Auto => mailboxes.min(requests_per_second.max(1) as usize).max(1),
            Parallel::Fixed(n) => (n as usize).max(1),
        }
    }
}

impl<'de> Deserialize<'de> for Parallel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Parallel::Fixed(n)),
            Raw::Text(t) if t.trim().eq_ignore_ascii_case("auto") => Ok(Parallel::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "{t:?} is neither \"auto\" nor a number of mailboxes"
            ))),
        }
    }
}

/// What happens to a message's attachments when it is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentMode {
    None,
    All,
    /// Only attachments up to `max_attachment_kb`.
    Limited,
}

/// `[emails]`: filing messages from the sync folder as CRM activities.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Emails {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub sync_folder: String,
    pub create_sync_folder: bool,
    pub success_folder: String,
    pub failure_folder: String,
    pub activity_type: String,
    pub html_body: bool,
    pub max_body_chars: u32,
    pub strip_html_comments: bool,
    pub attachments: AttachmentMode,
    pub max_attachment_kb: u32,
    pub whole_message: bool,
    pub max_message_kb: u32,
    pub sync_when_owner_not_recipient: bool,
    pub validate_license: bool,
    pub categorize: bool,
    pub category: String,
    pub notify_user_on_failure: bool,
    /// Tell the user when a filed message's body was cut at `max_body_chars`.
    pub warn_user_on_truncated_body: bool,
    /// Tell the user when an attachment of a filed message was not stored.
    pub warn_user_on_skipped_attachment: bool,
}

impl Default for Emails {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            sync_folder: "/Inbox/crm".into(),
            create_sync_folder: true,
            success_folder: "Sync_Success".into(),
            failure_folder: "Sync_Failure".into(),
            activity_type: "E-Mail".into(),
            html_body: true,
            max_body_chars: 32_000,
            strip_html_comments: true,
            attachments: AttachmentMode::All,
            max_attachment_kb: 10_240,
            whole_message: false,
            max_message_kb: 25_600,
            sync_when_owner_not_recipient: false,
            validate_license: false,
            categorize: true,
            category: "Aurea CRM".into(),
            notify_user_on_failure: true,
            warn_user_on_truncated_body: true,
            warn_user_on_skipped_attachment: true,
        }
    }
}

/// `[appointments]`: calendar events, both ways, within a window.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Appointments {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub types: Vec<String>,
    /// Activity type of appointments written from Microsoft 365 (catalog text).
    pub activity_type: String,
    pub sync_deletions: bool,
    pub deletion_window_days: u32,
    pub sync_private: bool,
    /// Which ways appointments travel.
    pub direction: AppointmentDirection,
    /// Which side wins when both changed.
    pub conflict: AppointmentConflict,
    /// How often the CRM source walks the whole window (which finds CRM deletions).
    pub full_walk_minutes: u32,
    /// Length of an event made from a CRM appointment without an end or a duration.
    pub default_duration_minutes: u32,
}

/// `[appointments] direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentDirection {
    /// Both ways.
    #[default]
    Both,
    /// Events to CRM only.
    #[serde(rename = "microsoft365_to_crm")]
    Microsoft365ToCrm,
}

/// `[appointments] conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentConflict {
    /// The event wins.
    #[serde(rename = "microsoft365")]
    Microsoft365,
    /// The CRM appointment wins.
    Crm,
    /// The side changed last wins.
    #[default]
    Newest,
}

impl Default for Appointments {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            days_past: 7,
            days_future: 7,
            types: Vec::new(),
            activity_type: "Meeting".into(),
            sync_deletions: true,
            deletion_window_days: 30,
            sync_private: true,
            direction: AppointmentDirection::Both,
            conflict: AppointmentConflict::Newest,
            full_walk_minutes: 60,
            default_duration_minutes: 30,
        }
    }
}

/// Which way title and date edits of tasks flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskDirection {
    /// CRM → Microsoft To Do; only the status comes back.
    #[default]
    CrmToMicrosoft365,
    /// Title, start and due date edits in To Do go back to CRM too.
    Both,
}

/// `[tasks]`: CRM tasks to Microsoft To Do.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tasks {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub list_name: String,
    pub direction: TaskDirection,
    /// The window is walked in full (deletions in CRM found) at least this often.
    pub full_walk_minutes: u32,
    /// CRM status texts for To Do's statuses.
    pub status_not_started: String,
    pub status_in_progress: String,
    pub status_completed: String,
    pub status_waiting: String,
    pub status_deferred: String,
    /// CRM priority texts for To Do's high and low importance.
    pub priority_high: String,
    pub priority_low: String,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            days_past: 7,
            days_future: 7,
            list_name: "CRM".into(),
            direction: TaskDirection::default(),
            full_walk_minutes: 60,
            status_not_started: "Open".into(),
            status_in_progress: "In progress".into(),
            status_completed: "Completed".into(),
            status_waiting: "Waiting".into(),
            status_deferred: "Deferred".into(),
            priority_high: "High".into(),
            priority_low: "Low".into(),
        }
    }
}

/// Where synchronized CRM persons live in the rep's contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactTarget {
    Folder,
    Category,
}

/// `[contacts]`: CRM persons to the rep's contacts.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contacts {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub target: ContactTarget,
    pub folder_name: String,
    pub category: String,
    /// Select the persons of the companies whose responsible rep is the rep.
    pub responsible_companies: bool,
    /// Also select the persons of the rep's activities of the last N days (0: not).
    pub activity_days: u32,
}

impl Default for Contacts {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 1440,
            target: ContactTarget::Folder,
            folder_name: "CRM".into(),
            category: "CRM".into(),
            responsible_companies: true,
            activity_days: 90,
        }
    }
}

/// Free/busy status of an absence event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowAs {
    Oof,
    Busy,
    Tentative,
    Free,
}

/// `[absences]`: CRM absences to calendar events.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Absences {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub show_as: ShowAs,
    /// The subject of an absence event whose absence has no type.
    pub subject: String,
}

impl Default for Absences {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 60,
            days_past: 7,
            days_future: 90,
            show_as: ShowAs::Oof,
            subject: "Absence".into(),
        }
    }
}

/// `[errors]`: retries, timeouts and when to give up.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Errors {
    pub max_retries: u32,
    pub initial_backoff_seconds: u32,
    pub max_backoff_seconds: u32,
    pub graph_timeout_seconds: u32,
    pub crm_timeout_seconds: u32,
    pub crm_error_codes: Vec<u32>,
    pub stop_after_errors: u32,
    pub exclude_after_access_errors: u32,
    pub exclusion_minutes: u32,
    pub item_retry_limit: u32,
    pub item_retry_minutes: u32,
    pub notify_admin: bool,
    /// Alert this many days before the client secret or certificate expires.
    pub expiry_warning_days: u32,
    /// The same alert is sent at most once per this many hours.
    pub alert_repeat_hours: u32,
    /// Alert when a mailbox's delta checkpoint expired this many times within a day.
    pub delta_resets_alert: u32,
    /// The mass-delete guard: a run that would delete (or mark deleted) more than this
    /// fraction of a mailbox's linked items of one kind, or finds a side empty while links
    /// exist, deletes nothing and waits for the administrator's confirmation.
    pub max_delete_fraction: f64,
    /// Runs deleting fewer items than this are never held by the guard.
    pub delete_guard_min: u32,
}

impl Default for Errors {
    fn default() -> Self {
        Self {
            max_retries: 6,
            initial_backoff_seconds: 1,
            max_backoff_seconds: 300,
            graph_timeout_seconds: 100,
            crm_timeout_seconds: 120,
            crm_error_codes: vec![500, 511],
            stop_after_errors: 50,
            exclude_after_access_errors: 3,
            exclusion_minutes: 1440,
            item_retry_limit: 10,
            item_retry_minutes: 1,
            notify_admin: true,
            expiry_warning_days: 30,
            alert_repeat_hours: 24,
            delta_resets_alert: 3,
            max_delete_fraction: 0.2,
            delete_guard_min: 5,
        }
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
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            enabled: false,
            notification_url: String::new(),
            listen: "127.0.0.1:8090".into(),
            safety_net_minutes: 60,
            renew_before_minutes: 1440,
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
