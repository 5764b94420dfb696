//! E-mail filing as a kind of the engine: the sync folder's delta is the one source; a message
//! becomes one CRM activity (shared by every rep who files it), then moves to the success or
//! failure folder. The steps live in [`gather`](super::gather), [`decide`](super::decide),
//! [`execute`](super::execute) and [`finish`](super::finish); this module wires them into
//! [`SyncKind`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::adopt::{Adoption, LegacyCache};
use gc_store::{Kind, Link};
use tokio::sync::OnceCell;

use crate::email::decide::{self, Decision, Input};
use crate::email::gather::{self, Facts};
use crate::email::model::{MailItem, RepRef};
use crate::email::prefetch::{self, PageFacts, RecentPages};
use crate::email::recent::RecentWrites;
use crate::email::rules::EmailRules;
use crate::email::{digest, execute, finish, folders};
use crate::engine::{
    Applied, Identity, ItemCx, MailboxTarget, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{ErrorClass, PortError};
use crate::ports::{ActivityCrm, FolderRef, MailGraph, Notifier, Probe, Prober};

/// Key of items Graph delivered without an id: they can only be reported.
pub const UNKNOWN_ITEM: &str = "unknown-item";

/// E-mail filing.
#[derive(Clone)]
pub struct EmailKind {
    pub(crate) graph: Arc<dyn MailGraph>,
    pub(crate) crm: Arc<dyn ActivityCrm>,
    pub(crate) notifier: Arc<dyn Notifier>,
    pub(crate) rules: Arc<EmailRules>,
    /// Every enabled rep (colleagues among the participants become rep participants),
    /// sorted by address: a message's addresses are looked up by binary search, since a
    /// tenant may have 10,000 reps.
    pub(crate) reps: Arc<Vec<RepRef>>,
    /// Asks the sync folders' delta links of many mailboxes at once (idle cycles).
    pub(crate) prober: Option<Arc<dyn Prober>>,
    /// Adoption by the previous connector's ids and by content (see [`crate::adopt`]).
    pub(crate) adoption: Option<Adoption>,
    /// The activities this process just created, shared by every mailbox it works.
    pub(crate) recent: Arc<RecentWrites>,
}

impl std::fmt::Debug for EmailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailKind")
            .field("sync_folder", &self.rules.sync_folder)
            .finish()
    }
}

impl EmailKind {
    /// E-mail filing over these ports, with these rules; `reps` are the enabled reps.
    pub fn new(
        graph: Arc<dyn MailGraph>,
        crm: Arc<dyn ActivityCrm>,
        notifier: Arc<dyn Notifier>,
        rules: EmailRules,
        reps: impl Into<Arc<Vec<RepRef>>>,
    ) -> Self {
        let mut reps: Arc<Vec<RepRef>> = reps.into();
        if !reps.is_sorted_by(|a, b| a.email <= b.email) {
            Arc::make_mut(&mut reps).sort_by(|a, b| a.email.cmp(&b.email));
        }
        EmailKind {
            graph,
            crm,
            notifier,
            rules: Arc::new(rules),
            reps,
            prober: None,
            adoption: None,
            recent: Arc::default(),
        }
    }

    /// Before filing a message no activity is known for, look for the one the previous
    /// connector wrote: by its EWS ids and by content (see [`crate::adopt`]).
    pub fn with_adoption(mut self, adoption: Adoption) -> Self {
        self.adoption = Some(adoption);
        self
    }

    /// The enabled reps among `addresses` (lower case).
    pub(crate) fn reps_among(&self, addresses: &[String]) -> Vec<RepRef> {
        super::participants::reps_among(&self.reps, addresses)
    }

    /// Leave out of a cycle the mailboxes whose sync folder did not change, asking `prober`
    /// (see [`Engine::idle`](crate::engine::Engine::idle)).
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &EmailRules {
        &self.rules
    }
}

/// What one mailbox run of e-mail filing resolved: the sync folder, and its success and
/// failure subfolders once needed.
#[derive(Debug)]
pub struct EmailRun {
    pub(crate) sync_folder: FolderRef,
    /// The CRM facts of the page being worked and of the one read ahead of it.
    pub(crate) pages: RecentPages,
    /// The sync folder's children, listed once when a subfolder is not kept.
    pub(crate) children: folders::Children,
    pub(crate) success: OnceCell<folders::SubFolder>,
    pub(crate) failure: OnceCell<folders::SubFolder>,
    /// The previous connector's ids of this mailbox, translated on first use.
    pub(crate) legacy: LegacyCache,
    /// When this connector first ran the mailbox (with `legacy_ids` on): messages received
    /// since are not looked up among the previous connector's ids (see
    /// [`crate::adopt::legacy::switch_over`]).
    pub(crate) switch_over: Option<jiff::Timestamp>,
    /// What the user is told at the run's end.
    pub(crate) digest: digest::Digest,
}

#[async_trait]
impl SyncKind for EmailKind {
    type Run = EmailRun;
    type Change = MailItem;
    type Facts = Facts;
    type Decision = Decision;

    fn kind(&self) -> Kind {
        Kind::Email
    }

    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<EmailRun>>, PortError> {
        let r = &self.rules;
        if r.validate_license {
            self.crm
                .check_rep_access(cx.rep())
                .await
                .map_err(|e| match e.class {
                    ErrorClass::Mailbox => PortError::new(
                        ErrorClass::Mailbox,
                        format!(
                            "CRM.interface refuses to act for {} (validate_license is on): {}; \
                             check the rep's CRM licence and login in CRM",
                            cx.rep(),
                            e.message
                        ),
                    ),
                    _ => e,
                })?;
        }
        let Some(sync_folder) = folders::sync_folder(
            &*self.graph,
            (&**cx.store, cx.kept),
            cx.mailbox(),
            cx.user(),
            &r.sync_folder,
            r.create_sync_folder,
            cx.planning,
        )
        .await?
        else {
            return Ok(None);
        };
        let switch_over = crate::adopt::legacy::switch_over(cx, self.adoption.as_ref()).await?;
        Ok(Some(Prepared {
            total: sync_folder.total,
            sources: vec![Source {
                scope: sync_folder.id.clone(),
                label: r.sync_folder.clone(),
                reconcile: false,
            }],
            run: EmailRun {
                sync_folder,
                pages: RecentPages::default(),
                children: OnceCell::new(),
                success: OnceCell::new(),
                failure: OnceCell::new(),
                legacy: LegacyCache::default(),
                switch_over,
                digest: digest::Digest::default(),
            },
        }))
    }

    /// A first sync files each message of the sync folder at most once, as one activity,
    /// and deletes nothing; the folder's item count comes with its lookup.
    fn total_bounds_first_sync(&self) -> bool {
        true
    }

    /// The sync folder's delta link, looked past removals: a message leaves the folder when
    /// it is filed (by this connector or another rep's) or deleted unfiled, and neither needs
    /// a run; only a message arriving or changing does.
    fn probes(&self, reads: &gc_store::ProbeReads, target: &MailboxTarget) -> Option<Vec<Probe>> {
        let kept = reads.mailbox(target.mailbox());
        let folder = kept.resolved(&folders::folder_key(&self.rules.sync_folder))?;
        kept.cursor(folder)
            .and_then(|c| c.round_checkpoint())
            .map(|link| {
                vec![Probe::delta_past_removals(
                    &target.graph_user,
                    link.to_owned(),
                )]
            })
    }

    /// The sync folder's next delta page (and its CRM lookup) is read while a page is filed:
    /// the page's facts are kept per page (`RecentPages`), so the read does not take them
    /// from the messages still being filed.
    fn reads_ahead(&self, _source: &Source) -> bool {
        true
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.prober.as_deref()
    }

    async fn page(
        &self,
        cx: &RunCx<'_>,
        run: &EmailRun,
        _source: &Source,
        checkpoint: Option<&str>,
    ) -> Result<Page<MailItem>, PortError> {
        let p = match self
            .graph
            .delta_page(cx.user(), &run.sync_folder.id, checkpoint)
            .await
        {
            Ok(p) => p,
            Err(e) if cx.planning => return Err(e),
            Err(e) => {
                return Err(folders::forget_on_not_found(
                    &**cx.store,
                    cx.mailbox(),
                    &self.rules.sync_folder,
                    e,
                )
                .await);
            }
        };
        let facts = match prefetch::prefetch(self, cx, &run.sync_folder.id, &p.items).await {
            Ok(f) => f,
            // Without the page's lookup every message asks for itself (and fails or waits
            // alone); what concerns the whole tenant or mailbox stops the run as usual.
            Err(e) if matches!(e.class, ErrorClass::Transient | ErrorClass::Item) => {
                tracing::warn!(mailbox = cx.mailbox(), error = %e.message, "the page's CRM lookup failed; each message looks itself up");
                PageFacts::default()
            }
            Err(e) => return Err(e),
        };
        run.pages.push(facts);
        Ok(Page {
            changes: p.items,
            next: p.next_link,
            done: p.delta_link,
        })
    }

    fn identify(&self, cx: &RunCx<'_>, run: &EmailRun, change: &MailItem) -> Option<Identity> {
        match change {
            MailItem::Removed { .. } => None,
            MailItem::Broken { id, .. } => Some(Identity {
                item: id.clone().unwrap_or_else(|| UNKNOWN_ITEM.to_owned()),
                global_key: None,
            }),
            MailItem::Message(m) => {
                // Moved out of the sync folder since (into a subfolder, by us or the user).
                if m.parent_folder_id
                    .as_deref()
                    .is_some_and(|f| f != run.sync_folder.id)
                {
                    return None;
                }
                Some(Identity {
                    item: m.id.clone(),
                    global_key: Some(m.global_key(cx.mailbox())),
                })
            }
        }
    }

    /// A message's age is its received date.
    fn dated(&self, change: &MailItem) -> Option<jiff::Timestamp> {
        match change {
            MailItem::Message(m) => m.received,
            _ => None,
        }
    }

    fn describe(&self, change: &MailItem) -> Option<serde_json::Value> {
        match change {
            MailItem::Message(m) => Some(serde_json::json!({
                "internetMessageId": m.internet_message_id,
                "subject": m.subject,
            })),
            _ => None,
        }
    }

    fn triage(
        &self,
        cx: &RunCx<'_>,
        _run: &EmailRun,
        change: &MailItem,
        link: Option<&Link>,
    ) -> Option<Decision> {
        match change {
            MailItem::Broken { id: None, reason } => Some(Decision::Report(reason.clone())),
            MailItem::Broken {
                id: Some(_),
                reason,
            } => Some(Decision::Fail(format!(
                "Microsoft 365 returned an unreadable message: {reason}"
            ))),
            MailItem::Removed { .. } => Some(Decision::Report("removed".into())),
            MailItem::Message(m) => decide::triage(m, &cx.target.owner, link, &self.rules),
        }
    }

    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &EmailRun,
        change: &MailItem,
    ) -> Result<Facts, PortError> {
        match change {
            MailItem::Message(m) => {
                let page = run.pages.for_key(&m.global_key(cx.mailbox()));
                gather::gather(self, cx, run, m, &page).await
            }
            _ => Ok(Facts::default()),
        }
    }

    fn decide(
        &self,
        cx: &RunCx<'_>,
        _run: &EmailRun,
        change: &MailItem,
        link: Option<&Link>,
        facts: &Facts,
    ) -> Decision {
        let MailItem::Message(m) = change else {
            return Decision::Report("not a message".into());
        };
        decide::decide(&Input {
            message: m,
            owner: &cx.target.owner,
            link,
            existing: facts.existing.as_ref(),
            orphan: facts.orphan.as_ref(),
            people: &facts.people,
            settings: &self.rules,
        })
    }

    fn planned(&self, decision: &Decision) -> crate::plan::Planned {
        crate::plan::map::email(decision)
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        _run: &EmailRun,
        change: &MailItem,
        decision: Decision,
    ) -> Result<Applied, PortError> {
        execute::apply(self, cx, change, decision).await
    }

    async fn finish(
        &self,
        cx: &ItemCx<'_>,
        run: &EmailRun,
        change: &MailItem,
        applied: &Applied,
    ) -> Result<(), PortError> {
        finish::finish(self, cx, run, change, applied).await
    }

    /// One notice per user and run (see [`digest`]).
    async fn end_run(&self, cx: &RunCx<'_>, run: Option<&EmailRun>) -> Result<(), PortError> {
        digest::send(self, cx, run).await
    }
}
