//! Rules that a well-typed configuration must still satisfy: URLs with a scheme, domains without
//! `@`, exactly one credential, intervals that are not zero, and so on. Each problem comes with
//! the key and what to write instead; [`super::load`] adds where the key was set.

use secrecy::ExposeSecret;

use super::model::Config;

/// (dotted key, what is wrong, what to write instead)
pub type Problem = (String, String, Option<String>);

/// Every rule broken by `config`.
pub fn validate(config: &Config) -> Vec<Problem> {
    let mut p = Problems::default();
    let m = &config.microsoft;

    p.required(
        "microsoft.tenant_id",
        &m.tenant_id,
        "the Directory (tenant) ID from the Entra admin centre",
    );
    p.required(
        "microsoft.client_id",
        &m.client_id,
        "the Application (client) ID of the app registration",
    );
    let has_secret = m
        .client_secret
        .as_ref()
        .is_some_and(|s| !s.expose_secret().is_empty());
    match (has_secret, m.certificate.is_some()) {
        (true, true) => p.push(
            "microsoft.certificate",
            "both `client_secret` and `certificate` are set",
            "keep exactly one credential: remove `client_secret` to use the certificate, or `certificate` to use the secret",
        ),
        (false, false) => p.push(
            "microsoft.client_secret",
            "no credential: neither `client_secret` nor `certificate` is set",
            "set `client_secret` (or `client_secret_file`), or `certificate = \"/path/to/app.pfx\"`",
        ),
        _ => {}
    }
    if let Some(cert) = &m.certificate
        && !cert.exists()
    {
        p.push(
            "microsoft.certificate",
            &format!("the certificate file {} does not exist", cert.display()),
            "give the path of the PEM or PFX file uploaded to the app registration",
        );
    }
    if m.admin_email.is_empty() {
        p.push("microsoft.admin_email", "missing", "the address that sends error notifications, e.g. `admin_email = \"crm-admin@contoso.com\"`");
    } else if !looks_like_address(&m.admin_email) {
        p.push(
            "microsoft.admin_email",
            "not an e-mail address",
            "write e.g. `admin_email = \"crm-admin@contoso.com\"`",
        );
    }
    if m.managed_domains.is_empty() {
        p.push(
            "microsoft.managed_domains",
            "no managed domain",
            "list your mail domains, e.g. `managed_domains = [\"contoso.com\"]`",
        );
    }
    for (i, domain) in m.managed_domains.iter().enumerate() {
        let key = "microsoft.managed_domains";
        if let Some(stripped) = domain.strip_prefix('@') {
            p.push(
                key,
                &format!("entry {} is written with \"@\"", i + 1),
                &format!("write the domain without \"@\": \"{stripped}\""),
            );
        } else if domain.contains('@') {
            p.push(
                key,
                &format!("entry {} is an e-mail address, not a domain", i + 1),
                "write only the part after \"@\", e.g. \"contoso.com\"",
            );
        } else if !domain.contains('.') || domain.contains(char::is_whitespace) {
            p.push(
                key,
                &format!("entry {} is not a domain name", i + 1),
                "write e.g. \"contoso.com\"",
            );
        }
    }
    p.url(
        "microsoft.graph_url",
        &m.graph_url,
        "https://graph.microsoft.com",
    );
    p.url(
        "microsoft.login_url",
        &m.login_url,
        "https://login.microsoftonline.com",
    );
    p.between(
        "microsoft.mailbox_concurrency",
        m.mailbox_concurrency,
        4,
        "Exchange Online throttles above 4 concurrent requests per mailbox (MailboxConcurrency)",
    );
    p.nonzero("microsoft.requests_per_second", m.requests_per_second);
    p.between(
        "microsoft.page_size",
        m.page_size,
        1000,
        "Graph pages hold at most 1000 items",
    );
    for (key, file) in [
        ("microsoft.ca_file", &m.ca_file),
        ("crm.ca_file", &config.crm.ca_file),
    ] {
        if let Some(file) = file
            && !file.exists()
        {
            p.push(
                key,
                &format!("the CA file {} does not exist", file.display()),
                "give the path of a PEM certificate, or remove the key",
            );
        }
    }

    let c = &config.crm;
    if c.interface_url.is_empty() {
        p.push("crm.interface_url", "missing", "the URL of CRM.interface, e.g. `interface_url = \"https://crm.contoso.com/crm/interface\"`");
    } else {
        p.url(
            "crm.interface_url",
            &c.interface_url,
            "https://crm.contoso.com/crm/interface",
        );
        if url::Url::parse(&c.interface_url)
            .is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
        {
            p.push(
                "crm.interface_url",
                "the URL carries a user name or password",
                "remove them from the URL: the master user goes in `master_user`, its password in `password` or `password_file`",
            );
        }
    }
    if let Some(tz) = &c.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        p.push(
            "crm.time_zone",
            "not a known IANA time zone",
            "write the zone of the CRM server, e.g. \"Europe/Vienna\" (remove the key to use this machine's zone)",
        );
    }
    for (key, message) in c.dialect.problems() {
        p.push(
            &format!("crm.dialect.{key}"),
            &message,
            "see `graph-connector config dialect` for the values in use and docs/CRM-INTERFACE.md for each key",
        );
    }
    p.required(
        "crm.master_user",
        &c.master_user,
        "the CRM master user, usually OCSU",
    );
    if c.password
        .as_ref()
        .is_none_or(|s| s.expose_secret().is_empty())
    {
        p.push(
            "crm.password",
            "missing",
            "set `password` or `password_file` (or GRAPH_CONNECTOR__CRM__PASSWORD)",
        );
    }
    if let Some(forms) = &c.forms_xml
        && !forms.exists()
    {
        p.push(
            "crm.forms_xml",
            &format!("the file {} does not exist", forms.display()),
            "give the path of the CRM's forms.xml, or remove the key",
        );
    }
    if !matches!(c.language.as_str(), "en" | "de") {
        p.push(
            "crm.language",
            "unsupported language",
            "write \"en\" or \"de\"",
        );
    }
    p.nonzero("crm.batch_size", c.batch_size);
    p.nonzero("crm.concurrency", c.concurrency);

    let s = &config.state;
    match s.url.scheme() {
        Some("sqlite" | "postgres" | "postgresql") => {
            if let Err(e) = gc_store::StoreUrl::parse(s.url.expose()) {
                // names the problem, never the URL
                p.push(
                    "state.url",
                    &e.to_string(),
                    "see docs/STORE.md for the URL forms",
                );
            }
        }
        _ => p.push(
            "state.url",
            "not a sqlite:// or postgres:// URL",
            "write `url = \"sqlite://graph-connector.db\"` or `url = \"postgres://user@host/db\"`",
        ),
    }
    p.nonzero("state.lease_seconds", s.lease_seconds);
    if let Some(n) = s.connections {
        p.nonzero("state.connections", n);
    }
    if let Some(name) = &s.instance_name
        && !crate::commands::sync::valid_instance_name(name)
    {
        p.push(
            "state.instance_name",
            "must be 1 to 64 letters, digits, '.', '-' or '_'",
            "write a short name such as `instance_name = \"connector-a\"`, or leave it out to use the host name",
        );
    }
    p.nonzero("state.ledger_retention_days", s.ledger_retention_days);

    p.nonzero(
        "mailboxes.refresh_interval_minutes",
        config.mailboxes.refresh_interval_minutes,
    );
    if let super::model::Parallel::Fixed(n) = config.mailboxes.parallel {
        p.nonzero("mailboxes.parallel", n);
    }
    p.nonzero(
        "mailboxes.memory_budget_mb",
        config.mailboxes.memory_budget_mb,
    );

    let e = &config.emails;
    if e.enabled {
        if !e.sync_folder.starts_with('/') || e.sync_folder.trim_matches('/').is_empty() {
            p.push(
                "emails.sync_folder",
                "not a fully qualified folder path",
                "write a path from the mailbox root, e.g. \"/Inbox/crm\"",
            );
        }
        p.required(
            "emails.success_folder",
            &e.success_folder,
            "e.g. \"Sync_Success\"",
        );
        p.required(
            "emails.failure_folder",
            &e.failure_folder,
            "e.g. \"Sync_Failure\"",
        );
        if e.success_folder == e.failure_folder && !e.success_folder.is_empty() {
            p.push(
                "emails.failure_folder",
                "the same as `success_folder`",
                "give the two folders different names",
            );
        }
        p.nonzero("emails.max_body_chars", e.max_body_chars);
        if e.categorize {
            p.required(
                "emails.category",
                &e.category,
                "the Outlook category name, e.g. \"Aurea CRM\"",
            );
        }
    }
    if config.tasks.enabled {
        p.required("tasks.list_name", &config.tasks.list_name, "e.g. \"CRM\"");
    }
    // `interval_minutes = 0` is allowed for every kind: "as often as possible" (the service
    // still waits a few seconds between two runs of one mailbox).

    let r = &config.errors;
    p.nonzero("errors.graph_timeout_seconds", r.graph_timeout_seconds);
    p.nonzero("errors.crm_timeout_seconds", r.crm_timeout_seconds);
    p.seconds("errors.initial_backoff_seconds", r.initial_backoff_seconds);
    p.seconds("errors.max_backoff_seconds", r.max_backoff_seconds);
    if r.max_backoff_seconds < r.initial_backoff_seconds {
        p.push(
            "errors.max_backoff_seconds",
            "smaller than `initial_backoff_seconds`",
            "make it at least as large as `initial_backoff_seconds`",
        );
    }
    p.nonzero("errors.stop_after_errors", r.stop_after_errors);
    if !(0.0..=1.0).contains(&r.max_delete_fraction) {
        p.push(
            "errors.max_delete_fraction",
            &format!("{} is not a fraction", r.max_delete_fraction),
            "write a number from 0 to 1, e.g. 0.2 for 20 %",
        );
    }
    p.nonzero(
        "errors.exclude_after_access_errors",
        r.exclude_after_access_errors,
    );
    for code in &r.crm_error_codes {
        if !(100..=999).contains(code) {
            p.push(
                "errors.crm_error_codes",
                &format!("{code} is not a three-digit return code"),
                "list CRM.interface return codes, e.g. [500, 511]",
            );
        }
    }

    if config.admin.enabled {
        match config.admin.listen.parse::<std::net::SocketAddr>() {
            Err(_) => p.push(
                "admin.listen",
                "not an address with a port",
                "write e.g. \"127.0.0.1:8089\"",
            ),
            // Off loopback, anyone on the network could reach the page: a token is required.
            Ok(addr) if !addr.ip().is_loopback() && config.admin.token.is_none() => p.push(
                "admin.listen",
                "listens beyond this machine but no admin token is set",
                "set [admin] token or token_file (every request then needs it), or listen on 127.0.0.1",
            ),
            Ok(_) => {}
        }
    }
    let n = &config.notifications;
    if n.enabled {
        match url::Url::parse(&n.notification_url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
            _ => p.push(
                "notifications.notification_url",
                "not an http(s) address",
                "write the public HTTPS address your reverse proxy forwards to [notifications] listen, e.g. \"https://connector.contoso.com/graph/notifications\"",
            ),
        }
        if n.listen.parse::<std::net::SocketAddr>().is_err() {
            p.push(
                "notifications.listen",
                "not an address with a port",
                "write e.g. \"127.0.0.1:8090\"",
            );
        }
        if n.renew_before_minutes == 0
            || i64::from(n.renew_before_minutes) >= gc_graph::ops::subscriptions::TODO_MAX_MINUTES
        {
            p.push(
                "notifications.renew_before_minutes",
                "must be between 1 and 4229",
                "write e.g. 1440 (renew a day before the subscription expires)",
            );
        }
        if n.gather_ms > 60_000 {
            p.push(
                "notifications.gather_ms",
                "must be at most 60000 (a minute)",
                "write e.g. 1000 (notified changes start together within a second), or 0",
            );
        }
    }
    if config.errors.alert_repeat_hours == 0 {
        p.push(
            "errors.alert_repeat_hours",
            "must be at least 1",
            "write e.g. 24 (the same alert at most once a day)",
        );
    }
    if !matches!(
        config.logging.level.as_str(),
        "error" | "warn" | "info" | "debug" | "trace"
    ) {
        p.push(
            "logging.level",
            "unknown log level",
            "write one of \"error\", \"warn\", \"info\", \"debug\", \"trace\"",
        );
    }
    let threads = config.service.worker_threads;
    if threads > MAX_WORKER_THREADS {
        p.push(
            "service.worker_threads",
            &format!("{threads} is more than {MAX_WORKER_THREADS}"),
            &format!(
                "the connector mostly waits for Graph, CRM and the store; write 1 (the default), \
                 0 for one per CPU core, or at most {MAX_WORKER_THREADS}"
            ),
        );
    }
    p.0
}

/// The longest wait between two attempts of one request that the configuration accepts.
const MAX_SECONDS: f64 = 86_400.0;

/// More runtime threads than this only adds hand-overs (docs/PERFORMANCE.md); a typo such as
/// `1000` would otherwise start that many threads.
const MAX_WORKER_THREADS: u32 = 64;

/// What deserves attention in a valid configuration (shown by `config validate` and `check`,
/// never a reason to refuse it).
pub fn warnings(config: &Config) -> Vec<Problem> {
    let mut p = Problems::default();
    if config.notifications.enabled
        && let Ok(u) = url::Url::parse(&config.notifications.notification_url)
        && u.scheme() == "http"
        && !is_loopback(&u)
    {
        p.push(
            "notifications.notification_url",
            "Microsoft Graph delivers notifications to https:// addresses only",
            "publish the endpoint through a reverse proxy with a certificate and write its https:// address",
        );
    }
    if let Ok(u) = url::Url::parse(&config.crm.interface_url)
        && u.scheme() == "http"
        && !is_loopback(&u)
    {
        p.push(
            "crm.interface_url",
            "CRM.interface is reached over plain http on another machine: the master password travels unencrypted in every request",
            "use https:// (with `ca_file` for a company CA), or run the connector on the CRM server",
        );
    }
    if !config.crm.duplicate_protection && config.crm.dialect.activity.marker.is_empty() {
        p.push(
            "crm.duplicate_protection",
            "without duplicate protection and without a marker, an activity written just before its answer was lost is found again only by its subject, time and owner",
            "set [crm.dialect.activity] marker to a free text field of the activity table",
        );
    }
    p.0
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: &str, message: &str, hint: &str) {
        self.0
            .push((key.to_owned(), message.to_owned(), Some(hint.to_owned())));
    }

    fn required(&mut self, key: &str, value: &str, what: &str) {
        if value.trim().is_empty() {
            self.push(key, "missing", &format!("write {what}"));
        }
    }

    /// A time in seconds that may have a fraction: more than 0 and at most a day (a longer
    /// wait between two attempts of one request is a mistake, and a bound keeps the
    /// conversion to a `Duration` from overflowing).
    fn seconds(&mut self, key: &str, value: f64) {
        if !(value > 0.0 && value <= MAX_SECONDS) {
            self.push(
                key,
                &format!("{value} is not a number of seconds above 0 and up to {MAX_SECONDS}"),
                "write a number of seconds, e.g. 1 or 0.5",
            );
        }
    }

    fn nonzero(&mut self, key: &str, value: u32) {
        if value == 0 {
            self.push(key, "0 is not allowed here", "write a number of at least 1");
        }
    }

    /// At least 1 and at most `max`, which Microsoft (or Aurea) sets for the reason `why`.
    fn between(&mut self, key: &str, value: u32, max: u32, why: &str) {
        self.nonzero(key, value);
        if value > max {
            self.push(
                key,
                &format!("{value} is more than {max}"),
                &format!("{why}; write {max} or less"),
            );
        }
    }

    fn url(&mut self, key: &str, value: &str, example: &str) {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) if !value.contains("://") => {
                self.push(
                    key,
                    "URL without scheme",
                    &format!("write the full URL, e.g. \"{example}\""),
                );
            }
            _ => self.push(
                key,
                "not an http(s) URL",
                &format!("write e.g. \"{example}\""),
            ),
        }
    }
}

fn looks_like_address(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@'),
        None => false,
    }
}
