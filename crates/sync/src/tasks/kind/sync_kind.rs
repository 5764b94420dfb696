//! The task kind's [`SyncKind`] implementation: the list looked up (or created) per run, the
//! idle probes, and each step of an item from identify to finish, delegating to `decide`,
//! `execute` and the lookups and pages of the sibling modules. The engine's face of the kind,
//! kept apart from how the list and the sources are read.

use async_trait::async_trait;
use gc_store::{Kind, Link, LinkState};
use jiff::Timestamp;
use tokio::sync::OnceCell;

use super::{CRM_SCOPE, TaskRun, TasksKind, list_key};
use crate::adopt::AdoptedBy;
use crate::crm_checkpoint::CrmCheckpoint;
use crate::engine::commit::clear_cursor;
use crate::engine::{
    Applied, Identity, ItemCx, MailboxTarget, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{PortError, store_error};
use crate::ports::{Probe, Prober, Question, StampQuestion};
use crate::tasks::decide::{self, Decision, Facts};
use crate::tasks::execute;
use crate::tasks::model::{TaskChange, item_key, todo_id, todo_list};

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
