//! The one seam between the scheduler and the sync engine.
//!
//! [`Tenant`] answers the tenant-level questions (may anything run at all; which mailboxes
//! exist) and [`KindRunner`] runs one cycle of one kind for one mailbox. The scheduler knows
//! nothing else of the engine, so a new kind is one more `KindRunner`, and the scheduler is
//! tested with fakes. [`EngineRunner`] drives `gc_sync::Engine::run_mailbox` with a kind built
//! for the current roster (e-mail: [`email_runner`], appointments: [`appointment_runner`],
//! tasks: [`tasks_runner`], contacts: [`contact_runner`], absences: [`absence_runner`]), and
//! [`LiveTenant`] checks the token and
//! the CRM login and refreshes the mailbox list.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gc_store::{Kind, StateStore};
use gc_sync::adapters::{CrmActivities, GraphMail, Probers, TenantDirectory};
use gc_sync::adopt::{Adoption, AdoptionSettings};
use gc_sync::mailboxes::{MailboxList, Unmatched};
use gc_sync::{
    AbsenceKind, AbsenceRules, AppointmentKind, AppointmentRules, ContactKind, ContactRules,
    EmailKind, EmailRules, Engine, ItemOutcome, MailboxOutcome, MailboxReport, MailboxTarget,
    Progress, TaskRules, TasksKind,
};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

/// A tenant-level error: nothing can run (token refused, CRM login refused, mailbox list
/// unreadable). It stops every run and is never charged to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TenantError(pub String);

/// The mailboxes known after the last refresh.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// Enabled reps matched to Microsoft 365 mailboxes (after `[mailboxes] include/exclude`).
    pub list: MailboxList,
    /// When the list was read.
    pub refreshed_at: Option<Timestamp>,
}

impl Roster {
    /// Reps that are not synchronized, and why.
    pub fn unmatched(&self) -> &[Unmatched] {
        &self.list.unmatched
    }
}

/// Tenant-level checks and the mailbox list.
#[async_trait]
pub trait Tenant: Send + Sync {
    /// Checked before runs are started: an error stops every run until it passes.
    async fn gate(&self) -> Result<(), TenantError>;
    /// Read the mailbox list again (enabled reps in CRM, their Microsoft 365 mailboxes) and
    /// store it.
    async fn refresh(&self) -> Result<Roster, TenantError>;
}

/// What one cycle returned.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// The engine's report.
    pub report: MailboxReport,
    /// Items known to be left for later (delayed, or not reached because the run was asked
    /// to stop); the scheduler picks the mailbox again soon.
    pub backlog: u64,
}

/// Runs one kind for one mailbox.
#[async_trait]
pub trait KindRunner: Send + Sync {
    /// The kind.
    fn kind(&self) -> Kind;
    /// The mailboxes of the roster this kind works (borrowed: the scheduler looks at every
    /// one on every pass and copies only those it starts).
    fn mailboxes<'r>(&self, roster: &'r Roster) -> Vec<&'r MailboxTarget>;
    /// Which of `targets` (due now) have nothing to do: their probes, asked together, say
    /// nothing changed (see `gc_sync::Engine::idle`). The scheduler records those as done
    /// without a run. The default: none (every due mailbox is run).
    async fn idle(&self, _roster: &Roster, targets: &[MailboxTarget]) -> Vec<bool> {
        vec![false; targets.len()]
    }
    /// One full cycle of this kind for `target`. `stop` asks the run to take no new items
    /// (shutdown, a local pause, or the end of its fair share of time); whatever it leaves is
    /// reported as backlog and picked up next time.
    async fn run(
        &self,
        roster: &Roster,
        target: &MailboxTarget,
        stop: CancellationToken,
    ) -> Result<Cycle, TenantError>;
}

/// Item outcomes as metric and log labels.
pub fn action(outcome: ItemOutcome) -> &'static str {
    match outcome {
        ItemOutcome::Created => "created",
        ItemOutcome::Adopted => "adopted",
        ItemOutcome::Updated => "updated",
        ItemOutcome::Deleted => "deleted",
        ItemOutcome::Unchanged => "unchanged",
        ItemOutcome::Skipped => "skipped",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Delayed => "delayed",
        ItemOutcome::Ignored => "ignored",
    }
}

/// Counts items per kind and action and logs each decision at debug level.
struct ItemLog;

impl Progress for ItemLog {
    fn item(&self, mailbox: &str, kind: Kind, outcome: ItemOutcome, warnings: u64) {
        let action = action(outcome);
        metrics::counter!("graph_connector_items_total", "kind" => kind.as_str(), "action" => action)
            .increment(1);
        tracing::debug!(mailbox, %kind, action, warnings, "item");
    }
}

/// A kind of the engine as the scheduler runs it: the kind is made for the current roster
/// (e-mail needs every enabled rep, to recognise colleagues among the participants), the
/// engine runs it for one mailbox under the stop token, and a tenant-level stop becomes a
/// [`TenantError`] the scheduler handles once for everyone.
pub struct EngineRunner<K> {
    engine: Engine,
    kind: Kind,
    make: Box<dyn Fn(&Roster) -> K + Send + Sync>,
}

impl<K: gc_sync::engine::SyncKind> EngineRunner<K> {
    /// A runner of `kind`, built by `make` for each roster.
    pub fn new(
        engine: Engine,
        kind: Kind,
        make: impl Fn(&Roster) -> K + Send + Sync + 'static,
    ) -> Self {
        EngineRunner {
            engine,
            kind,
            make: Box::new(make),
        }
    }
}

/// E-mail filing for the scheduler.
pub fn email_runner(
    engine: Engine,
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    rules: EmailRules,
    adoption: AdoptionSettings,
) -> EngineRunner<EmailKind> {
    EngineRunner::new(engine, Kind::Email, move |roster: &Roster| {
        EmailKind::new(
            graph.clone(),
            crm.clone(),
            graph.clone(),
            rules.clone(),
            roster.list.reps.clone(),
        )
        .with_prober(graph.clone())
        .with_adoption(Adoption::new(graph.clone(), crm.clone(), adoption))
    })
}

/// Appointments for the scheduler: the mailboxes of reps flagged for appointments.
pub fn appointment_runner(
    engine: Engine,
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    rules: AppointmentRules,
    adoption: AdoptionSettings,
) -> EngineRunner<AppointmentKind> {
    let probers = Arc::new(Probers::new(graph.clone(), crm.clone()));
    EngineRunner::new(engine, Kind::Appointment, move |roster: &Roster| {
        AppointmentKind::new(
            graph.clone(),
            crm.clone(),
            rules.clone(),
            roster.list.reps.clone(),
        )
        .with_calendars(&roster.list.targets)
        .with_prober(probers.clone())
        .with_adoption(Adoption::new(graph.clone(), crm.clone(), adoption))
    })
}

/// Tasks for the scheduler: the mailboxes of reps whose tasks flag is set.
pub fn tasks_runner(
    engine: Engine,
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    rules: TaskRules,
    adoption: AdoptionSettings,
) -> EngineRunner<TasksKind> {
    let probers = Arc::new(Probers::new(graph.clone(), crm.clone()));
    EngineRunner::new(engine, Kind::Task, move |_: &Roster| {
        TasksKind::new(graph.clone(), crm.clone(), rules.clone())
            .with_prober(probers.clone())
            .with_adoption(Adoption::new(graph.clone(), crm.clone(), adoption))
    })
}

/// Contacts (CRM persons → the rep's contacts) for the scheduler.
pub fn contact_runner(
    engine: Engine,
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    rules: ContactRules,
    adoption: AdoptionSettings,
) -> EngineRunner<ContactKind> {
    EngineRunner::new(engine, Kind::Contact, move |_: &Roster| {
        ContactKind::new(graph.clone(), crm.clone(), rules.clone())
            .with_prober(crm.clone())
            .with_adoption(Adoption::new(graph.clone(), crm.clone(), adoption))
    })
}

/// Absences (CRM absences → calendar events) for the scheduler.
pub fn absence_runner(
    engine: Engine,
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    rules: AbsenceRules,
    adoption: AdoptionSettings,
) -> EngineRunner<AbsenceKind> {
    EngineRunner::new(engine, Kind::Absence, move |_: &Roster| {
        AbsenceKind::new(graph.clone(), crm.clone(), rules.clone())
            .with_prober(crm.clone())
            .with_adoption(Adoption::new(graph.clone(), crm.clone(), adoption))
    })
}

#[async_trait]
impl<K: gc_sync::engine::SyncKind> KindRunner for EngineRunner<K> {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn mailboxes<'r>(&self, roster: &'r Roster) -> Vec<&'r MailboxTarget> {
        roster.list.iter_of(self.kind).collect()
    }

    async fn idle(&self, roster: &Roster, targets: &[MailboxTarget]) -> Vec<bool> {
        let kind = (self.make)(roster);
        self.engine.idle(&kind, targets).await
    }

    async fn run(
        &self,
        roster: &Roster,
        target: &MailboxTarget,
        stop: CancellationToken,
    ) -> Result<Cycle, TenantError> {
        let kind = (self.make)(roster);
        let report = self
            .engine
            .run_mailbox(&kind, target, &ItemLog, &stop)
            .await;
        match report.outcome {
            MailboxOutcome::Stopped => {
                Err(TenantError(report.error.unwrap_or_else(|| {
                    "a tenant-level error stopped the run".into()
                })))
            }
            // Called off before the end: whatever is left waits for the next turn, soon.
            MailboxOutcome::Cancelled => Ok(Cycle {
                backlog: report.delayed.max(1),
                report,
            }),
            _ => Ok(Cycle {
                backlog: report.delayed,
                report,
            }),
        }
    }
}

/// The live tenant: Graph token, CRM master login, mailbox list.
pub struct LiveTenant {
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    directory: TenantDirectory,
    store: Arc<dyn StateStore>,
    managed_domains: Vec<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    /// How the reps' `UserSettings` are read.
    overrides: gc_sync::mailboxes::RepOverrides,
    /// The CRM login is probed at most this often (the token is cached by the client).
    crm_probe_every: Duration,
    crm_ok_at: Mutex<Option<Instant>>,
}

impl LiveTenant {
    /// A tenant over these clients; `include`/`exclude` are `[mailboxes]` address lists.
    pub fn new(
        graph: Arc<GraphMail>,
        crm: Arc<CrmActivities>,
        store: Arc<dyn StateStore>,
        managed_domains: Vec<String>,
        include: Vec<String>,
        exclude: Vec<String>,
    ) -> Self {
        LiveTenant {
            directory: TenantDirectory::new(crm.client().clone(), graph.client().clone()),
            graph,
            crm,
            store,
            managed_domains,
            include: lower(&include),
            exclude: lower(&exclude),
            overrides: gc_sync::mailboxes::RepOverrides::Honour(Default::default()),
            crm_probe_every: Duration::from_secs(60),
            crm_ok_at: Mutex::new(None),
        }
    }
}

impl LiveTenant {
    /// Read the reps' `UserSettings` this way (`[mailboxes] user_settings`).
    pub fn with_overrides(mut self, overrides: gc_sync::mailboxes::RepOverrides) -> Self {
        self.overrides = overrides;
        self
    }
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
}

#[async_trait]
impl Tenant for LiveTenant {
    async fn gate(&self) -> Result<(), TenantError> {
        self.graph.client().access_token().await.map_err(|e| {
            TenantError(format!(
                "no access token from Microsoft Entra ID, so nothing can run: {e}"
            ))
        })?;
        let fresh = self
            .crm_ok_at
            .lock()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| t.elapsed() < self.crm_probe_every);
        if !fresh {
            self.crm.client().master().ping().await.map_err(|e| {
                TenantError(format!(
                    "CRM.interface does not accept the master user, so nothing can run: {e}"
                ))
            })?;
            if let Ok(mut t) = self.crm_ok_at.lock() {
                *t = Some(Instant::now());
            }
        }
        Ok(())
    }

    async fn refresh(&self) -> Result<Roster, TenantError> {
        let mut list = gc_sync::mailboxes::refresh(
            &self.directory,
            &self.store,
            &self.managed_domains,
            self.overrides,
        )
        .await
        .map_err(|e| {
            TenantError(format!(
                "cannot read the mailbox list (enabled reps in CRM, users in Microsoft 365): {e}"
            ))
        })?;
        let wanted = |t: &MailboxTarget| {
            (self.include.is_empty() || self.include.contains(&t.owner.email))
                && !self.exclude.contains(&t.owner.email)
        };
        list.targets.retain(wanted);
        Ok(Roster {
            list,
            refreshed_at: Some(Timestamp::now()),
        })
    }
}
