//! `graph-connector check`: the validation checklist an administrator runs before starting the
//! service. One line per check, each failure with its cause and its fix; exit status 0 only
//! when everything passes.
//!
//! Order matters: the CRM side runs first because it yields the enabled reps, one of which is
//! the probe mailbox for the Microsoft side, and all of which are then looked up in Microsoft 365.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::CheckArgs;
use crate::config::{self, Config};
use crate::wiring;

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// config, state, crm, microsoft, mailbox.
    pub area: &'static str,
    /// What was checked.
    pub name: String,
    /// ok, failed, warning, skipped.
    pub status: &'static str,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Line {
    fn new(
        area: &'static str,
        name: impl Into<String>,
        status: &'static str,
        cause: Option<String>,
        fix: Option<String>,
    ) -> Self {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Line {
            area,
            name: name.into(),
            status,
            cause: nonempty(cause),
            fix: nonempty(fix),
        }
    }

    /// Whether this check failed.
    pub fn failed(&self) -> bool {
        self.status == "failed"
    }
}

/// `[crm.dialect] child_records`: the one dialect convention `check` cannot probe. Whether
/// CRM.interface writes child records nested in an `<insert>` shows only by writing one, and
/// `check` never writes (CRM.interface documents no dry run or rollback); the first filed
/// message of each process confirms it, and a CRM that does not nest stops the sync naming
/// the key (`gc_crm::nested`).
fn child_records_line(dialect: &gc_crm::Dialect) -> Line {
    if dialect.nests_children() {
        Line::new(
            "crm",
            "[crm.dialect] child_records",
            "skipped",
            Some(
                "\"nested\": an activity's external key, participants and documents go inside its <insert> \
                 (one request per filed message). Not checkable without writing to CRM; the first \
                 filed message confirms it, and a CRM.interface that does not nest stops the sync \
                 (no further item starts) naming this key"
                    .into(),
            ),
            Some(
                "nothing, unless the sync stops with \"does not follow [crm.dialect] child_records\": \
                 then set [crm.dialect] child_records = \"separate\""
                    .into(),
            ),
        )
    } else {
        Line::new(
            "crm",
            "[crm.dialect] child_records",
            "ok",
            Some("\"separate\": child records in a second request (documented shape)".into()),
            None,
        )
    }
}

/// The whole report (`check --json`, the admin page's "re-check").
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// No check failed.
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Line>,
}

/// Run every check of an already loaded configuration.
pub async fn report(config: &Config, fix_catalogs: bool, mailbox: Option<String>) -> CheckReport {
    let mut lines = Vec::new();
    check_all(config, fix_catalogs, mailbox, &mut lines).await;
    CheckReport {
        ok: !lines.iter().any(Line::failed),
        checks: lines,
    }
}

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut lines = Vec::new();
    match config::load_with_warnings(&args.config.config, std::env::vars()) {
        Ok((config, warnings)) => {
            lines.push(Line::new(
                "config",
                args.config.config.display().to_string(),
                "ok",
                None,
                None,
            ));
            for w in warnings {
                lines.push(Line::new(
                    "config",
                    w.key.clone(),
                    "warning",
                    Some(format!("{}: {}", w.origin, w.message)),
                    w.hint,
                ));
            }
            check_all(&config, args.fix_catalogs, args.mailbox.clone(), &mut lines).await;
        }
        Err(err) => {
            for issue in err.issues {
                lines.push(Line::new(
                    "config",
                    issue.key.clone(),
                    "failed",
                    Some(format!("{}: {}", issue.origin, issue.message)),
                    issue.hint,
                ));
            }
        }
    }
    let ok = !lines.iter().any(Line::failed);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&CheckReport { ok, checks: lines })?
        );
    } else {
        for line in &lines {
            print_line(line);
        }
        let failed = lines.iter().filter(|l| l.failed()).count();
        let warnings = match lines.iter().filter(|l| l.status == "warning").count() {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        };
        if ok {
            println!("all {} checks passed{warnings}", lines.len());
        } else {
            println!("{failed} of {} checks failed{warnings}", lines.len());
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_line(line: &Line) {
    let mark = match line.status {
        "ok" => "ok     ",
        "failed" => "FAILED ",
        "warning" => "warning",
        _ => "skipped",
    };
    let mut text = format!("{mark} {:<9} {}", line.area, line.name);
    if let Some(cause) = &line.cause {
        text.push_str(": ");
        text.push_str(cause);
    }
    println!("{text}");
    if let Some(fix) = &line.fix
        && line.status != "ok"
    {
        println!("{:18}fix: {fix}", "");
    }
}

async fn check_all(
    config: &Config,
    fix_catalogs: bool,
    mailbox: Option<String>,
    lines: &mut Vec<Line>,
) {
    // The state store.
    match wiring::store(config).await {
        Ok(store) => {
            lines.push(Line::new("state", config.state.url.to_string(), "ok", Some("opened and migrated".into()), None));
            store.close().await;
        }
        Err(e) => lines.push(Line::new(
            "state",
            config.state.url.to_string(),
            "failed",
            Some(format!("{e:#}")),
            Some("check [state] url: the directory must be writable (SQLite) or the server reachable with these credentials (PostgreSQL)".into()),
        )),
    }

    // CRM.interface and forms.xml.
    let mut enabled_reps = Vec::new();
    let forms = match wiring::forms(config) {
        Ok(forms) => forms,
        Err(e) => {
            lines.push(Line::new(
                "crm",
                "forms.xml",
                "failed",
                Some(format!("{e:#}")),
                Some("fix the file named above, or remove [crm] forms_xml".into()),
            ));
            None
        }
    };
    match wiring::crm_config(config).and_then(|c| Ok(gc_crm::CrmClient::new(c)?)) {
        Ok(crm) => {
            if fix_catalogs {
                match gc_crm::fix_catalogs(&crm).await {
                    Ok(added) if added.is_empty() => {}
                    Ok(added) => {
                        for (catalog, value) in added {
                            lines.push(Line::new(
                                "crm",
                                format!("catalog {catalog}"),
                                "ok",
                                Some(format!("added the missing value {value}")),
                                None,
                            ));
                        }
                    }
                    Err(e) => lines.push(Line::new(
                        "crm",
                        "fix catalogs",
                        "failed",
                        Some(e.to_string()),
                        Some("add the values by hand in the CRM catalog maintenance".into()),
                    )),
                }
            }
            lines.push(Line::new(
                "crm",
                "time zone",
                "ok",
                Some(format!(
                    "CRM dates and times are read and written in {}",
                    wiring::time_zone_description(config)
                )),
                None,
            ));
            lines.push(child_records_line(crm.dialect()));
            let options = gc_crm::DiagnoseOptions {
                forms_path: config.crm.forms_xml.clone(),
                kinds: wiring::kinds(config),
                extra_fields: wiring::extra_fields(config, forms.as_ref()),
                activity_type: config
                    .emails
                    .enabled
                    .then(|| config.emails.activity_type.clone()),
                ..Default::default()
            };
            let report = gc_crm::diagnose(&crm, forms.as_ref(), &options).await;
            for d in report.checks {
                lines.push(Line::new(
                    "crm",
                    d.name,
                    crm_status(d.status),
                    Some(d.cause),
                    Some(d.fix),
                ));
            }
            enabled_reps = report.enabled_reps;
        }
        Err(e) => lines.push(Line::new(
            "crm",
            "client",
            "failed",
            Some(format!("{e:#}")),
            Some("check [crm] interface_url and password".into()),
        )),
    }

    // Microsoft 365.
    let graph = match wiring::graph_options(config).and_then(|o| Ok(gc_graph::GraphClient::new(o)?))
    {
        Ok(graph) => graph,
        Err(e) => {
            lines.push(Line::new(
                "microsoft",
                "client",
                "failed",
                Some(format!("{e:#}")),
                Some("check [microsoft] certificate / client_secret".into()),
            ));
            return;
        }
    };
    let managed = |email: &str| config.microsoft.is_managed_address(email);
    let probe = mailbox.or_else(|| {
        enabled_reps
            .iter()
            .filter_map(|r| r.email.clone())
            .find(|e| managed(e))
    });
    let diagnostics = gc_graph::diagnose(&graph, probe.as_deref()).await;
    let token_ok = diagnostics
        .first()
        .is_some_and(|d| d.status == gc_graph::CheckStatus::Ok);
    for d in diagnostics {
        lines.push(Line::new(
            "microsoft",
            d.name,
            graph_status(d.status),
            d.cause,
            d.fix,
        ));
    }

    // Every enabled rep's mailbox.
    if token_ok && !enabled_reps.is_empty() {
        let mut states = BTreeMap::new();
        for email in enabled_reps
            .iter()
            .filter_map(|r| r.email.as_deref())
            .filter(|e| managed(e))
        {
            let state = match graph.get_mail_folder(email, "inbox").await {
                Ok(_) => gc_crm::MailboxState::Found,
                Err(e) => {
                    tracing::debug!(mailbox = email, error = %e, "mailbox probe failed");
                    gc_crm::MailboxState::NotFound
                }
            };
            states.insert(email.to_owned(), state);
        }
        let diagnostics = gc_crm::rep_mailbox_diagnostics(
            &enabled_reps,
            &config.microsoft.managed_domains,
            |email| {
                states
                    .get(email)
                    .copied()
                    .unwrap_or(gc_crm::MailboxState::NotFound)
            },
        );
        // A rep without a usable mailbox is skipped by the sync, which goes on for the others:
        // the administrator is told, but it does not fail the whole check.
        for d in diagnostics {
            let status = match crm_status(d.status) {
                "failed" => "warning",
                other => other,
            };
            lines.push(Line::new(
                "mailbox",
                d.name,
                status,
                Some(d.cause),
                Some(d.fix),
            ));
        }
    }
}

fn crm_status(status: gc_crm::Status) -> &'static str {
    match status {
        gc_crm::Status::Ok => "ok",
        gc_crm::Status::Failed => "failed",
        gc_crm::Status::Warning => "warning",
        gc_crm::Status::Skipped => "skipped",
    }
}

fn graph_status(status: gc_graph::CheckStatus) -> &'static str {
    match status {
        gc_graph::CheckStatus::Ok => "ok",
        gc_graph::CheckStatus::Failed => "failed",
        gc_graph::CheckStatus::Warning => "warning",
        gc_graph::CheckStatus::Skipped => "skipped",
    }
}
