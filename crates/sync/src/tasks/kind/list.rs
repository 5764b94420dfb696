//! The list's tasks, read once per run, and how a CRM task's To Do task is found in them: by
//! the linked resource carrying its id, or, for adoption, by the title and due date the
//! previous connector left. What `gather` looks up, kept apart from the `SyncKind` steps.

use gc_store::{CrmId, Kind, LinkState};

use super::{ListIndex, TaskRun, TasksKind};
use crate::adopt::records::{TaskStub, matching_tasks, only};
use crate::engine::{ItemCx, RunCx};
use crate::error::{PortError, store_error};
use crate::tasks::model::{TodoItem, todo_key};

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
    pub(super) async fn by_crm_id(
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
    pub(super) async fn by_content(
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
}
