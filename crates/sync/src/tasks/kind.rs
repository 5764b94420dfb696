//! Tasks as a kind of the engine: CRM tasks of the rep in the window go into a dedicated
//! Microsoft To Do list; status (and, both ways, title and dates) come back.
//!
//! Two sources per mailbox run, in this order: `crm` (the rep's tasks in the window changed
//! since the checkpoint; a full walk of the window, which reconciles, at least every
//! `full_walk_every` and whenever the window moved on) and the list's task delta (scope: the
//! list id, so a recreated list starts a delta of its own). Every change is keyed by its CRM
//! task ([`item_key`]), whichever source brought it; the link's global key holds the list and
//! the To Do task (see [`todo_key`](super::model::todo_key)).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use gc_crm::TaskWindow;
use gc_store::{CrmId, Kind, Link, LinkState};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::OnceCell;

use crate::adopt::records::{TaskStub, matching_tasks, only};
use crate::adopt::{AdoptedBy, Adoption};
use crate::crm_checkpoint::CrmCheckpoint;
use crate::engine::commit::clear_cursor;
use crate::engine::{
    Applied, Identity, ItemCx, MailboxTarget, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{ErrorClass, PortError, store_error};
use crate::ports::{Probe, Prober, Question, StampQuestion};
use crate::tasks::decide::{self, Decision, Facts};
use crate::tasks::execute;
use crate::tasks::model::{TaskChange, TodoItem, item_key, todo_id, todo_key, todo_list};
use crate::tasks::ports::{TaskCrm, TodoGraph};
use crate::tasks::rules::TaskRules;

/// The CRM source's cursor scope.
pub const CRM_SCOPE: &str = "crm";

/// The store's name (`resolved_names`) for the id of the list named `name`.
pub fn list_key(name: &str) -> String {
    format!("list:{}", name.trim().to_lowercase())
}

/// CRM tasks to Microsoft To Do.
#[derive(Clone)]
pub struct TasksKind {
    pub(crate) graph: Arc<dyn TodoGraph>,
    pub(crate) crm: Arc<dyn TaskCrm>,
    pub(crate) rules: Arc<TaskRules>,
    /// Asks the stored To Do delta links and the CRM change checks of many mailboxes at once
    /// (idle cycles).
    pub(crate) prober: Option<Arc<dyn Prober>>,
    /// Adoption of the tasks the previous connector wrote, by content (see [`crate::adopt`]).
    pub(crate) adoption: Option<Adoption>,
}

impl std::fmt::Debug for TasksKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TasksKind")
            .field("list", &self.rules.list_name)
            .finish()
    }
}

impl TasksKind {
    /// Task synchronization over these ports, with these rules.
    pub fn new(graph: Arc<dyn TodoGraph>, crm: Arc<dyn TaskCrm>, rules: TaskRules) -> Self {
        TasksKind {
            graph,
            crm,
            rules: Arc::new(rules),
            prober: None,
            adoption: None,
        }
    }

    /// Adopt, before creating a To Do task, the one the previous connector wrote: the one
    /// task of the list without our linked resource with the same title and due date, when
    /// `[adoption] content_match` is on (see [`crate::adopt`]).
    pub fn with_adoption(mut self, adoption: Adoption) -> Self {
        self.adoption = Some(adoption);
        self
    }

    /// Leave out of a cycle the mailboxes whose list and CRM tasks did not change, asking
    /// `prober` (see [`Engine::idle`](crate::engine::Engine::idle)); it must answer Graph
    /// delta links and CRM task questions.
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &TaskRules {
        &self.rules
    }
}

/// One mailbox run: the list, CRM's time zone, and the list's tasks by CRM id once needed.
#[derive(Debug)]
pub struct TaskRun {
    pub(crate) list: String,
    pub(crate) tz: TimeZone,
    /// The list's tasks (by CRM id, and those without a linked resource of ours), read once.
    index: OnceCell<ListIndex>,
    /// Tasks adopted by content in this run (not adopted twice).
    claimed: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Whether the links written after the list's checkpoint were read in this run (see
    /// [`crate::tasks::settle`]).
    pub(crate) settled_since: std::sync::atomic::AtomicBool,
}

/// The list's tasks as read once per run.
#[derive(Debug, Default)]
struct ListIndex {
    by_crm_id: HashMap<CrmId, TodoItem>,
    /// Tasks without a linked resource of ours (what content adoption looks among).
    unmarked: Vec<TodoItem>,
}

impl TasksKind {
    /// The list's tasks, read once per run.
    async fn list_index<'r>(
        &self,
        cx: &RunCx<'_>,
        run: &'r TaskRun,
    ) -> Result<&'r ListIndex, PortError> {
        run.index
            .get_or_try_init(|| async {
                let all = self.graph.tasks(cx.user(), &run.list).await?;
                let mut index = ListIndex::default();
                for t in all {
                    match t.crm_id {
                        Some(id) => {
                            index.by_crm_id.insert(id, t);
                        }
                        None => index.unmarked.push(t),
                    }
                }
                Ok::<_, PortError>(index)
            })
            .await
    }

    /// The list's task that carries `crm_id` in its linked resource (read once per run).
    async fn by_crm_id(
        &self,
        cx: &RunCx<'_>,
        run: &TaskRun,
        crm_id: CrmId,
    ) -> Result<Option<TodoItem>, PortError> {
        if run.list.is_empty() {
            // A plan for a list that does not exist yet: it holds no task.
            return Ok(None);
        }
        Ok(self
            .list_index(cx, run)
            .await?
            .by_crm_id
            .get(&crm_id)
            .cloned())
    }

    /// The one task of the list without a linked resource of ours with the CRM task's title
    /// and due date, not linked to another CRM task nor adopted in this run: the task the
    /// previous connector wrote (To Do task ids are not among the id forms
    /// `translateExchangeIds` documents, so its keys cannot name one).
    async fn by_content(
        &self,
        cx: &ItemCx<'_>,
        run: &TaskRun,
        crm: &gc_crm::TaskRecord,
    ) -> Result<Option<TodoItem>, PortError> {
        if run.list.is_empty() {
            return Ok(None);
        }
        let want = crate::tasks::map::todo_fields(crm, &self.rules, &run.tz);
        let index = self.list_index(cx.run, run).await?;
        let stubs: Vec<TaskStub> = index
            .unmarked
            .iter()
            .map(|t| TaskStub {
                id: t.id.clone(),
                title: t.fields.title.clone(),
                due: t.fields.due,
                marked: false,
            })
            .collect();
        let Some(found) = only(matching_tasks(&stubs, &want.title, want.due)) else {
            return Ok(None);
        };
        if run
            .claimed
            .lock()
            .map(|s| s.contains(&found.id))
            .unwrap_or(true)
        {
            return Ok(None);
        }
        let linked = cx
            .run
            .store
            .links_by_global_key(Kind::Task, &todo_key(&run.list, &found.id))
            .await
            .map_err(store_error)?
            .iter()
            .any(|l| {
                matches!(l.state, LinkState::Active | LinkState::Interrupted)
                    && l.crm_id != Some(crm.id)
            });
        if linked {
            tracing::warn!(
                mailbox = cx.mailbox(),
                task = %crm.id,
                "the To Do task that matches the CRM task is linked to another CRM task; not adopted"
            );
            return Ok(None);
        }
        if let Ok(mut s) = run.claimed.lock() {
            s.insert(found.id.clone());
        }
        Ok(index.unmarked.iter().find(|t| t.id == found.id).cloned())
    }

    async fn crm_page(
        &self,
        cx: &RunCx<'_>,
        checkpoint: Option<&str>,
    ) -> Result<Page<TaskChange>, PortError> {
        let now = Timestamp::now();
        let (from, to) = self.rules.window(self.crm.today());
        let stamped = self.crm.has_update_stamp();
        let previous = match checkpoint {
            None => None,
            Some(c) => match CrmCheckpoint::decode(c) {
                Some(cp) if stamped && !cp.full_walk_due(now, to, self.rules.full_walk_every) => {
                    Some(cp)
                }
                _ => {
                    return Err(PortError::new(
                        ErrorClass::SyncStateExpired,
                        "the task window is due for a full walk",
                    ));
                }
            },
        };
        let window = TaskWindow {
            rep_id: cx.target.owner.rep_number.clone(),
            from,
            to,
            changed_since: previous.as_ref().and_then(|p| p.since.clone()),
        };
        let tasks = self.crm.tasks(cx.rep(), &window).await?;
        let next = match &previous {
            Some(p) => CrmCheckpoint {
                since: p.advance(tasks.iter().filter_map(|t| t.updated.as_deref())),
                ..p.clone()
            },
            None => CrmCheckpoint {
                since: tasks.iter().filter_map(|t| t.updated.clone()).max(),
                full_walk: now,
                window_end: to,
            },
        };
        Ok(Page {
            changes: tasks.into_iter().map(TaskChange::Crm).collect(),
            next: None,
            // Without an update stamp there is nothing to resume from: every run walks the
            // whole window (and reconciles).
            done: stamped.then(|| next.encode()),
        })
    }

    async fn todo_page(
        &self,
        cx: &RunCx<'_>,
        run: &TaskRun,
        checkpoint: Option<&str>,
    ) -> Result<Page<TaskChange>, PortError> {
        let p = self
            .graph
            .delta_page(cx.user(), &run.list, checkpoint)
            .await?;
        let mut changes = Vec::new();
        for (id, why) in p.broken {
            tracing::warn!(mailbox = cx.mailbox(), task = ?id, reason = why, "unreadable To Do task skipped");
        }
        for mut item in p.changed {
            if item.crm_id.is_none() {
                item.crm_id = self.linked(cx, &run.list, &item.id).await?;
            }
            changes.push(TaskChange::Todo(item));
        }
        for id in p.removed {
            if let Some(crm_id) = self.linked(cx, &run.list, &id).await? {
                changes.push(TaskChange::TodoRemoved { id, crm_id });
            }
        }
        Ok(Page {
            changes,
            next: p.next_link,
            done: p.delta_link,
        })
    }

    /// The CRM task linked to a To Do task of this mailbox, if any.
    async fn linked(
        &self,
        cx: &RunCx<'_>,
        list: &str,
        todo: &str,
    ) -> Result<Option<CrmId>, PortError> {
        let links = cx
            .store
            .links_by_global_key(Kind::Task, &todo_key(list, todo))
            .await
            .map_err(store_error)?;
        Ok(links
            .into_iter()
            .find(|l| l.mailbox == cx.mailbox())
            .and_then(|l| l.crm_id))
    }
}

#[async_trait]
impl SyncKind for TasksKind {
    type Run = TaskRun;
    type Change = TaskChange;
    type Facts = Facts;
    type Decision = Decision;

    fn kind(&self) -> Kind {
        Kind::Task
    }

    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<TaskRun>>, PortError> {
        let name = &self.rules.list_name;
        // Looked up by name in every run, unlike the sync folder of e-mails: it costs one
        // request (the sync folder one per path segment), it only happens when the pre-pass
        // found a change, and it lets a run notice a deleted list before writing into it, so
        // the list is created again and walked in full in that same run. The id is kept for
        // the pre-pass (which needs it to find the list's delta link) and forgotten when the
        // list is gone.
        let key = list_key(name);
        let list = match self.graph.find_list(cx.user(), name).await? {
            Some(id) => id,
            // A plan creates no list and keeps nothing: a missing list holds no task, so the
            // CRM tasks of the window would be created (the list's own source is left out).
            None if cx.planning => {
                return Ok(Some(Prepared {
                    total: None,
                    sources: vec![Source {
                        scope: CRM_SCOPE.into(),
                        label: "CRM tasks in the window".into(),
                        reconcile: true,
                    }],
                    run: TaskRun {
                        list: String::new(),
                        tz: self.crm.time_zone(),
                        index: OnceCell::new(),
                        claimed: Default::default(),
                        settled_since: Default::default(),
                    },
                }));
            }
            None => {
                let linked = !cx
                    .store
                    .list_links(cx.mailbox(), Kind::Task, None, 1)
                    .await
                    .map_err(store_error)?
                    .is_empty();
                if linked {
                    // The user deleted the list: the next CRM walk must see every task again
                    // (cleared before the list is created, so that a crash in between still
                    // leads to the full walk).
                    tracing::info!(
                        mailbox = cx.mailbox(),
                        list = name,
                        "the To Do list is gone: creating it again and walking the CRM tasks in full"
                    );
                    clear_cursor(cx, CRM_SCOPE).await?;
                }
                cx.store
                    .put_resolved(cx.mailbox(), Kind::Task, &key, None)
                    .await
                    .map_err(store_error)?;
                self.graph.create_list(cx.user(), name).await?
            }
        };
        let kept = cx
            .store
            .get_resolved(cx.mailbox(), Kind::Task, &key)
            .await
            .map_err(store_error)?;
        if kept.as_deref() != Some(list.as_str()) && !cx.planning {
            cx.store
                .put_resolved(cx.mailbox(), Kind::Task, &key, Some(&list))
                .await
                .map_err(store_error)?;
        }
        Ok(Some(Prepared {
            total: None,
            sources: vec![
                Source {
                    scope: CRM_SCOPE.into(),
                    label: "CRM tasks in the window".into(),
                    reconcile: true,
                },
                Source {
                    scope: list.clone(),
                    label: format!("To Do list \"{name}\""),
                    reconcile: false,
                },
            ],
            run: TaskRun {
                list,
                tz: self.crm.time_zone(),
                index: OnceCell::new(),
                claimed: Default::default(),
                settled_since: Default::default(),
            },
        }))
    }

    /// One probe per source: the CRM tasks changed after the checkpoint's stamp, and the
    /// list's stored delta link. None (the mailbox is run) while a full walk of the window is
    /// due, without an update stamp, or before both sources finished a round.
    fn probes(&self, reads: &gc_store::ProbeReads, target: &MailboxTarget) -> Option<Vec<Probe>> {
        if !self.crm.has_update_stamp() {
            return None;
        }
        let kept = reads.mailbox(target.mailbox());
        let checkpoint = kept
            .cursor(CRM_SCOPE)
            .and_then(|c| c.round_checkpoint())
            .and_then(CrmCheckpoint::decode)?;
        let (from, to) = self.rules.window(self.crm.today());
        if checkpoint.full_walk_due(Timestamp::now(), to, self.rules.full_walk_every) {
            return None;
        }
        let list = kept.resolved(&list_key(&self.rules.list_name))?;
        let link = kept
            .cursor(list)
            .and_then(|c| c.round_checkpoint())?
            .to_owned();
        // A task linked after the list's checkpoint: the run reads it by id (see
        // `tasks::settle`).
        if crate::engine::commit::written_after_round(kept, kept.cursor(list)) {
            return None;
        }
        Some(vec![
            Probe {
                user: target.graph_user.clone(),
                question: Question::CrmTasks(StampQuestion {
                    rep_number: target.owner.rep_number.clone(),
                    from,
                    to,
                    since: checkpoint.since,
                }),
            },
            Probe::delta(&target.graph_user, link),
        ])
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.prober.as_deref()
    }

    async fn page(
        &self,
        cx: &RunCx<'_>,
        run: &TaskRun,
        source: &Source,
        checkpoint: Option<&str>,
    ) -> Result<Page<TaskChange>, PortError> {
        if source.scope == CRM_SCOPE {
            let mut page = self.crm_page(cx, checkpoint).await?;
            // Before this run writes anything (see `tasks::settle`).
            page.changes
                .extend(crate::tasks::settle::unreported_removals(self, cx, run).await?);
            Ok(page)
        } else {
            self.todo_page(cx, run, checkpoint).await
        }
    }

    fn identify(&self, _cx: &RunCx<'_>, _run: &TaskRun, change: &TaskChange) -> Option<Identity> {
        // A To Do task without a CRM task (the user's own, in our list) is not ours.
        change.crm_id().map(|id| Identity {
            item: item_key(id),
            global_key: None,
        })
    }

    /// A CRM task's age is its due date (its start date without one), at the start of that
    /// day in UTC; To Do changes of linked tasks are never left alone.
    fn dated(&self, change: &TaskChange) -> Option<jiff::Timestamp> {
        match change {
            TaskChange::Crm(t) => t
                .due_date
                .or(t.start_date)?
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp()),
            _ => None,
        }
    }

    fn describe(&self, change: &TaskChange) -> Option<serde_json::Value> {
        let title = match change {
            TaskChange::Crm(t) => Some(t.subject.clone()),
            TaskChange::Todo(t) => Some(t.fields.title.clone()),
            _ => None,
        };
        Some(serde_json::json!({
            "crmId": change.crm_id().map(|c| c.to_string()),
            "title": title,
        }))
    }

    fn vanished(&self, _run: &TaskRun, _source: &Source, link: Link) -> Option<TaskChange> {
        matches!(link.state, LinkState::Active | LinkState::Interrupted)
            .then_some(link.crm_id)
            .flatten()
            .map(|crm_id| TaskChange::CrmMissing { crm_id })
    }

    fn triage(
        &self,
        _cx: &RunCx<'_>,
        run: &TaskRun,
        change: &TaskChange,
        link: Option<&Link>,
    ) -> Option<Decision> {
        decide::triage(change, link, &self.rules, &run.tz, &run.list)
    }

    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &TaskRun,
        change: &TaskChange,
    ) -> Result<Facts, PortError> {
        let Some(crm_id) = change.crm_id() else {
            return Ok(Facts::default());
        };
        let crm = match change {
            TaskChange::Crm(t) => Some(t.clone()),
            _ => self.crm.task(cx.rep(), crm_id).await?,
        };
        let rep = &cx.target.owner.rep_number;
        let crm = crm.filter(|t| !t.deleted && (t.rep_id.is_empty() || t.rep_id == *rep));
        let mut adopted_by = None;
        let todo = match change {
            TaskChange::TodoRemoved { .. } => None,
            TaskChange::Todo(item) => Some(item.clone()),
            TaskChange::CrmMissing { .. } if crm.is_none() => None,
            _ => {
                let linked = cx
                    .link
                    .filter(|l| todo_list(l) == Some(run.list.as_str()))
                    .and_then(todo_id);
                let found = match linked {
                    Some(id) if !run.list.is_empty() => {
                        self.graph.task(cx.user(), &run.list, id).await?
                    }
                    _ => None,
                };
                let found = match found {
                    Some(t) => Some(t),
                    None => self.by_crm_id(cx.run, run, crm_id).await?,
                };
                match (found, &crm) {
                    (Some(t), _) => Some(t),
                    // Nothing of ours: the previous connector's task, by content when asked.
                    (None, Some(c))
                        if matches!(change, TaskChange::Crm(_))
                            && cx.link.is_none_or(|l| l.state != LinkState::Active)
                            && self
                                .adoption
                                .as_ref()
                                .is_some_and(|a| a.settings().content_match) =>
                    {
                        let t = self.by_content(cx, run, c).await?;
                        if t.is_some() {
                            adopted_by = Some(AdoptedBy::ContentMatch);
                        }
                        t
                    }
                    (None, _) => None,
                }
            }
        };
        Ok(Facts {
            crm,
            todo,
            adopted_by,
        })
    }

    fn decide(
        &self,
        _cx: &RunCx<'_>,
        run: &TaskRun,
        change: &TaskChange,
        link: Option<&Link>,
        facts: &Facts,
    ) -> Decision {
        decide::decide(change, link, facts, &self.rules, &run.tz)
    }

    fn planned(&self, decision: &Decision) -> crate::plan::Planned {
        crate::plan::map::task(decision)
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        run: &TaskRun,
        change: &TaskChange,
        decision: Decision,
    ) -> Result<Applied, PortError> {
        execute::apply(self, cx, run, change, decision).await
    }

    async fn finish(
        &self,
        _cx: &ItemCx<'_>,
        _run: &TaskRun,
        _change: &TaskChange,
        _applied: &Applied,
    ) -> Result<(), PortError> {
        // Everything is written before the commit; nothing waits for it.
        Ok(())
    }
}
