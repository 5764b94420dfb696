//! `graph-connector sync --once`: refresh the mailbox list, run one full cycle of every enabled
//! kind (e-mails, appointments, tasks, contacts, absences) for every mailbox whose rep has the
//! kind's flag, with a progress bar per mailbox on a terminal, and print a summary table (or
//! JSON). Exit status 1 when a mailbox failed as a whole.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use gc_store::Kind;
use gc_sync::adapters::{CrmActivities, GraphMail, Probers, TenantDirectory};
use gc_sync::adopt::Adoption;
use gc_sync::{
    AbsenceKind, AppointmentKind, ContactKind, EmailKind, Engine, ItemOutcome, KindRunner,
    MailboxOutcome, MailboxReport, Progress, SyncReport, TasksKind,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::cli::SyncArgs;
use crate::config::{self, Config};
use crate::wiring;

/// Everything a sync cycle needs, built once from the configuration: the clients behind the
/// ports, the store, the engine's run policy and every enabled kind's rules.
pub struct Runtime {
    /// Graph side of e-mail filing (and notices).
    pub graph: Arc<GraphMail>,
    /// CRM side of e-mail filing.
    pub crm: Arc<CrmActivities>,
    /// Enabled reps and their users.
    pub directory: Arc<TenantDirectory>,
    /// State store.
    pub store: Arc<dyn gc_store::StateStore>,
    /// The engine (store, run policy, this process's lease identity).
    pub engine: Engine,
    /// E-mail rules, when e-mails are enabled.
    pub email: Option<gc_sync::EmailRules>,
    /// Appointment rules, when appointments are enabled.
    pub appointments: Option<gc_sync::AppointmentRules>,
    /// Task rules, when tasks are enabled.
    pub tasks: Option<gc_sync::TaskRules>,
    /// Contact rules, when contacts are enabled.
    pub contacts: Option<gc_sync::ContactRules>,
    /// Absence rules, when absences are enabled.
    pub absences: Option<gc_sync::AbsenceRules>,
    /// `[adoption]`.
    pub adoption: gc_sync::adopt::AdoptionSettings,
    /// Mailboxes worked at once (resolved against the number of mailboxes per cycle).
    pub parallel: config::Parallel,
    /// `[microsoft] requests_per_second` (the cap of `parallel = "auto"`).
    requests_per_second: u32,
    /// Only these addresses (empty: all).
    pub include: Vec<String>,
    /// Never these addresses.
    pub exclude: Vec<String>,
    /// The managed domains (lower case).
    pub managed_domains: Vec<String>,
    /// How the reps' `UserSettings` are read.
    pub overrides: gc_sync::mailboxes::RepOverrides,
    /// The kinds whose CRM tables are probed before a cycle.
    pub kinds: gc_crm::Kinds,
    /// Fields beyond `[crm.dialect]` the kinds use (forms.xml, missing-participants block).
    pub extra_fields: Vec<gc_crm::ExtraField>,
    /// Set once the preflight passed: the names do not change while the process runs (a
    /// name that disappears later stops the run through the engine's tenant-level error).
    preflight_passed: tokio::sync::OnceCell<()>,
}

impl Runtime {
    /// Build the clients and the store from a configuration.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = wiring::store(config).await?;
        Self::build_with_store(config, store)
    }

    /// Build the clients from a configuration, over a store already open (the admin page's
    /// plan uses the service's).
    pub fn build_with_store(
        config: &Config,
        store: Arc<dyn gc_store::StateStore>,
    ) -> anyhow::Result<Self> {
        let graph = gc_graph::GraphClient::new(wiring::graph_options(config)?)
            .context("building the Microsoft Graph client")?;
        let crm = gc_crm::CrmClient::new(wiring::crm_config(config)?)
            .context("building the CRM.interface client")?;
        let forms = wiring::forms(config)?;
        let email = config
            .emails
            .enabled
            .then(|| wiring::email_rules(config, forms.as_ref()));
        let appointments = config
            .appointments
            .enabled
            .then(|| wiring::appointment_rules(config, forms.as_ref()));
        let mut policy = wiring::run_policy(config);
        // One-shot runs wait for a mailbox whose lease a crashed process still holds.
        policy.mailbox_wait = policy.lease_ttl + std::time::Duration::from_secs(1);
        let contacts = config
            .contacts
            .enabled
            .then(|| wiring::contact_rules(config));
        let absences = config
            .absences
            .enabled
            .then(|| wiring::absence_rules(config, crm.time_zone().clone()));
        let activity_type = email
            .as_ref()
            .map_or_else(|| "E-Mail".to_owned(), |e| e.activity_type.clone());
        Ok(Runtime {
            directory: Arc::new(TenantDirectory::new(crm.clone(), graph.clone())),
            engine: Engine::new(store.clone(), policy, holder(config))
                .with_backlog_hint(Arc::new(graph.clone())),
            graph: Arc::new(wiring::graph_mail(config, graph)),
            crm: Arc::new(CrmActivities::new(crm, activity_type)),
            store,
            email,
            appointments,
            tasks: config.tasks.enabled.then(|| wiring::task_rules(config)),
            contacts,
            absences,
            parallel: config.mailboxes.parallel,
            requests_per_second: config.microsoft.requests_per_second,
            include: lower(&config.mailboxes.include),
            exclude: lower(&config.mailboxes.exclude),
            managed_domains: wiring::managed_domains(config),
            adoption: config.adoption.settings(),
            overrides: wiring::rep_overrides(config),
            kinds: wiring::kinds(config),
            extra_fields: wiring::extra_fields(config, forms.as_ref()),
            preflight_passed: tokio::sync::OnceCell::new(),
        })
    }

    /// Before any mailbox is worked: does CRM.interface know every table and field the
    /// enabled kinds use, under the configured names, and can the required catalogs be read?
    /// A configuration mistake stops here, with the `[crm.dialect]` key to set, instead of
    /// failing every message.
    pub async fn preflight(&self) -> anyhow::Result<()> {
        self.preflight_passed
            .get_or_try_init(|| self.probe())
            .await
            .map(|_| ())
    }

    async fn probe(&self) -> anyhow::Result<()> {
        let findings = gc_crm::probe::preflight(self.crm.client(), self.kinds, &self.extra_fields)
            .await
            .context("probing the CRM tables and fields before synchronizing")?;
        if findings.is_empty() {
            return Ok(());
        }
        let mut text = format!(
            "the configuration does not fit this CRM.interface ({} problem{}); nothing was synchronized and nobody was notified:",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        );
        for f in &findings {
            text.push_str(&format!("\n  - {f}"));
        }
        text.push_str("\n`graph-connector check` lists every check.");
        anyhow::bail!(text)
    }

    /// The mailboxes of `list` this configuration works (`[mailboxes] include`, `exclude`),
    /// or only `only`.
    pub fn targets(
        &self,
        list: &gc_sync::mailboxes::MailboxList,
        only: Option<&str>,
    ) -> anyhow::Result<Vec<gc_sync::MailboxTarget>> {
        let mut targets: Vec<_> = list
            .targets
            .iter()
            .filter(|t| self.include.is_empty() || self.include.contains(&t.owner.email))
            .filter(|t| !self.exclude.contains(&t.owner.email))
            .cloned()
            .collect();
        if let Some(addr) = only {
            targets.retain(|t| t.owner.email.eq_ignore_ascii_case(addr));
            if targets.is_empty() {
                anyhow::bail!(
                    "{addr} is not an enabled mailbox (the rep must be enabled in CRM and have a Microsoft 365 mailbox)"
                );
            }
        }
        Ok(targets)
    }

    /// Mailboxes worked at once for `n` mailboxes (`[mailboxes] parallel`).
    pub fn parallel_for(&self, n: usize) -> usize {
        self.parallel.resolve(n, self.requests_per_second)
    }

    /// Every enabled kind, in the order a cycle runs them, for the reps of `list`.
    pub fn runners(&self, list: &gc_sync::mailboxes::MailboxList) -> Vec<Box<dyn KindRunner>> {
        let mut kinds: Vec<Box<dyn KindRunner>> = Vec::new();
        if let Some(rules) = &self.email {
            kinds.push(Box::new(
                EmailKind::new(
                    self.graph.clone(),
                    self.crm.clone(),
                    self.graph.clone(),
                    rules.clone(),
                    list.reps.clone(),
                )
                .with_prober(self.graph.clone())
                .with_adoption(Adoption::new(
                    self.graph.clone(),
                    self.crm.clone(),
                    self.adoption,
                )),
            ));
        }
        if let Some(rules) = &self.absences {
            kinds.push(Box::new(
                AbsenceKind::new(self.graph.clone(), self.crm.clone(), rules.clone())
                    .with_prober(self.crm.clone())
                    .with_adoption(Adoption::new(
                        self.graph.clone(),
                        self.crm.clone(),
                        self.adoption,
                    )),
            ));
        }
        if let Some(rules) = &self.appointments {
            // The calendars this configuration works: `[mailboxes] include`, `exclude`.
            let calendars = self.targets(list, None).unwrap_or_default();
            kinds.push(Box::new(
                AppointmentKind::new(
                    self.graph.clone(),
                    self.crm.clone(),
                    rules.clone(),
                    list.reps.clone(),
                )
                .with_calendars(&calendars)
                .with_prober(Arc::new(Probers::new(self.graph.clone(), self.crm.clone())))
                .with_adoption(Adoption::new(
                    self.graph.clone(),
                    self.crm.clone(),
                    self.adoption,
                )),
            ));
        }
        if let Some(rules) = &self.tasks {
            kinds.push(Box::new(
                TasksKind::new(self.graph.clone(), self.crm.clone(), rules.clone())
                    .with_prober(Arc::new(Probers::new(self.graph.clone(), self.crm.clone())))
                    .with_adoption(Adoption::new(
                        self.graph.clone(),
                        self.crm.clone(),
                        self.adoption,
                    )),
            ));
        }
        if let Some(rules) = &self.contacts {
            kinds.push(Box::new(
                ContactKind::new(self.graph.clone(), self.crm.clone(), rules.clone())
                    .with_prober(self.crm.clone())
                    .with_adoption(Adoption::new(
                        self.graph.clone(),
                        self.crm.clone(),
                        self.adoption,
                    )),
            ));
        }
        kinds
    }

    /// Refresh the mailbox list and run one cycle of every enabled kind (all mailboxes, or
    /// only `only`). A tenant-level error stops the cycle (`SyncReport::stopped`).
    pub async fn cycle(
        &self,
        only: Option<&str>,
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> anyhow::Result<SyncReport> {
        // The Graph token is fetched while CRM answers the preflight and the rep list, so the
        // cycle's first Graph request does not wait for it. A failure here is only logged:
        // that first request fetches again and reports it, with its context.
        let warm = async {
            if let Err(e) = self.graph.client().tokens().token().await {
                tracing::debug!(error = %e, "fetching the Graph token ahead failed");
            }
        };
        let (list, ()) = tokio::join!(
            async {
                self.preflight().await?;
                gc_sync::mailboxes::refresh(
                    &*self.directory,
                    &self.store,
                    &self.managed_domains,
                    self.overrides,
                )
                .await
                .context(
                    "refreshing the mailbox list (enabled reps in CRM, users in Microsoft 365)",
                )
            },
            warm
        );
        let list = list?;
        let targets = self.targets(&list, only)?;
        let kinds = self.runners(&list);
        let mut report = SyncReport {
            reps_without_mailbox: list
                .unmatched
                .iter()
                .map(|u| format!("{}: {}", u.email, u.reason))
                .collect(),
            rep_settings: list
                .settings_warnings
                .iter()
                .map(|u| format!("{}: {}", u.email, u.reason))
                .collect(),
            ..SyncReport::default()
        };
        let parallel = self
            .parallel
            .resolve(targets.len(), self.requests_per_second);
        for kind in &kinds {
            // Each kind works the mailboxes whose rep has its flag set.
            let of_kind: Vec<_> = targets
                .iter()
                .filter(|t| t.owner.kinds.has(kind.kind()))
                .cloned()
                .collect();
            let reports = kind
                .run_all(&self.engine, &of_kind, parallel, progress, cancel)
                .await;
            let stopped = reports
                .iter()
                .find(|r| r.outcome == MailboxOutcome::Stopped)
                .and_then(|r| r.error.clone());
            report.mailboxes.extend(reports);
            if let Some(why) = stopped {
                report.stopped = Some(why);
                break;
            }
        }
        Ok(report)
    }
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
}

/// This process's identity in store leases: `[state] instance_name` (default: the host
/// name), the process id and the start time, `name:pid:nanos-hex`. The name tells the
/// administrator which machine or service holds a mailbox; the pid and start time make the
/// identity unique, so a restarted process (or a second one given the same name) never
/// passes for the one before it and its leases are fenced apart.
pub fn holder(config: &Config) -> String {
    let name = config
        .state
        .instance_name
        .clone()
        .filter(|n| valid_instance_name(n))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().replace(['/', ':'], "-"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!("{name}:{}:{nanos:x}", std::process::id())
}

/// An `[state] instance_name` that fits in a holder: short, and without the `/` and `:` that
/// separate the holder's parts and a global-key lease's holder from its item.
pub fn valid_instance_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// `sync --once`.
pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        anyhow::bail!(
            "`sync` runs one cycle: add --once; to keep synchronizing on a schedule, run the service with `graph-connector run`"
        );
    }
    let (config, warnings) = config::load_with_warnings(&args.config.config, std::env::vars())?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    if wiring::enabled_kinds(&config).is_empty() {
        eprintln!(
            "no kind is enabled ([emails], [appointments], [tasks], [contacts], [absences] enabled = false): nothing to synchronize"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rt = Runtime::build(&config).await?;
    let bars = Bars::new(!args.json && std::io::stderr().is_terminal());
    let report = rt
        .cycle(args.mailbox.as_deref(), &bars, &CancellationToken::new())
        .await?;
    bars.clear();
    crate::commands::confirm::alert_held(&config, &rt, &report).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    rt.store.close().await;
    if let Some(why) = &report.stopped {
        eprintln!("error: the run was stopped before everything was synchronized: {why}");
    }
    Ok(if report.any_mailbox_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary table: one block of columns per kind that ran.
pub fn table(report: &SyncReport) -> String {
    let mut out = String::new();
    for kind in Kind::ALL {
        let rows: Vec<&MailboxReport> = report
            .mailboxes
            .iter()
            .filter(|m| m.kind == *kind)
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&kind_table(*kind, &rows, &report.total(*kind)));
    }
    for r in &report.reps_without_mailbox {
        out.push_str(&format!("not synchronized: {r}\n"));
    }
    for r in &report.rep_settings {
        out.push_str(&format!("rep settings: {r}\n"));
    }
    out
}

fn kind_table(kind: Kind, rows: &[&MailboxReport], total: &MailboxReport) -> String {
    let w = rows
        .iter()
        .map(|m| m.mailbox.len())
        .max()
        .unwrap_or(7)
        .max(7);
    // E-mails are "filed"; the other kinds create, update and delete.
    let email = kind == Kind::Email;
    let (c1, c2) = if email {
        ("filed", "already")
    } else {
        ("created", "same")
    };
    let mut out = format!("{kind}\n");
    out.push_str(&format!(
        "{:<w$}  {:>7}  {:>7}  {:>7}  {:>7}  {:>7}  {:>7}  {:>6}  {:>7}  {:>8}  outcome\n",
        "mailbox",
        c1,
        "adopted",
        "updated",
        "deleted",
        c2,
        "skipped",
        "failed",
        "delayed",
        "warnings"
    ));
    let line = |m: &MailboxReport, outcome: &str| {
        format!(
            "{:<w$}  {:>7}  {:>7}  {:>7}  {:>7}  {:>7}  {:>7}  {:>6}  {:>7}  {:>8}  {outcome}\n",
            m.mailbox,
            m.created,
            m.adopted,
            m.updated,
            m.deleted,
            m.unchanged,
            m.skipped,
            m.failed,
            m.delayed,
            m.warnings
        )
    };
    for m in rows {
        let outcome = match (m.outcome, &m.error) {
            (MailboxOutcome::Complete, _) => "ok".to_owned(),
            (o, Some(e)) => format!("{}: {e}", outcome_text(o)),
            (o, None) => outcome_text(o).to_owned(),
        };
        out.push_str(&line(m, &outcome));
    }
    if rows.len() > 1 {
        out.push_str(&line(total, ""));
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
        MailboxOutcome::Stopped => "STOPPED",
        MailboxOutcome::Cancelled => "cancelled",
        MailboxOutcome::Held => "HELD",
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

    fn bar(&self, mailbox: &str, kind: Kind) -> Option<ProgressBar> {
        self.bars.lock().ok()?.get(&bar_key(mailbox, kind)).cloned()
    }
}

impl Progress for Bars {
    fn start(&self, mailbox: &str, kind: Kind, total: Option<u64>) {
        let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
        let style = ProgressStyle::with_template("{prefix:32!} [{bar:30}] {pos:>5}/{len:5} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("{mailbox} {kind}"));
        if let Ok(mut m) = self.bars.lock() {
            m.insert(bar_key(mailbox, kind), bar);
        }
    }

    fn item(&self, mailbox: &str, kind: Kind, _outcome: ItemOutcome, _warnings: u64) {
        if let Some(b) = self.bar(mailbox, kind) {
            if b.position() >= b.length().unwrap_or(0) {
                b.inc_length(1);
            }
            b.inc(1);
        }
    }

    fn finish(&self, report: &MailboxReport) {
        if let Some(b) = self.bar(&report.mailbox, report.kind) {
            b.finish_with_message(format!(
                "created {} adopted {} updated {} failed {}",
                report.created,
                report.adopted,
                report.updated + report.deleted,
                report.failed + report.skipped
            ));
        }
    }
}

fn bar_key(mailbox: &str, kind: Kind) -> String {
    format!("{mailbox}/{kind}")
}
