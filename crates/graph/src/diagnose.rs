//! The Microsoft half of `graph-connector check`: token, permissions, one probe per mailbox kind,
//! each failure explained in plain words with its fix.

use std::fmt;

use serde::Serialize;

use crate::client::GraphClient;
use crate::error::{AuthCause, ErrorKind, GraphError, Permission, ResourceKind};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Passed.
    Ok,
    /// Failed: the connector will not work (fully) until fixed.
    Failed,
    /// Could not be decided or is degraded (e.g. Graph unavailable, roles unreadable).
    Warning,
    /// Not run because an earlier check failed or there was nothing to probe.
    Skipped,
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Failed => "failed",
            CheckStatus::Warning => "warning",
            CheckStatus::Skipped => "skipped",
        })
    }
}

/// One line of `check` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What was checked, e.g. `permission Mail.ReadWrite`.
    pub name: String,
    /// Result.
    pub status: CheckStatus,
    /// Why it failed, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What the administrator should do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Diagnostic {
    fn ok(name: impl Into<String>) -> Self {
        Diagnostic {
            name: name.into(),
            status: CheckStatus::Ok,
            cause: None,
            fix: None,
        }
    }

    fn with(
        name: impl Into<String>,
        status: CheckStatus,
        cause: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Diagnostic {
            name: name.into(),
            status,
            cause: Some(cause.into()),
            fix,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.status, self.name)?;
        if let Some(c) = &self.cause {
            write!(f, ": {c}")?;
        }
        if let Some(x) = &self.fix {
            write!(f, " — fix: {x}")?;
        }
        Ok(())
    }
}

fn consent_fix(p: Permission) -> String {
    format!(
        "in Microsoft Entra, App registrations → the connector's app → API permissions, add the Microsoft Graph application permission {p} and click \"Grant admin consent\""
    )
}

/// Explain a failed probe on `mailbox` in plain words.
fn explain(
    err: &GraphError,
    mailbox: &str,
    roles: Option<&[String]>,
) -> (CheckStatus, String, Option<String>) {
    match err.kind() {
        ErrorKind::Authentication(cause) => (
            CheckStatus::Failed,
            cause.explanation().to_owned(),
            Some(cause.fix().to_owned()),
        ),
        ErrorKind::ConsentMissing(p) => {
            if roles.is_some_and(|r| p.granted_by(r)) {
                (
                    CheckStatus::Failed,
                    format!(
                        "access to mailbox {mailbox} is denied although {p} is granted: an Exchange application access policy or RBAC scope excludes it"
                    ),
                    Some(format!(
                        "add {mailbox} to the group or management scope the connector's app is restricted to, or remove it from the sync"
                    )),
                )
            } else {
                (
                    CheckStatus::Failed,
                    format!("admin consent not granted for {p}"),
                    Some(consent_fix(p)),
                )
            }
        }
        ErrorKind::MailboxNotEnabled => (
            CheckStatus::Failed,
            format!(
                "{mailbox} has no Exchange Online mailbox (no licence, soft-deleted, or hosted on-premises)"
            ),
            Some(format!(
                "assign an Exchange Online licence to {mailbox}, or remove it from the sync"
            )),
        ),
        ErrorKind::NotFound => (
            CheckStatus::Failed,
            format!("mailbox {mailbox} does not exist"),
            Some(
                "check the address in the configuration (a typo, or the user was deleted)"
                    .to_owned(),
            ),
        ),
        ErrorKind::Throttled | ErrorKind::Transient => (
            CheckStatus::Warning,
            format!("Microsoft Graph did not answer in time: {err}"),
            Some(
                "try again later; check the network, proxy and https://status.cloud.microsoft"
                    .to_owned(),
            ),
        ),
        ErrorKind::SyncStateExpired | ErrorKind::Permanent => {
            (CheckStatus::Failed, err.to_string(), None)
        }
    }
}

/// Run the Microsoft checks. `probe_mailbox` (UPN, address or object id) is probed for mail
/// folders, calendar, contacts and To Do; without it those probes are reported as skipped.
pub async fn diagnose(client: &GraphClient, probe_mailbox: Option<&str>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let token = match client.access_token().await {
        Ok(t) => {
            out.push(Diagnostic::ok("access token"));
            t
        }
        Err(e) => {
            let (cause, fix) = match &e {
                GraphError::Auth(a) if !a.is_transient() => {
                    (e.to_string(), a.cause.fix().to_owned())
                }
                GraphError::Auth(a)
                    if matches!(a.cause, AuthCause::Other { .. }) && a.status == 0 =>
                {
                    (
                        e.to_string(),
                        "check the login URL, network, proxy and TLS trust (ca_file) settings of the connector host"
                            .to_owned(),
                    )
                }
                _ => (e.to_string(), "try again later".to_owned()),
            };
            out.push(Diagnostic::with(
                "access token",
                CheckStatus::Failed,
                cause,
                Some(fix),
            ));
            for p in Permission::REQUIRED {
                out.push(Diagnostic::with(
                    format!("permission {p}"),
                    CheckStatus::Skipped,
                    "no access token",
                    None,
                ));
            }
            out.push(Diagnostic::with(
                "directory (list users)",
                CheckStatus::Skipped,
                "no access token",
                None,
            ));
            for kind in PROBES {
                out.push(Diagnostic::with(
                    probe_name(kind.0, probe_mailbox),
                    CheckStatus::Skipped,
                    "no access token",
                    None,
                ));
            }
            return out;
        }
    };
    let roles = token.roles.clone();
    for p in Permission::REQUIRED {
        let name = format!("permission {p}");
        match &roles {
            None => out.push(Diagnostic::with(
                name,
                CheckStatus::Warning,
                "the access token's roles cannot be read",
                Some("check the API permissions of the app registration by hand".to_owned()),
            )),
            Some(r) if p.granted_by(r) => out.push(Diagnostic::ok(name)),
            Some(_) => out.push(Diagnostic::with(
                name,
                CheckStatus::Failed,
                format!("admin consent not granted for {p}"),
                Some(consent_fix(p)),
            )),
        }
    }
    for p in Permission::OPTIONAL {
        let name = format!("permission {p} (optional)");
        let effect = match p {
            Permission::MailSend => {
                "error notifications are placed in the user's inbox instead of being sent"
            }
            _ => "master categories cannot be created; items still get category names (uncoloured)",
        };
        match &roles {
            Some(r) if p.granted_by(r) => out.push(Diagnostic::ok(name)),
            Some(_) => out.push(Diagnostic::with(
                name,
                CheckStatus::Warning,
                format!("{p} is not granted: {effect}"),
                Some(consent_fix(p)),
            )),
            None => {}
        }
    }
    let dir = client
        .list::<serde_json::Value>(None, ResourceKind::Users, "/users?$select=id&$top=1")
        .next_page()
        .await;
    match dir {
        Some(Err(e)) => {
            let (status, cause, fix) = explain(&e, "-", roles.as_deref());
            out.push(Diagnostic {
                name: "directory (list users)".into(),
                status,
                cause: Some(cause),
                fix,
            });
        }
        _ => out.push(Diagnostic::ok("directory (list users)")),
    }
    let Some(mailbox) = probe_mailbox else {
        for kind in PROBES {
            out.push(Diagnostic::with(
                probe_name(kind.0, None),
                CheckStatus::Skipped,
                "no mailbox to probe (no enabled user configured)",
                None,
            ));
        }
        return out;
    };
    if let Err(e) = client.get_user(mailbox).await {
        let (status, cause, fix) = explain(&e, mailbox, roles.as_deref());
        out.push(Diagnostic {
            name: format!("user {mailbox}"),
            status,
            cause: Some(cause),
            fix,
        });
        for kind in PROBES {
            out.push(Diagnostic::with(
                probe_name(kind.0, Some(mailbox)),
                CheckStatus::Skipped,
                "user not found",
                None,
            ));
        }
        return out;
    }
    out.push(Diagnostic::ok(format!("user {mailbox}")));
    for (label, kind) in PROBES {
        let result = probe(client, mailbox, kind).await;
        let name = probe_name(label, Some(mailbox));
        match result {
            Ok(()) => out.push(Diagnostic::ok(name)),
            Err(e) => {
                let (status, cause, fix) = explain(&e, mailbox, roles.as_deref());
                out.push(Diagnostic {
                    name,
                    status,
                    cause: Some(cause),
                    fix,
                });
            }
        }
    }
    out
}

const PROBES: [(&str, ResourceKind); 4] = [
    ("mail folders", ResourceKind::Mail),
    ("calendar", ResourceKind::Calendar),
    ("contacts", ResourceKind::Contacts),
    ("To Do", ResourceKind::Todo),
];

fn probe_name(label: &str, mailbox: Option<&str>) -> String {
    match mailbox {
        Some(m) => format!("{label} of {m}"),
        None => label.to_owned(),
    }
}

async fn probe(client: &GraphClient, mailbox: &str, kind: ResourceKind) -> Result<(), GraphError> {
    match kind {
        ResourceKind::Mail => client.get_mail_folder(mailbox, "inbox").await.map(|_| ()),
        ResourceKind::Calendar => {
            let now = jiff::Timestamp::now();
            let end = now + jiff::SignedDuration::from_hours(24);
            first_page(client.calendar_view(mailbox, now, end)).await
        }
        ResourceKind::Contacts => first_page(client.list_contacts(mailbox, None)).await,
        _ => client.list_todo_lists(mailbox).await.map(|_| ()),
    }
}

async fn first_page<T>(mut s: crate::paging::PageStream<T>) -> Result<(), GraphError> {
    match s.next_page().await {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Whether `check` passes: no diagnostic failed (warnings, e.g. an optional permission, and
/// skipped probes do not fail it).
pub fn all_ok(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().all(|d| d.status != CheckStatus::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn api(status: u16, code: &str, resource: ResourceKind) -> GraphError {
        let body = serde_json::json!({"error":{"code":code,"message":"m"}}).to_string();
        GraphError::from(ApiError::from_body(
            status,
            body.as_bytes(),
            None,
            resource,
            None,
        ))
    }

    #[test]
    fn failures_are_explained_with_fixes() {
        let (s, cause, fix) = explain(
            &api(404, "MailboxNotEnabledForRESTAPI", ResourceKind::Mail),
            "a@x",
            None,
        );
        assert_eq!(s, CheckStatus::Failed);
        assert!(cause.contains("no Exchange Online mailbox"));
        assert!(fix.unwrap().contains("licence"));

        let (_, cause, fix) = explain(
            &api(403, "ErrorAccessDenied", ResourceKind::Calendar),
            "a@x",
            Some(&[]),
        );
        assert_eq!(cause, "admin consent not granted for Calendars.ReadWrite");
        assert!(fix.unwrap().contains("Grant admin consent"));

        let roles = vec!["Calendars.ReadWrite".to_owned()];
        let (_, cause, _) = explain(
            &api(403, "ErrorAccessDenied", ResourceKind::Calendar),
            "a@x",
            Some(&roles),
        );
        assert!(cause.contains("application access policy"), "{cause}");

        let (_, cause, _) = explain(
            &api(404, "Request_ResourceNotFound", ResourceKind::Users),
            "a@x",
            None,
        );
        assert_eq!(cause, "mailbox a@x does not exist");

        let (s, _, _) = explain(
            &api(503, "ServiceUnavailable", ResourceKind::Mail),
            "a@x",
            None,
        );
        assert_eq!(s, CheckStatus::Warning);
    }

    #[test]
    fn display_is_one_line() {
        let d = Diagnostic::with(
            "permission Mail.ReadWrite",
            CheckStatus::Failed,
            "admin consent not granted for Mail.ReadWrite",
            Some("grant it".into()),
        );
        assert_eq!(
            d.to_string(),
            "[failed] permission Mail.ReadWrite: admin consent not granted for Mail.ReadWrite — fix: grant it"
        );
        assert!(!all_ok(&[d, Diagnostic::ok("x")]));
        assert!(all_ok(&[Diagnostic::ok("x")]));
        let warn = Diagnostic::with(
            "permission Mail.Send (optional)",
            CheckStatus::Warning,
            "c",
            None,
        );
        assert!(all_ok(&[warn, Diagnostic::ok("x")]));
    }
}
