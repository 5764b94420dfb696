//! The CRM half of `graph-connector check`: each check says what failed, why, and what to
//! change where.

use std::collections::BTreeSet;

use crate::api::Rep;
use crate::client::CrmClient;
use crate::dialect::required_catalog_values;
use crate::error::{CrmError, ErrorKind};
use crate::forms::Forms;
use crate::probe::{self, ExtraField, Kinds};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Ok,
    /// Failed: the connector will not work (fully) until fixed.
    Failed,
    /// Works, but something deserves attention.
    Warning,
    /// Not run (e.g. no forms.xml configured, or an earlier check failed).
    Skipped,
}

/// One check result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Short name, e.g. `crm.login`.
    pub name: String,
    /// Outcome.
    pub status: Status,
    /// What was found (on success: a summary; on failure: the cause).
    pub cause: String,
    /// What to change and where (empty when nothing is to be done).
    pub fix: String,
}

impl Diagnostic {
    fn new(name: &str, status: Status, cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status,
            cause: cause.into(),
            fix: fix.into(),
        }
    }

    /// Whether the check passed (warnings and skips count as not failed).
    pub fn ok(&self) -> bool {
        self.status != Status::Failed
    }
}

/// Options of [`diagnose`].
#[derive(Debug, Clone, Default)]
pub struct DiagnoseOptions {
    /// Where forms.xml was read from (named in messages).
    pub forms_path: Option<std::path::PathBuf>,
    /// Rep e-mail to test impersonation with; default: the first enabled rep.
    pub probe_rep: Option<String>,
    /// Client kind of our master-user entry in forms.xml (default `GraphApi`).
    pub client_kind: Option<String>,
    /// The enabled kinds: their tables are probed (default: all).
    pub kinds: Kinds,
    /// Fields the connector uses beyond the dialect (forms.xml, missing-participants block).
    pub extra_fields: Vec<ExtraField>,
    /// The activity type of filed e-mails (`[emails] activity_type`): must be a value of the
    /// activity type catalog.
    pub activity_type: Option<String>,
}

/// Result of [`diagnose`]: the checks and the enabled reps (so the caller can add the
/// mailbox state from Microsoft 365, see [`rep_mailbox_diagnostics`]).
#[derive(Debug, Clone, Default)]
pub struct DiagnoseReport {
    pub checks: Vec<Diagnostic>,
    pub enabled_reps: Vec<Rep>,
}

impl DiagnoseReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(Diagnostic::ok)
    }

    /// A check by name.
    pub fn get(&self, name: &str) -> Option<&Diagnostic> {
        self.checks.iter().find(|d| d.name == name)
    }
}

/// Runs the CRM checks: CRM.interface answers; the master user logs in; enabled reps exist
/// and one can be impersonated; required catalog values exist; forms.xml has our
/// master-user entry.
pub async fn diagnose(
    client: &CrmClient,
    forms: Option<&Forms>,
    opts: &DiagnoseOptions,
) -> DiagnoseReport {
    let cfg = client.config();
    let mut out = DiagnoseReport::default();
    let url = cfg.url.as_str();

    // 1 + 2: reachability and login
    let reachable = match client.master().ping().await {
        Ok(()) => {
            out.checks.push(Diagnostic::new(
                "crm.reachable",
                Status::Ok,
                format!("CRM.interface at {url} answers"),
                "",
            ));
            out.checks.push(Diagnostic::new(
                "crm.login",
                Status::Ok,
                format!("master user {:?} logs in", cfg.user),
                "",
            ));
            true
        }
        Err(e) if e.kind() == ErrorKind::Auth => {
            out.checks.push(Diagnostic::new(
                "crm.reachable",
                Status::Ok,
                format!("CRM.interface at {url} answers"),
                "",
            ));
            out.checks.push(Diagnostic::new(
                "crm.login",
                Status::Failed,
                format!("wrong master password or login: {e}"),
                format!(
                    "set the password of CRM login {:?} in the connector configuration (crm.password), or correct crm.user; the login must exist in Aurea CRM",
                    cfg.user
                ),
            ));
            false
        }
        Err(e) => {
            out.checks.push(Diagnostic::new(
                "crm.reachable",
                Status::Failed,
                format!("CRM.interface at {url} does not answer correctly: {e}"),
                "check crm.url in the connector configuration (full URL of the CRM.interface endpoint) and that its IIS application pool is running",
            ));
            out.checks.push(Diagnostic::new(
                "crm.login",
                Status::Skipped,
                "CRM.interface not reachable",
                "",
            ));
            false
        }
    };

    // forms.xml does not need CRM.interface
    out.checks.push(forms_check(forms, opts, &cfg.user));

    if !reachable {
        for name in [
            "crm.schema",
            "crm.reps",
            "crm.impersonation",
            "crm.catalogs",
        ] {
            out.checks.push(Diagnostic::new(
                name,
                Status::Skipped,
                "the master user cannot log in",
                "",
            ));
        }
        return out;
    }

    // 3: every table and field of the enabled kinds, under the configured names
    let tables = probe::table_probes(client.dialect(), opts.kinds, &opts.extra_fields);
    match probe::probe_schema(client, &tables).await {
        Ok(findings) if findings.is_empty() => {
            let fields: usize = tables.iter().map(|t| t.fields.len()).sum();
            let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
            out.checks.push(Diagnostic::new(
                "crm.schema",
                Status::Ok,
                format!(
                    "{} tables and {fields} fields known: {}",
                    tables.len(),
                    names.join(", ")
                ),
                "",
            ));
        }
        Ok(findings) => {
            for f in findings {
                out.checks
                    .push(Diagnostic::new(&f.origin, Status::Failed, f.cause, f.fix));
            }
        }
        Err(e) => out.checks.push(Diagnostic::new(
            "crm.schema",
            Status::Failed,
            format!("the tables cannot be probed: {e}"),
            "see the error; retry when CRM.interface is available",
        )),
    }

    // 4: enabled reps
    let master = client.master();
    match master.enabled_reps().await {
        Ok(reps) if reps.is_empty() => out.checks.push(Diagnostic::new(
            "crm.reps",
            Status::Failed,
            "no rep is enabled for the connector",
            "in Aurea CRM, open the rep (ID) records of the users to synchronize: check \"Enable Connector settings\" and \"Synchronize e-mails\" and/or \"Synchronize appointments\", and fill in the e-mail address of the mailbox",
        )),
        Ok(reps) => {
            let list: Vec<String> = reps.iter().map(|r| format!("{} <{}>", r.name, r.email.as_deref().unwrap_or(""))).collect();
            out.checks.push(Diagnostic::new(
                "crm.reps",
                Status::Ok,
                format!("{} enabled rep(s): {}", reps.len(), list.join(", ")),
                "",
            ));
            out.enabled_reps = reps;
        }
        Err(e) if e.kind() == ErrorKind::UnknownName => out.checks.push(blocked("crm.reps", &e)),
        Err(e) => out.checks.push(Diagnostic::new(
            "crm.reps",
            Status::Failed,
            format!("the rep list cannot be read: {e}"),
            "give the master user read access to the rep (ID) info area",
        )),
    }

    // 5: impersonation
    let probe = opts
        .probe_rep
        .clone()
        .or_else(|| out.enabled_reps.first().and_then(|r| r.email.clone()));
    match probe {
        None => out.checks.push(Diagnostic::new(
            "crm.impersonation",
            Status::Skipped,
            "no enabled rep to test with",
            "",
        )),
        Some(email) => match client.as_rep(&email).ping().await {
            Ok(()) => out.checks.push(Diagnostic::new(
                "crm.impersonation",
                Status::Ok,
                format!("master user {:?} can act for {email}", cfg.user),
                "",
            )),
            Err(e) => out
                .checks
                .push(impersonation_failure(&e, &email, &cfg.user)),
        },
    }

    // 6: catalogs, through the configured names
    out.checks.push(catalog_check(client).await);
    if let Some(t) = &opts.activity_type {
        out.checks.push(activity_type_check(client, t).await);
    }
    out
}

async fn catalog_check(client: &CrmClient) -> Diagnostic {
    match probe::probe_catalogs(client).await {
        Ok(empty) if !empty.is_empty() => {
            let causes: Vec<String> = empty.iter().map(|f| f.cause.clone()).collect();
            let fixes: Vec<String> = empty.iter().map(|f| f.fix.clone()).collect();
            return Diagnostic::new(
                "crm.catalogs",
                Status::Failed,
                causes.join("; "),
                fixes.join("; "),
            );
        }
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::UnknownName => return blocked("crm.catalogs", &e),
        Err(e) => {
            return Diagnostic::new(
                "crm.catalogs",
                Status::Failed,
                format!("catalogs cannot be read: {e}"),
                "give the master user read access to catalogs, and check [crm.dialect.catalog]",
            );
        }
    }
    match missing_catalog_values(client).await {
        Ok(missing) if missing.is_empty() => Diagnostic::new(
            "crm.catalogs",
            Status::Ok,
            "required catalog values exist",
            "",
        ),
        Ok(missing) => {
            let list: Vec<String> = missing
                .iter()
                .map(|(c, v)| format!("\"{c}\": {v}"))
                .collect();
            Diagnostic::new(
                "crm.catalogs",
                Status::Failed,
                format!("catalog value(s) missing: {}", list.join("; ")),
                "run `graph-connector check --fix-catalogs`, or add the values in the CRM catalog maintenance",
            )
        }
        Err(e) if e.kind() == ErrorKind::UnknownName => blocked("crm.catalogs", &e),
        Err(e) => Diagnostic::new(
            "crm.catalogs",
            Status::Failed,
            format!("catalogs cannot be read: {e}"),
            "give the master user read access to catalogs",
        ),
    }
}

/// A check that cannot run while a name of `[crm.dialect]` is unknown: the schema lines
/// already fail, one per name, so this one is skipped instead of failing a second time.
fn blocked(name: &str, e: &CrmError) -> Diagnostic {
    let what = match e {
        CrmError::UnknownName { key: Some(k), .. } => format!("until {k} is fixed (see above)"),
        _ => "until the names above are fixed".to_owned(),
    };
    Diagnostic::new(name, Status::Skipped, format!("not checked {what}"), "")
}

async fn activity_type_check(client: &CrmClient, activity_type: &str) -> Diagnostic {
    let catalog = &client.dialect().catalog.activity_type_catalog;
    match client.master().catalog_values(catalog).await {
        Ok(values)
            if values
                .iter()
                .any(|v| v.text.trim().eq_ignore_ascii_case(activity_type.trim())) =>
        {
            Diagnostic::new(
                "crm.activity_type",
                Status::Ok,
                format!("{activity_type:?} is a value of the catalog {catalog:?}"),
                "",
            )
        }
        Ok(values) if values.is_empty() => Diagnostic::new(
            "crm.activity_type",
            Status::Failed,
            format!(
                "the catalog {catalog:?} has no values: it does not exist under this name or cannot be read"
            ),
            "set [crm.dialect.catalog] activity_type_catalog to the name of the activity type catalog in your installation",
        ),
        Ok(values) => {
            let list: Vec<&str> = values.iter().map(|v| v.text.as_str()).collect();
            Diagnostic::new(
                "crm.activity_type",
                Status::Failed,
                format!(
                    "{activity_type:?} is not a value of the catalog {catalog:?} ({})",
                    list.join(", ")
                ),
                "set [emails] activity_type to one of the values listed",
            )
        }
        Err(e) if e.kind() == ErrorKind::UnknownName => blocked("crm.activity_type", &e),
        Err(e) => Diagnostic::new(
            "crm.activity_type",
            Status::Failed,
            format!("the catalog {catalog:?} cannot be read: {e}"),
            "give the master user read access to catalogs, and check [crm.dialect.catalog]",
        ),
    }
}

fn impersonation_failure(e: &CrmError, email: &str, user: &str) -> Diagnostic {
    let fix = match e.kind() {
        ErrorKind::ImpersonationRefused => format!(
            "make sure a rep (ID) with e-mail {email} exists and has a CRM login with the groupware-connector right, and that forms.xml on the CRM.interface server contains <masterUser client=\"GraphApi\" login=\"Principal,ClientID\">{user}</masterUser> (restart the CRM.interface application pool after editing)"
        ),
        _ => "see the error; retry when CRM.interface is available".to_owned(),
    };
    Diagnostic::new(
        "crm.impersonation",
        Status::Failed,
        format!("cannot act for {email}: {e}"),
        fix,
    )
}

fn forms_check(forms: Option<&Forms>, opts: &DiagnoseOptions, user: &str) -> Diagnostic {
    let kind = opts.client_kind.as_deref().unwrap_or("GraphApi");
    let path = opts
        .forms_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "forms.xml".into());
    let Some(forms) = forms else {
        return Diagnostic::new(
            "crm.forms",
            Status::Skipped,
            "no forms.xml configured (crm.forms_xml)",
            "",
        );
    };
    match forms.master_user(kind) {
        Some(m) if m.user.eq_ignore_ascii_case(user) => Diagnostic::new(
            "crm.forms",
            Status::Ok,
            format!(
                "{path} line {}: master user {} for client {kind}",
                m.line, m.user
            ),
            "",
        ),
        Some(m) => Diagnostic::new(
            "crm.forms",
            Status::Failed,
            format!(
                "{path} line {}: the {kind} master user is {:?}, the connector logs in as {user:?}",
                m.line, m.user
            ),
            format!(
                "change line {} of {path} to name {user}, or set crm.user to {}",
                m.line, m.user
            ),
        ),
        None => Diagnostic::new(
            "crm.forms",
            Status::Failed,
            format!("{path} has no <masterUser client=\"{kind}\"> entry"),
            format!(
                "add <masterUser client=\"{kind}\" login=\"Principal,ClientID\">{user}</masterUser> inside <settings><authentication> of {path} on the CRM.interface server and restart its application pool"
            ),
        ),
    }
}

/// Required catalog values that do not exist: `(catalog, value)`.
pub async fn missing_catalog_values(client: &CrmClient) -> Result<Vec<(String, String)>, CrmError> {
    let master = client.master();
    let mut missing = Vec::new();
    for (catalog, values) in required_catalog_values(client.dialect()) {
        let have: BTreeSet<String> = master
            .catalog_values(&catalog)
            .await?
            .into_iter()
            .map(|v| v.text.to_ascii_lowercase())
            .collect();
        for v in values {
            if !have.contains(&v.to_ascii_lowercase()) {
                missing.push((catalog.clone(), v.to_owned()));
            }
        }
    }
    Ok(missing)
}

/// `check --fix-catalogs`: adds the missing required catalog values; returns what was added.
pub async fn fix_catalogs(client: &CrmClient) -> Result<Vec<(String, String)>, CrmError> {
    let missing = missing_catalog_values(client).await?;
    let master = client.master();
    for (catalog, value) in &missing {
        for r in master
            .add_catalog_values(catalog, &[value.as_str()])
            .await?
        {
            r?;
        }
    }
    Ok(missing)
}

/// Mailbox state of an enabled rep as seen from Microsoft 365 (supplied by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxState {
    /// A mailbox with this address exists.
    Found,
    /// No mailbox has this address.
    NotFound,
}

/// One diagnostic per enabled rep: its mailbox is found, not found, or outside the managed
/// domains. `lookup` answers for addresses inside the managed domains.
pub fn rep_mailbox_diagnostics(
    reps: &[Rep],
    managed_domains: &[String],
    mut lookup: impl FnMut(&str) -> MailboxState,
) -> Vec<Diagnostic> {
    reps.iter()
        .map(|r| {
            let name = format!("rep.{}", r.email.as_deref().unwrap_or(&r.name));
            let Some(email) = r.email.as_deref() else {
                return Diagnostic::new(&name, Status::Failed, format!("rep {} has no e-mail address", r.name), "fill in the rep's E-mail field (ID E-mail1) with the mailbox address");
            };
            let domain = email.rsplit('@').next().unwrap_or_default();
            if !managed_domains.iter().any(|d| d.trim_start_matches('@').eq_ignore_ascii_case(domain)) {
                return Diagnostic::new(
                    &name,
                    Status::Failed,
                    format!("rep {}: {email} is outside the managed domains ({})", r.name, managed_domains.join(", ")),
                    "correct the rep's e-mail address in CRM, or add the domain to the managed domains in the connector configuration",
                );
            }
            match lookup(email) {
                MailboxState::Found => Diagnostic::new(&name, Status::Ok, format!("rep {}: mailbox {email} found", r.name), ""),
                MailboxState::NotFound => Diagnostic::new(
                    &name,
                    Status::Failed,
                    format!("rep {}: no Microsoft 365 mailbox {email}", r.name),
                    "create or license the mailbox in Microsoft 365, correct the rep's e-mail address in CRM, or uncheck \"Enable Connector settings\" on the rep",
                ),
            }
        })
        .collect()
}
