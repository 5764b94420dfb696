//! The pages of the kind's two sources: the rep's CRM tasks in the window (changed since the
//! checkpoint, or the whole window when a full walk is due) and the To Do list's delta, whose
//! changes are keyed by the CRM task their link names. How each side is read, apart from what
//! the engine does with the changes.

use gc_crm::TaskWindow;
use gc_store::{CrmId, Kind};
use jiff::Timestamp;

use super::{TaskRun, TasksKind};
use crate::crm_checkpoint::CrmCheckpoint;
use crate::engine::{Page, RunCx};
use crate::error::{ErrorClass, PortError, store_error};
use crate::tasks::model::{TaskChange, todo_key};

impl TasksKind {
    pub(super) async fn crm_page(
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

    pub(super) async fn todo_page(
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
