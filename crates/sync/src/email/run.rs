//! The executor of e-mail filing for one mailbox: walk the sync folder's delta from the stored
//! checkpoint; per message gather the inputs, [`decide`], execute, record.
//!
//! Write order (crash safety, docs/SYNC.md): the CRM activity is written with its external
//! key (the message's `internetMessageId`), so a repeat finds it and adopts it; an
//! "interrupted" link is stored before the write so that a repeat also looks for an activity a
//! killed attempt wrote before its external key; then the link and the ledger entries are
//! committed in one transaction; only then is the message categorised and moved. The delta
//! checkpoint advances only after every item of a page is done; a transient error leaves the
//! page to be read again next run (filed items are recognised by their link).

use std::sync::Arc;

use futures::StreamExt;
use gc_store::{
    CrmId, Cursor, ItemCommit, Kind, LedgerAction, Link, LinkState, NewLedgerEntry, RunCounts,
    RunOutcome, StateStore, lease_key,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::email::attachments::{self, DocumentSet};
use crate::email::decide::{self, Decision, INTERRUPTED, Input, triage};
use crate::email::model::{
    ActivityPlan, DocumentPlan, DocumentSource, FoundBy, MailItem, MailMessage, Owner, PeopleMatch,
    RepRef,
};
use crate::email::participants;
use crate::lease::LeaseGuard;
use crate::ports::{
    ActivityCrm, CreateOutcome, ErrorClass, FolderRef, MailGraph, Notification, PortError,
};
use crate::report::{MailboxOutcome, MailboxReport};
use crate::settings::EmailSettings;

/// Documents up to this total size (bytes) are written in the same request as the activity.
pub const INLINE_DOCUMENT_BYTES: usize = 1024 * 1024;

/// A mailbox to work: its owner and how Graph addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxTarget {
    /// The rep who owns it.
    pub owner: Owner,
    /// The Graph user (address or object id) used in `/users/{…}`.
    pub graph_user: String,
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    /// A new activity was written.
    Filed,
    /// An existing activity was adopted.
    Adopted,
    /// Filed earlier; only moved now.
    AlreadyFiled,
    /// Skipped on purpose (failure folder).
    Skipped,
    /// Failed (failure folder).
    Failed,
    /// Delayed by a transient error: still in the sync folder, retried next run.
    Delayed,
    /// Nothing to do (removed, or not in the sync folder any more).
    Ignored,
}

/// Receives progress of mailbox runs (the CLI draws progress bars from it).
pub trait Progress: Send + Sync {
    /// A mailbox run starts; `total` is the number of messages in its sync folder, if known.
    fn start(&self, _mailbox: &str, _total: Option<u64>) {}
    /// One item was handled.
    fn item(&self, _mailbox: &str, _outcome: ItemOutcome, _warnings: u64) {}
    /// The mailbox run ended.
    fn finish(&self, _report: &MailboxReport) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// The e-mail engine of one process.
#[derive(Clone)]
pub struct EmailEngine {
    graph: Arc<dyn MailGraph>,
    crm: Arc<dyn ActivityCrm>,
    store: Arc<dyn StateStore>,
    settings: Arc<EmailSettings>,
    /// Every enabled rep (colleagues among the participants become rep participants).
    reps: Arc<Vec<RepRef>>,
    /// Identity of this process in leases.
    holder: String,
    /// Set by the first configuration (tenant-level) error: the run stops, nothing else moves.
    halt: Arc<std::sync::OnceLock<String>>,
}

impl std::fmt::Debug for EmailEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailEngine")
            .field("holder", &self.holder)
            .finish()
    }
}

/// Result of one item: its outcome and warnings.
struct Done {
    outcome: ItemOutcome,
    warnings: u64,
    delay_reason: Option<String>,
}

impl Done {
    fn new(outcome: ItemOutcome) -> Self {
        Done {
            outcome,
            warnings: 0,
            delay_reason: None,
        }
    }

    fn delayed(reason: impl Into<String>) -> Self {
        Done {
            outcome: ItemOutcome::Delayed,
            warnings: 0,
            delay_reason: Some(reason.into()),
        }
    }
}

/// Why an item could not be finished now.
enum Stop {
    /// Retry next run.
    Transient(String),
    /// This item cannot be filed: failure folder.
    Item(String),
    /// The configuration is wrong: stop the whole run (the item stays where it is).
    Tenant(String),
}

impl From<PortError> for Stop {
    fn from(e: PortError) -> Self {
        match e.class {
            ErrorClass::Item | ErrorClass::NotFound => Stop::Item(e.message),
            ErrorClass::Tenant => Stop::Tenant(e.message),
            _ => Stop::Transient(e.message),
        }
    }
}

impl From<gc_store::StoreError> for Stop {
    fn from(e: gc_store::StoreError) -> Self {
        Stop::Transient(format!("state store: {e}"))
    }
}

/// Per-run context of one mailbox.
struct Ctx<'a> {
    target: &'a MailboxTarget,
    progress: &'a dyn Progress,
    run_id: Uuid,
    sync_folder: FolderRef,
    success: OnceCell<FolderRef>,
    failure: OnceCell<FolderRef>,
}

impl Ctx<'_> {
    fn mailbox(&self) -> &str {
        &self.target.owner.mailbox
    }
    fn user(&self) -> &str {
        &self.target.graph_user
    }
    fn rep(&self) -> &str {
        &self.target.owner.email
    }
}

impl EmailEngine {
    /// An engine. `holder` identifies this process in leases (unique per process).
    pub fn new(
        graph: Arc<dyn MailGraph>,
        crm: Arc<dyn ActivityCrm>,
        store: Arc<dyn StateStore>,
        settings: EmailSettings,
        reps: Vec<RepRef>,
        holder: impl Into<String>,
    ) -> Self {
        EmailEngine {
            graph,
            crm,
            store,
            settings: Arc::new(settings),
            reps: Arc::new(reps),
            holder: holder.into(),
            halt: Arc::new(std::sync::OnceLock::new()),
        }
    }

    /// Why the run stopped, when a configuration error stopped it (every mailbox report then
    /// says so too; nothing was moved or notified for it).
    pub fn stopped(&self) -> Option<&str> {
        self.halt.get().map(String::as_str)
    }

    fn stop_run(&self, reason: &str) {
        if self.halt.set(reason.to_owned()).is_ok() {
            tracing::error!(reason, "configuration error: the run stops");
        }
    }

    /// The settings.
    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// Work several mailboxes, `parallel` at a time. Reports in the order of `targets`.
    pub async fn run_all(
        &self,
        targets: &[MailboxTarget],
        parallel: usize,
        progress: &dyn Progress,
    ) -> Vec<MailboxReport> {
        let mut reports: Vec<(usize, MailboxReport)> =
            futures::stream::iter(targets.iter().enumerate())
                .map(|(i, t)| async move { (i, self.run_mailbox(t, progress).await) })
                .buffer_unordered(parallel.max(1))
                .collect()
                .await;
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }

    /// One full e-mail cycle of one mailbox.
    pub async fn run_mailbox(
        &self,
        target: &MailboxTarget,
        progress: &dyn Progress,
    ) -> MailboxReport {
        let mailbox = target.owner.mailbox.clone();
        let mut report = MailboxReport::new(target.owner.email.clone());
        if let Some(reason) = self.stopped() {
            report.outcome = MailboxOutcome::Delayed;
            report.error = Some(format!("not worked, the run stopped: {reason}"));
            progress.finish(&report);
            return report;
        }
        let key = lease_key(&mailbox, Kind::Email);
        let lease = match LeaseGuard::acquire_within(
            &self.store,
            &key,
            &self.holder,
            self.settings.lease_ttl,
            self.settings.mailbox_wait,
        )
        .await
        {
            Ok(Some(l)) => l,
            Ok(None) => {
                report.outcome = MailboxOutcome::Busy;
                report.error = Some("another process is working this mailbox".into());
                progress.finish(&report);
                return report;
            }
            Err(e) => {
                report.outcome = MailboxOutcome::Failed;
                report.error = Some(format!("state store: {e}"));
                progress.finish(&report);
                return report;
            }
        };
        if let (Ok(Some(m)), Ok(now)) = (
            self.store.get_mailbox(&mailbox).await,
            self.store.now().await,
        ) && m.is_excluded_at(now)
        {
            report.outcome = MailboxOutcome::Excluded;
            report.error = Some(format!(
                "excluded until {} after repeated access errors: {}",
                m.excluded_until.map(|t| t.to_string()).unwrap_or_default(),
                m.last_error_text.unwrap_or_default()
            ));
            lease.release().await;
            progress.finish(&report);
            return report;
        }
        let run = self.store.start_run(&mailbox, Kind::Email).await;
        let run_id = run
            .as_ref()
            .map(|r| r.id)
            .unwrap_or_else(|_| Uuid::now_v7());
        let result = self.walk(target, run_id, &mut report, progress).await;
        let mut access_error = false;
        let mut tenant_error = false;
        if let Err(e) = result {
            access_error = e.class == ErrorClass::Mailbox;
            tenant_error = e.class == ErrorClass::Tenant;
            match e.class {
                ErrorClass::Transient | ErrorClass::SyncStateExpired => {
                    report.outcome = MailboxOutcome::Delayed;
                }
                ErrorClass::Tenant => {
                    self.stop_run(&e.message);
                    report.outcome = MailboxOutcome::Delayed;
                }
                _ => report.outcome = MailboxOutcome::Failed,
            }
            report.error = Some(e.message);
        } else if report.delayed > 0 {
            report.outcome = MailboxOutcome::Delayed;
        }
        let counts = RunCounts {
            created: report.filed,
            adopted: report.adopted,
            updated: 0,
            skipped: report.skipped,
            deleted: 0,
            failed: report.failed,
            warnings: report.warnings,
        };
        let outcome = match report.outcome {
            MailboxOutcome::Complete if report.failed == 0 => RunOutcome::Success,
            MailboxOutcome::Complete | MailboxOutcome::Delayed => RunOutcome::Partial,
            MailboxOutcome::Failed | MailboxOutcome::Busy | MailboxOutcome::Excluded => {
                RunOutcome::Failed
            }
        };
        if run.is_ok()
            && let Err(e) = self
                .store
                .finish_run(run_id, &counts, outcome, report.error.as_deref())
                .await
        {
            tracing::warn!(mailbox, error = %e, "cannot record the end of the run");
        }
        let health = match report.outcome {
            // a configuration error is not the mailbox's
            _ if tenant_error => Ok(()),
            MailboxOutcome::Failed => self
                .store
                .record_failure(
                    &mailbox,
                    &gc_store::MailboxFailure {
                        kind: if access_error {
                            "access_denied"
                        } else {
                            "email_run_failed"
                        }
                        .into(),
                        text: report.error.clone().unwrap_or_default(),
                    },
                    self.settings.exclusion.filter(|_| access_error),
                )
                .await
                .map(|_| ()),
            _ => self.store.record_success(&mailbox).await.map(|_| ()),
        };
        if let Err(e) = health
            && !matches!(e, gc_store::StoreError::NotFound(_))
        {
            tracing::warn!(mailbox, error = %e, "cannot record mailbox health");
        }
        lease.release().await;
        progress.finish(&report);
        report
    }

    async fn walk(
        &self,
        target: &MailboxTarget,
        run_id: Uuid,
        report: &mut MailboxReport,
        progress: &dyn Progress,
    ) -> Result<(), PortError> {
        let s = &self.settings;
        if s.validate_license {
            self.crm
                .check_rep_access(&target.owner.email)
                .await
                .map_err(|e| match e.class {
                    ErrorClass::Mailbox => PortError::new(
                        ErrorClass::Mailbox,
                        format!(
                            "CRM.interface refuses to act for {} (validate_license is on): {}; \
                             check the rep's CRM licence and login in CRM",
                            target.owner.email, e.message
                        ),
                    ),
                    _ => e,
                })?;
        }
        let Some(sync_folder) = self
            .graph
            .folder(&target.graph_user, &s.sync_folder, s.create_sync_folder)
            .await?
        else {
            progress.start(&target.owner.email, Some(0));
            return Ok(());
        };
        progress.start(&target.owner.email, sync_folder.total);
        let ctx = Ctx {
            target,
            progress,
            run_id,
            sync_folder,
            success: OnceCell::new(),
            failure: OnceCell::new(),
        };
        let mailbox = ctx.mailbox().to_owned();
        let scope = ctx.sync_folder.id.clone();
        let stored = self
            .store
            .get_cursor(&mailbox, Kind::Email, &scope)
            .await
            .map_err(|e| PortError::transient(format!("state store: {e}")))?;
        let mut cursor =
            stored.unwrap_or_else(|| Cursor::new(mailbox.clone(), Kind::Email, scope.clone()));
        let mut checkpoint = cursor
            .next_link
            .clone()
            .or_else(|| cursor.delta_link.clone());
        let mut restarted = false;
        loop {
            let page = match self
                .graph
                .delta_page(ctx.user(), &ctx.sync_folder.id, checkpoint.as_deref())
                .await
            {
                Ok(p) => p,
                Err(e) if e.class == ErrorClass::SyncStateExpired && !restarted => {
                    // Expired delta: re-enumerate; links make it idempotent.
                    tracing::info!(
                        mailbox,
                        "delta checkpoint expired, re-enumerating the sync folder"
                    );
                    restarted = true;
                    self.store
                        .clear_cursor(&mailbox, Kind::Email, &scope)
                        .await
                        .map_err(|e| PortError::transient(format!("state store: {e}")))?;
                    cursor = Cursor::new(mailbox.clone(), Kind::Email, scope.clone());
                    checkpoint = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let results: Vec<Done> = futures::stream::iter(page.items)
                .map(|item| self.item(&ctx, item))
                .buffer_unordered(s.item_concurrency.max(1))
                .collect()
                .await;
            if let Some(reason) = self.stopped() {
                // Keep the checkpoint: nothing of this page moved.
                return Err(PortError::new(ErrorClass::Tenant, reason));
            }
            let mut delayed = None;
            for d in &results {
                match d.outcome {
                    ItemOutcome::Filed => report.filed += 1,
                    ItemOutcome::Adopted => report.adopted += 1,
                    ItemOutcome::AlreadyFiled => report.already_filed += 1,
                    ItemOutcome::Skipped => report.skipped += 1,
                    ItemOutcome::Failed => report.failed += 1,
                    ItemOutcome::Delayed => {
                        report.delayed += 1;
                        delayed = delayed.or(d.delay_reason.clone());
                    }
                    ItemOutcome::Ignored => {}
                }
                report.warnings += d.warnings;
            }
            if let Some(reason) = delayed {
                // Keep the checkpoint: this page is read again next run.
                report.error = Some(format!("some messages were delayed: {reason}"));
                return Ok(());
            }
            match (page.next_link, page.delta_link) {
                (Some(next), _) => {
                    cursor.next_link = Some(next.clone());
                    checkpoint = Some(next);
                }
                (None, Some(delta)) => {
                    cursor.next_link = None;
                    cursor.delta_link = Some(delta);
                    checkpoint = None;
                }
                (None, None) => checkpoint = None,
            }
            self.store
                .put_cursor(&cursor)
                .await
                .map_err(|e| PortError::transient(format!("state store: {e}")))?;
            if checkpoint.is_none() {
                return Ok(());
            }
            if let Some(max) = s.stop_after_errors
                && report.failed >= max
            {
                // Something systematic (e.g. CRM refusing everything): do not move the whole
                // mailbox into the failure folder. The rest waits for the next run.
                return Err(PortError::new(
                    ErrorClass::Item,
                    format!(
                        "stopped after {} failed messages ([errors] stop_after_errors)",
                        report.failed
                    ),
                ));
            }
        }
    }

    async fn item(&self, ctx: &Ctx<'_>, item: MailItem) -> Done {
        if let Some(reason) = self.stopped() {
            return Done::delayed(reason);
        }
        let done = match item {
            MailItem::Removed { .. } => Done::new(ItemOutcome::Ignored),
            MailItem::Broken { id: None, reason } => {
                tracing::warn!(
                    mailbox = ctx.mailbox(),
                    reason,
                    "unreadable item without id in the sync folder"
                );
                let entry = self.entry(ctx, "unknown-item", None, LedgerAction::Failed, &reason);
                match self.store.record_ledger(&entry).await {
                    Ok(_) => Done::new(ItemOutcome::Failed),
                    Err(e) => Done::delayed(format!("state store: {e}")),
                }
            }
            MailItem::Broken {
                id: Some(id),
                reason,
            } => {
                let msg = MailMessage {
                    id,
                    ..Default::default()
                };
                let reason = format!("Microsoft 365 returned an unreadable message: {reason}");
                self.to_failure(ctx, &msg, None, LedgerAction::Failed, &reason, None)
                    .await
            }
            MailItem::Message(m) => {
                if m.parent_folder_id
                    .as_deref()
                    .is_some_and(|f| f != ctx.sync_folder.id)
                {
                    Done::new(ItemOutcome::Ignored)
                } else {
                    self.message(ctx, &m).await
                }
            }
        };
        if done.outcome != ItemOutcome::Ignored {
            ctx.progress
                .item(&ctx.target.owner.email, done.outcome, done.warnings);
        }
        done
    }

    async fn message(&self, ctx: &Ctx<'_>, m: &MailMessage) -> Done {
        match self.message_inner(ctx, m).await {
            Ok(d) => d,
            Err(Stop::Transient(reason)) => {
                tracing::info!(
                    mailbox = ctx.mailbox(),
                    message = m.id,
                    reason,
                    "message delayed"
                );
                Done::delayed(reason)
            }
            Err(Stop::Item(reason)) => {
                self.to_failure(ctx, m, None, LedgerAction::Failed, &reason, None)
                    .await
            }
            Err(Stop::Tenant(reason)) => {
                self.stop_run(&reason);
                Done::delayed(reason)
            }
        }
    }

    async fn message_inner(&self, ctx: &Ctx<'_>, m: &MailMessage) -> Result<Done, Stop> {
        let s = &*self.settings;
        let owner = &ctx.target.owner;
        let link = self
            .store
            .get_link(Kind::Email, ctx.mailbox(), &m.id)
            .await?;
        match triage(m, owner, link.as_ref(), s) {
            Some(Decision::AlreadyFiled { activity }) => {
                return self
                    .to_success(ctx, m, activity, ItemOutcome::AlreadyFiled, 0)
                    .await;
            }
            Some(Decision::Skip(reason)) => {
                return Ok(self
                    .to_failure(
                        ctx,
                        m,
                        None,
                        LedgerAction::Skipped,
                        reason.text(),
                        Some(link),
                    )
                    .await);
            }
            Some(Decision::Fail(reason)) => {
                return Ok(self
                    .to_failure(ctx, m, None, LedgerAction::Failed, &reason, Some(link))
                    .await);
            }
            _ => {}
        }
        let key = m.global_key(ctx.mailbox());
        let lease_holder = format!("{}/{}/{}", self.holder, ctx.mailbox(), m.id);
        let Some(guard) = LeaseGuard::acquire_within(
            &self.store,
            &format!("email:{key}"),
            &lease_holder,
            s.lease_ttl,
            s.key_wait,
        )
        .await?
        else {
            return Err(Stop::Transient(
                "another mailbox or process is filing the same message".into(),
            ));
        };
        let result = self.find_or_create(ctx, m, &key, link).await;
        guard.release().await;
        result
    }

    /// Under the global-key lease: find the activity (external key, links, orphan) or write it.
    async fn find_or_create(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        key: &str,
        link: Option<Link>,
    ) -> Result<Done, Stop> {
        let s = &*self.settings;
        let owner = &ctx.target.owner;
        let rep = ctx.rep();
        let mut existing = self.crm.find_by_key(rep, key).await?;
        let key_links = self.store.links_by_global_key(Kind::Email, key).await?;
        if existing.is_none() {
            // A link (of another mailbox, or our own interrupted attempt) with an activity id.
            let mut candidates: Vec<CrmId> = link.iter().filter_map(|l| l.crm_id).collect();
            for l in &key_links {
                if let Some(id) = l.crm_id
                    && !candidates.contains(&id)
                {
                    candidates.push(id);
                }
            }
            for id in candidates {
                if let Some(mut ex) = self.crm.activity(rep, id).await? {
                    ex.found_by = FoundBy::Link;
                    existing = Some(ex);
                    break;
                }
            }
        }
        let needs_people = existing.as_ref().is_none_or(|e| {
            e.found_by != FoundBy::ExternalKey || decide::is_interrupted(link.as_ref())
        });
        let people = if needs_people {
            let addresses = participants::lookup_addresses(m, owner);
            let mut p = if addresses.is_empty() {
                PeopleMatch::default()
            } else {
                self.crm.find_people(rep, &addresses).await?
            };
            p.reps = self
                .reps
                .iter()
                .filter(|r| addresses.contains(&r.email))
                .cloned()
                .collect();
            p
        } else {
            PeopleMatch::default()
        };
        let mut input = Input {
            message: m,
            owner,
            link: link.as_ref(),
            existing: existing.as_ref(),
            people: &people,
            settings: s,
        };
        let mut decision = decide::decide(&input);
        let orphan;
        if let Decision::Create(plan) = &decision
            && let Some(found) = self.find_orphan(rep, plan, &key_links).await?
        {
            tracing::info!(
                mailbox = ctx.mailbox(),
                message = m.id,
                activity = found.id,
                "adopting the activity of an interrupted attempt"
            );
            orphan = found;
            input.existing = Some(&orphan);
            decision = decide::decide(&input);
        }
        match decision {
            Decision::Create(plan) => self.create(ctx, m, &plan, link).await,
            Decision::Adopt {
                activity,
                add_participants,
                add_key,
                complete_documents,
                found_by,
            } => {
                if complete_documents {
                    self.mark_interrupted(ctx, m, key, Some(activity)).await?;
                }
                if add_key {
                    self.crm
                        .add_key(rep, activity, key, &s.content_type)
                        .await?;
                }
                if !add_participants.is_empty() {
                    self.crm
                        .add_participants(rep, activity, &add_participants)
                        .await?;
                }
                let mut warnings = Vec::new();
                if complete_documents {
                    warnings = self.complete_documents(ctx, m, activity).await?;
                }
                let how = match found_by {
                    FoundBy::ExternalKey => "filed by another mailbox (same internetMessageId)",
                    FoundBy::Link => "linked from another mailbox or an earlier attempt",
                    FoundBy::Orphan => "written by an interrupted earlier attempt",
                };
                let mut ledger = vec![self.entry(
                    ctx,
                    &m.id,
                    Some(activity),
                    LedgerAction::Adopted,
                    &format!("adopted activity {activity}: {how}"),
                )];
                ledger[0].detail = Some(self.detail(m, key, &add_participants.len()));
                for w in &warnings {
                    ledger.push(self.entry(ctx, &m.id, Some(activity), LedgerAction::Warning, w));
                }
                self.commit_active(ctx, m, key, activity, ledger).await?;
                self.to_success(
                    ctx,
                    m,
                    activity,
                    ItemOutcome::Adopted,
                    warnings.len() as u64,
                )
                .await
            }
            Decision::AlreadyFiled { activity } => {
                self.to_success(ctx, m, activity, ItemOutcome::AlreadyFiled, 0)
                    .await
            }
            Decision::Skip(reason) => Ok(self
                .to_failure(
                    ctx,
                    m,
                    None,
                    LedgerAction::Skipped,
                    reason.text(),
                    Some(link),
                )
                .await),
            Decision::Fail(reason) => Ok(self
                .to_failure(ctx, m, None, LedgerAction::Failed, &reason, Some(link))
                .await),
        }
    }

    /// An interrupted attempt (of any mailbox: the key's links say which) may have written the
    /// activity without its external key; look for it under that mailbox's rep.
    async fn find_orphan(
        &self,
        rep: &str,
        plan: &ActivityPlan,
        key_links: &[Link],
    ) -> Result<Option<crate::email::model::ExistingActivity>, Stop> {
        for l in key_links
            .iter()
            .filter(|l| l.crm_id.is_none() && decide::is_interrupted(Some(l)))
        {
            let rep_number = self
                .reps
                .iter()
                .find(|r| r.crm_id.to_string() == l.mailbox)
                .map_or_else(|| plan.rep_number.clone(), |r| r.rep_number.clone());
            let mut p = plan.clone();
            p.rep_number = rep_number;
            if let Some(found) = self.crm.find_orphan(rep, &p).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn create(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        plan: &ActivityPlan,
        link: Option<Link>,
    ) -> Result<Done, Stop> {
        let s = &*self.settings;
        let docs = match self.documents(ctx, m, plan.documents).await {
            Ok(d) => d,
            Err(Stop::Item(reason)) => {
                return Ok(self
                    .to_failure(ctx, m, None, LedgerAction::Failed, &reason, Some(link))
                    .await);
            }
            Err(e) => return Err(e),
        };
        self.mark_interrupted(ctx, m, &plan.key, None).await?;
        // Small documents travel with the activity; big ones follow one request each, so no
        // request grows beyond what CRM.interface accepts.
        let mut inline = Vec::new();
        let mut later = Vec::new();
        let mut budget = INLINE_DOCUMENT_BYTES;
        for d in &docs.documents {
            if d.content.len() <= budget {
                budget -= d.content.len();
                inline.push(d.clone());
            } else {
                later.push(d);
            }
        }
        let outcome = self
            .crm
            .create(ctx.rep(), plan, &inline, &s.content_type)
            .await;
        let id = match outcome {
            Ok(CreateOutcome::Complete(id)) => id,
            Ok(CreateOutcome::Partial { id, error }) => {
                self.mark_interrupted(ctx, m, &plan.key, Some(id)).await?;
                return Err(match error.class {
                    ErrorClass::Item | ErrorClass::NotFound => Stop::Item(format!(
                        "activity {id} was written but CRM refused part of it: {}",
                        error.message
                    )),
                    ErrorClass::Tenant => Stop::Tenant(error.message),
                    _ => Stop::Transient(error.message),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if !later.is_empty() {
            self.mark_interrupted(ctx, m, &plan.key, Some(id)).await?;
            for d in later {
                if let Err(e) = self.crm.add_document(ctx.rep(), id, d).await {
                    return Err(document_error(id, d, e));
                }
            }
        }
        let mut ledger = vec![self.entry(
            ctx,
            &m.id,
            Some(id),
            LedgerAction::Created,
            &format!(
                "created activity {id} with {} participant(s) and {} document(s)",
                plan.participants.len(),
                docs.documents.len()
            ),
        )];
        ledger[0].detail = Some(self.detail(m, &plan.key, &plan.participants.len()));
        let warnings: Vec<&String> = plan.warnings.iter().chain(docs.warnings.iter()).collect();
        for w in &warnings {
            ledger.push(self.entry(ctx, &m.id, Some(id), LedgerAction::Warning, w));
        }
        self.commit_active(ctx, m, &plan.key, id, ledger).await?;
        self.to_success(ctx, m, id, ItemOutcome::Filed, warnings.len() as u64)
            .await
    }

    /// The documents of a new activity; `Stop::Item` when an attachment cannot be read.
    async fn documents(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        source: DocumentSource,
    ) -> Result<DocumentSet, Stop> {
        let s = &*self.settings;
        match source {
            DocumentSource::None => Ok(DocumentSet::default()),
            DocumentSource::WholeMessage => {
                let mime = self.graph.mime(ctx.user(), &m.id).await?;
                Ok(attachments::plan_whole_message(
                    &m.subject,
                    mime,
                    s.whole_message.unwrap_or(u64::MAX),
                ))
            }
            DocumentSource::Attachments => {
                let list = self.graph.attachments(ctx.user(), &m.id).await?;
                attachments::plan_attachments(&list, s.attachments).map_err(Stop::Item)
            }
        }
    }

    /// After an interrupted write: attach the planned documents the activity lacks.
    async fn complete_documents(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        activity: CrmId,
    ) -> Result<Vec<String>, Stop> {
        let s = &*self.settings;
        let source = if s.whole_message.is_some() {
            DocumentSource::WholeMessage
        } else if s.attachments == crate::settings::AttachmentPolicy::None || !m.has_attachments {
            DocumentSource::None
        } else {
            DocumentSource::Attachments
        };
        let planned = self.documents(ctx, m, source).await?;
        if planned.documents.is_empty() {
            return Ok(planned.warnings);
        }
        let present = self.crm.documents(ctx.rep(), activity).await?;
        let missing: Vec<&DocumentPlan> = planned
            .documents
            .iter()
            .filter(|d| !present.iter().any(|p| p.file_name == d.file_name))
            .collect();
        for d in missing {
            if let Err(e) = self.crm.add_document(ctx.rep(), activity, d).await {
                return Err(document_error(activity, d, e));
            }
        }
        Ok(planned.warnings)
    }

    /// Store a link that says "a CRM write for this message is under way".
    async fn mark_interrupted(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        key: &str,
        activity: Option<CrmId>,
    ) -> Result<(), Stop> {
        let mut l = Link::new(Kind::Email, ctx.mailbox(), &m.id);
        l.global_key = Some(key.to_owned());
        l.crm_id = activity;
        l.state = LinkState::Failed {
            reason: INTERRUPTED.into(),
        };
        self.store.upsert_link(&l).await?;
        Ok(())
    }

    async fn commit_active(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        key: &str,
        activity: CrmId,
        ledger: Vec<NewLedgerEntry>,
    ) -> Result<(), Stop> {
        let mut l = Link::new(Kind::Email, ctx.mailbox(), &m.id);
        l.global_key = Some(key.to_owned());
        l.crm_id = Some(activity);
        self.store
            .commit_item(&ItemCommit {
                link: Some(l),
                ledger,
                cursor: None,
            })
            .await?;
        Ok(())
    }

    /// The activity is committed: colour the message and move it to the success folder.
    async fn to_success(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        activity: CrmId,
        outcome: ItemOutcome,
        warnings: u64,
    ) -> Result<Done, Stop> {
        let s = &*self.settings;
        if let Some(cat) = &s.category
            && !m.categories.iter().any(|c| c.eq_ignore_ascii_case(cat))
        {
            let mut cats = m.categories.clone();
            cats.push(cat.clone());
            match self.graph.set_categories(ctx.user(), &m.id, &cats).await {
                Ok(()) => {}
                Err(e) if e.class == ErrorClass::NotFound => return Ok(Done::new(outcome)),
                Err(e) if e.is_transient() => return Err(Stop::Transient(e.message)),
                Err(e) => {
                    tracing::warn!(mailbox = ctx.mailbox(), message = m.id, error = %e, "cannot categorise the message")
                }
            }
        }
        let folder = self
            .sub_folder(ctx, &ctx.success, &s.success_folder)
            .await
            .map_err(|e| Stop::Transient(e.message))?;
        match self.graph.move_to(ctx.user(), &m.id, &folder.id).await {
            Ok(()) => {}
            Err(e) if e.class == ErrorClass::NotFound => {
                tracing::info!(
                    mailbox = ctx.mailbox(),
                    message = m.id,
                    "message gone before it could be moved"
                );
            }
            Err(e) => return Err(Stop::Transient(e.message)),
        }
        let entry = self.entry(
            ctx,
            &m.id,
            Some(activity),
            LedgerAction::Moved,
            &format!("moved to {}", s.success_folder),
        );
        if let Err(e) = self.store.record_ledger(&entry).await {
            tracing::warn!(mailbox = ctx.mailbox(), error = %e, "cannot record the move");
        }
        Ok(Done {
            outcome,
            warnings,
            delay_reason: None,
        })
    }

    /// Not filed: record why, tell the user, move the message to the failure folder.
    /// `link` is the link read earlier (`None`: read it here).
    async fn to_failure(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        activity: Option<CrmId>,
        action: LedgerAction,
        reason: &str,
        link: Option<Option<Link>>,
    ) -> Done {
        match self
            .to_failure_inner(ctx, m, activity, action, reason, link)
            .await
        {
            Ok(d) => d,
            Err(e) => Done::delayed(e),
        }
    }

    async fn to_failure_inner(
        &self,
        ctx: &Ctx<'_>,
        m: &MailMessage,
        activity: Option<CrmId>,
        action: LedgerAction,
        reason: &str,
        link: Option<Option<Link>>,
    ) -> Result<Done, String> {
        let s = &*self.settings;
        let st = |e: gc_store::StoreError| format!("state store: {e}");
        let existing = match link {
            Some(l) => l,
            None => self
                .store
                .get_link(Kind::Email, ctx.mailbox(), &m.id)
                .await
                .map_err(st)?,
        };
        let mut l = existing.unwrap_or_else(|| Link::new(Kind::Email, ctx.mailbox(), &m.id));
        if l.global_key.is_none() && m.internet_message_id.is_some() {
            l.global_key = Some(m.global_key(ctx.mailbox()));
        }
        l.crm_id = activity.or(l.crm_id);
        l.state = LinkState::Failed {
            reason: reason.to_owned(),
        };
        let mut entry = self.entry(ctx, &m.id, activity, action, reason);
        entry.detail = Some(serde_json::json!({
            "internetMessageId": m.internet_message_id,
            "subject": m.subject,
        }));
        self.store
            .commit_item(&ItemCommit {
                link: Some(l),
                ledger: vec![entry],
                cursor: None,
            })
            .await
            .map_err(st)?;
        if s.notify_user_on_failure {
            let note = notification(m, reason, &s.sync_folder, &s.failure_folder);
            if let Err(e) = self.graph.notify(ctx.user(), &note).await {
                if e.is_transient() {
                    return Err(e.message);
                }
                tracing::warn!(mailbox = ctx.mailbox(), error = %e, "cannot notify the user");
            }
        }
        let folder = self
            .sub_folder(ctx, &ctx.failure, &s.failure_folder)
            .await
            .map_err(|e| e.message)?;
        match self.graph.move_to(ctx.user(), &m.id, &folder.id).await {
            Ok(()) => {}
            Err(e) if e.class == ErrorClass::NotFound => {}
            Err(e) => return Err(e.message),
        }
        let moved = self.entry(
            ctx,
            &m.id,
            activity,
            LedgerAction::Moved,
            &format!("moved to {}", s.failure_folder),
        );
        if let Err(e) = self.store.record_ledger(&moved).await {
            tracing::warn!(mailbox = ctx.mailbox(), error = %e, "cannot record the move");
        }
        Ok(Done::new(if action == LedgerAction::Skipped {
            ItemOutcome::Skipped
        } else {
            ItemOutcome::Failed
        }))
    }

    async fn sub_folder<'c>(
        &self,
        ctx: &'c Ctx<'_>,
        cell: &'c OnceCell<FolderRef>,
        name: &str,
    ) -> Result<&'c FolderRef, PortError> {
        cell.get_or_try_init(|| async {
            self.graph
                .child_folder(ctx.user(), &ctx.sync_folder.id, name)
                .await
        })
        .await
    }

    fn entry(
        &self,
        ctx: &Ctx<'_>,
        item: &str,
        crm_id: Option<CrmId>,
        action: LedgerAction,
        reason: &str,
    ) -> NewLedgerEntry {
        let mut e = NewLedgerEntry::new(ctx.mailbox(), Kind::Email, item, action, reason);
        e.run_id = Some(ctx.run_id);
        e.crm_id = crm_id;
        e
    }

    fn detail(&self, m: &MailMessage, key: &str, participants: &usize) -> serde_json::Value {
        serde_json::json!({
            "internetMessageId": key,
            "subject": m.subject,
            "participants": participants,
        })
    }
}

/// What a failed document write means. A big document that still fails at transport level
/// after the client's retries is taken as refused: a server that drops the connection on an
/// oversized request looks exactly like a network failure, and retrying it every run would
/// keep the message in the sync folder forever. The user is told and can retry by moving the
/// message back.
fn document_error(activity: CrmId, d: &DocumentPlan, e: PortError) -> Stop {
    if e.class == ErrorClass::Tenant {
        return Stop::Tenant(e.message);
    }
    let refused = match e.class {
        ErrorClass::Item | ErrorClass::NotFound => true,
        ErrorClass::Transient => d.content.len() > INLINE_DOCUMENT_BYTES,
        _ => false,
    };
    if refused {
        Stop::Item(format!(
            "activity {activity} was written but CRM did not accept the document {:?} ({} KB): {}",
            d.file_name,
            d.content.len().div_ceil(1024),
            e.message
        ))
    } else {
        Stop::Transient(e.message)
    }
}

/// The message that tells a user why a message was not filed and what to do.
pub fn notification(
    m: &MailMessage,
    reason: &str,
    sync_folder: &str,
    failure_folder: &str,
) -> Notification {
    let subject = if m.subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        m.subject.clone()
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Notification {
        subject: format!("Not filed in CRM: {subject}"),
        html: format!(
            "<p>The message <b>{}</b> could not be filed in Aurea CRM.</p>\
             <p><b>Why:</b> {}</p>\
             <p><b>What to do:</b> the message is in the folder <i>{}</i> below <i>{}</i>. \
             Correct the cause (for example add the missing contact in CRM), then move the \
             message back into <i>{}</i> to file it again. If the problem stays, forward this \
             note to your CRM administrator.</p>",
            esc(&subject),
            esc(reason),
            esc(failure_folder),
            esc(sync_folder),
            esc(sync_folder)
        ),
    }
}
