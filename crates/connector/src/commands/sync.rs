//! `graph-connector sync --once`: refresh the mailbox list, run one full cycle of every enabled
//! kind (e-mails for now) for every mailbox, with a progress bar per mailbox on a terminal, and
//! print a summary table (or JSON). Exit status 1 when a mailbox failed as a whole.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use gc_sync::adapters::{CrmActivities, GraphMail};
use gc_sync::email::run::ItemOutcome;
use gc_sync::{EmailEngine, MailboxOutcome, MailboxReport, Progress, SyncReport};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::SyncArgs;
use crate::config::{self, Config};
use crate::wiring;

/// Everything a sync cycle needs, built once from the configuration.
pub struct EmailRuntime {
    /// Graph side.
    pub graph: Arc<GraphMail>,
    /// CRM side.
    pub crm: Arc<CrmActivities>,
    /// State store.
    pub store: Arc<dyn gc_store::StateStore>,
    /// Engine settings.
    pub settings: gc_sync::EmailSettings,
    /// Mailboxes worked at once.
    pub parallel: usize,
    /// Only these addresses (empty: all).
    pub include: Vec<String>,
    /// Never these addresses.
    pub exclude: Vec<String>,
}

impl EmailRuntime {
    /// Build the clients and the store from a configuration.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let graph = gc_graph::GraphClient::new(wiring::graph_options(config)?)
            .context("building the Microsoft Graph client")?;
        let crm = gc_crm::CrmClient::new(wiring::crm_config(config)?)
            .context("building the CRM.interface client")?;
        let forms = wiring::forms(config)?;
        let mut settings = wiring::email_settings(config, forms.as_ref());
        // One-shot runs wait for a mailbox whose lease a crashed process still holds.
        settings.mailbox_wait = settings.lease_ttl + std::time::Duration::from_secs(1);
        Ok(EmailRuntime {
            graph: Arc::new(GraphMail::new(graph, config.microsoft.admin_email.clone())),
            crm: Arc::new(CrmActivities::new(crm, settings.activity_type.clone())),
            store: wiring::store(config).await?,
            settings,
            parallel: config.mailboxes.parallel.max(1) as usize,
            include: lower(&config.mailboxes.include),
            exclude: lower(&config.mailboxes.exclude),
        })
    }

    /// Refresh the mailbox list and run one e-mail cycle (all mailboxes, or only `only`).
    pub async fn cycle(
        &self,
        only: Option<&str>,
        progress: &dyn Progress,
    ) -> anyhow::Result<SyncReport> {
        let list = gc_sync::mailboxes::refresh(
            &*self.crm,
            &*self.graph,
            &self.store,
            &self.settings.managed_domains,
        )
        .await
        .context("refreshing the mailbox list (enabled reps in CRM, users in Microsoft 365)")?;
        let mut targets: Vec<_> = list
            .targets
            .into_iter()
            .filter(|t| self.include.is_empty() || self.include.contains(&t.owner.email))
            .filter(|t| !self.exclude.contains(&t.owner.email))
            .collect();
        if let Some(addr) = only {
            targets.retain(|t| t.owner.email.eq_ignore_ascii_case(addr));
            if targets.is_empty() {
                anyhow::bail!(
                    "{addr} is not an enabled mailbox (the rep must be enabled for e-mails in CRM and have a Microsoft 365 mailbox)"
                );
            }
        }
        let engine = EmailEngine::new(
            self.graph.clone(),
            self.crm.clone(),
            self.store.clone(),
            self.settings.clone(),
            list.reps,
            holder(),
        );
        let mailboxes = engine.run_all(&targets, self.parallel, progress).await;
        Ok(SyncReport {
            mailboxes,
            reps_without_mailbox: list
                .unmatched
                .into_iter()
                .map(|u| format!("{}: {}", u.email, u.reason))
                .collect(),
        })
    }
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
}

/// This process's identity in store leases: host, pid and a random part.
pub fn holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!("{host}:{}:{nanos:x}", std::process::id())
}

/// `sync --once`.
pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        anyhow::bail!(
            "`sync` runs one cycle: add --once; to keep synchronizing on a schedule, run the service with `graph-connector run`"
        );
    }
    let config = config::load(&args.config.config, std::env::vars())?;
    if !config.emails.enabled {
        eprintln!("[emails] enabled = false: nothing to synchronize");
        return Ok(ExitCode::SUCCESS);
    }
    let rt = EmailRuntime::build(&config).await?;
    let bars = Bars::new(!args.json && std::io::stderr().is_terminal());
    let report = rt.cycle(args.mailbox.as_deref(), &bars).await?;
    bars.clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    rt.store.close().await;
    Ok(if report.any_mailbox_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary table.
pub fn table(report: &SyncReport) -> String {
    let w = report
        .mailboxes
        .iter()
        .map(|m| m.mailbox.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let mut out = format!(
        "{:<w$}  {:>6}  {:>7}  {:>7}  {:>7}  {:>6}  {:>7}  {:>8}  outcome\n",
        "mailbox", "filed", "adopted", "already", "skipped", "failed", "delayed", "warnings"
    );
    let line = |m: &MailboxReport, outcome: &str| {
        format!(
            "{:<w$}  {:>6}  {:>7}  {:>7}  {:>7}  {:>6}  {:>7}  {:>8}  {outcome}\n",
            m.mailbox,
            m.filed,
            m.adopted,
            m.already_filed,
            m.skipped,
            m.failed,
            m.delayed,
            m.warnings
        )
    };
    for m in &report.mailboxes {
        let outcome = match (m.outcome, &m.error) {
            (MailboxOutcome::Complete, _) => "ok".to_owned(),
            (o, Some(e)) => format!("{}: {e}", outcome_text(o)),
            (o, None) => outcome_text(o).to_owned(),
        };
        out.push_str(&line(m, &outcome));
    }
    if report.mailboxes.len() > 1 {
        out.push_str(&line(&report.total(), ""));
    }
    for r in &report.reps_without_mailbox {
        out.push_str(&format!("not synchronized: {r}\n"));
    }
    out
}

fn outcome_text(o: MailboxOutcome) -> &'static str {
    match o {
        MailboxOutcome::Complete => "ok",
        MailboxOutcome::Delayed => "delayed",
        MailboxOutcome::Failed => "FAILED",
        MailboxOutcome::Busy => "busy",
        MailboxOutcome::Excluded => "excluded",
    }
}

/// One progress bar per mailbox (hidden when stderr is not a terminal).
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars drawn on stderr when `visible`.
    pub fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Remove the bars from the terminal.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }

    fn bar(&self, mailbox: &str) -> Option<ProgressBar> {
        self.bars.lock().ok()?.get(mailbox).cloned()
    }
}

impl Progress for Bars {
    fn start(&self, mailbox: &str, total: Option<u64>) {
        let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
        let style = ProgressStyle::with_template("{prefix:32!} [{bar:30}] {pos:>5}/{len:5} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(mailbox.to_owned());
        if let Ok(mut m) = self.bars.lock() {
            m.insert(mailbox.to_owned(), bar);
        }
    }

    fn item(&self, mailbox: &str, _outcome: ItemOutcome, _warnings: u64) {
        if let Some(b) = self.bar(mailbox) {
            if b.position() >= b.length().unwrap_or(0) {
                b.inc_length(1);
            }
            b.inc(1);
        }
    }

    fn finish(&self, report: &MailboxReport) {
        if let Some(b) = self.bar(&report.mailbox) {
            b.finish_with_message(format!(
                "filed {} adopted {} failed {}",
                report.filed,
                report.adopted,
                report.failed + report.skipped
            ));
        }
    }
}
