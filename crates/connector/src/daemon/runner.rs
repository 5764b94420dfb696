//! The one seam between the scheduler and the sync engine.
//!
//! [`Tenant`] answers the tenant-level questions (may anything run at all; which mailboxes
//! exist) and [`KindRunner`] runs one cycle of one kind for one mailbox. The scheduler knows
//! nothing else of the engine, so a new kind is one more `KindRunner`, and the scheduler is
//! tested with fakes. Today [`EmailRunner`] drives `gc_sync::EmailEngine::run_mailbox` and
//! [`LiveTenant`] checks the token and the CRM login and refreshes the mailbox list.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gc_store::{Kind, StateStore};
use gc_sync::adapters::{CrmActivities, GraphMail};
use gc_sync::email::run::ItemOutcome;
use gc_sync::mailboxes::{MailboxList, Unmatched};
use gc_sync::{EmailEngine, EmailSettings, MailboxReport, MailboxTarget, Progress};
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
    /// The mailboxes of the roster this kind works.
    fn mailboxes(&self, roster: &Roster) -> Vec<MailboxTarget>;
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
        ItemOutcome::Filed => "filed",
        ItemOutcome::Adopted => "adopted",
        ItemOutcome::AlreadyFiled => "already_filed",
        ItemOutcome::Skipped => "skipped",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Delayed => "delayed",
        ItemOutcome::Ignored => "ignored",
    }
}

/// Counts items per kind and action and logs each decision at debug level.
struct ItemLog {
    kind: Kind,
}

impl Progress for ItemLog {
    fn item(&self, mailbox: &str, outcome: ItemOutcome, warnings: u64) {
        let action = action(outcome);
        metrics::counter!("graph_connector_items_total", "kind" => self.kind.as_str(), "action" => action)
            .increment(1);
        tracing::debug!(mailbox, kind = %self.kind, action, warnings, "item");
    }
}

/// E-mail filing through `gc_sync::EmailEngine`.
///
/// The engine does not take a stop request yet: a run goes on until its sync folder is
/// done. Shutdown therefore waits for running cycles up to its deadline and then abandons
/// them, which is safe because every write of the engine is idempotent and crash-safe.
pub struct EmailRunner {
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    store: Arc<dyn StateStore>,
    settings: EmailSettings,
    holder: String,
}

impl EmailRunner {
    /// A runner. `holder` identifies this process in leases.
    pub fn new(
        graph: Arc<GraphMail>,
        crm: Arc<CrmActivities>,
        store: Arc<dyn StateStore>,
        settings: EmailSettings,
        holder: String,
    ) -> Self {
        EmailRunner {
            graph,
            crm,
            store,
            settings,
            holder,
        }
    }
}

#[async_trait]
impl KindRunner for EmailRunner {
    fn kind(&self) -> Kind {
        Kind::Email
    }

    fn mailboxes(&self, roster: &Roster) -> Vec<MailboxTarget> {
        roster.list.targets.clone()
    }

    async fn run(
        &self,
        roster: &Roster,
        target: &MailboxTarget,
        stop: CancellationToken,
    ) -> Result<Cycle, TenantError> {
        let mut report = MailboxReport::new(target.owner.email.clone());
        if stop.is_cancelled() {
            return Ok(Cycle { report, backlog: 0 });
        }
        let engine = EmailEngine::new(
            self.graph.clone(),
            self.crm.clone(),
            self.store.clone(),
            self.settings.clone(),
            roster.list.reps.clone(),
            self.holder.clone(),
        );
        report = engine
            .run_mailbox(target, &ItemLog { kind: Kind::Email })
            .await;
        let backlog = report.delayed;
        Ok(Cycle { report, backlog })
    }
}

/// The live tenant: Graph token, CRM master login, mailbox list.
pub struct LiveTenant {
    graph: Arc<GraphMail>,
    crm: Arc<CrmActivities>,
    store: Arc<dyn StateStore>,
    managed_domains: Vec<String>,
    include: Vec<String>,
    exclude: Vec<String>,
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
            graph,
            crm,
            store,
            managed_domains,
            include: lower(&include),
            exclude: lower(&exclude),
            crm_probe_every: Duration::from_secs(60),
            crm_ok_at: Mutex::new(None),
        }
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
            &*self.crm,
            &*self.graph,
            &self.store,
            &self.managed_domains,
        )
        .await
        .map_err(|e| {
            TenantError(format!(
                "cannot read the mailbox list (enabled reps in CRM, users in Microsoft 365): {e}"
            ))
        })?;
        list.targets.retain(|t| {
            (self.include.is_empty() || self.include.contains(&t.owner.email))
                && !self.exclude.contains(&t.owner.email)
        });
        Ok(Roster {
            list,
            refreshed_at: Some(Timestamp::now()),
        })
    }
}
