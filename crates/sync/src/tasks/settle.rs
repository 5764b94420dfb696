//! To Do tasks linked after the list's checkpoint, read by id once per run.
//!
//! The list's round stores its checkpoint after every write of its items. A round that never
//! stored its own (the run was cut off, or an item of its page was delayed) leaves the next
//! delta to start from the round before; a task written by the CRM side (or linked) in
//! between and deleted by the user before that delta is reported neither created nor
//! removed, so its deletion would never reach CRM. Such links are read by id once per run,
//! at the CRM source's page, before the run writes anything (see
//! [`crate::engine::commit::round_stored`]); one whose task is gone is handed on as removed,
//! like the delta's own removals (should the list's delta report it as well, the second
//! removal finds the link closed).

use std::sync::atomic::Ordering;

use gc_store::{Kind, LinkState};

use crate::engine::RunCx;
use crate::engine::commit::round_stored;
use crate::error::{PortError, store_error};
use crate::tasks::kind::{TaskRun, TasksKind};
use crate::tasks::model::{TaskChange, todo_id, todo_list};

/// The removals of tasks linked after the list's checkpoint that are gone. Once per run;
/// nothing without a round checkpoint.
pub(crate) async fn unreported_removals(
    kind: &TasksKind,
    cx: &RunCx<'_>,
    run: &TaskRun,
) -> Result<Vec<TaskChange>, PortError> {
    if run.settled_since.swap(true, Ordering::Relaxed) || cx.planning {
        return Ok(Vec::new());
    }
    let Some(since) = round_stored(cx, &run.list).await? else {
        return Ok(Vec::new());
    };
    let links = cx
        .store
        .unsettled_links(cx.mailbox(), Kind::Task, Some(since))
        .await
        .map_err(store_error)?;
    let mut removed = Vec::new();
    for link in links {
        let (Some(crm_id), Some(id)) = (link.crm_id, todo_id(&link)) else {
            continue;
        };
        if link.state != LinkState::Active || todo_list(&link) != Some(run.list.as_str()) {
            continue;
        }
        if kind.graph.task(cx.user(), &run.list, id).await?.is_none() {
            removed.push(TaskChange::TodoRemoved {
                id: id.to_owned(),
                crm_id,
            });
        }
    }
    Ok(removed)
}
