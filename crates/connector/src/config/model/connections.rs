//! `[microsoft]` and `[crm]`: how the connector reaches the two systems it connects (the app
//! registration, the tenant and Graph's budgets; CRM.interface, its credentials and dialect).
//! Kept apart from what is synchronized, because these are the settings that hold credentials.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

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
