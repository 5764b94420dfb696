//! Microsoft To Do lists and tasks.

use reqwest::Method;
use serde::Serialize;

use crate::client::{GraphClient, seg};
use crate::error::{GraphError, ResourceKind};
use crate::models::{LinkedResource, TodoTask, TodoTaskList};
use crate::paging::{DeltaItem, PageStream};

fn lists(mailbox: &str) -> String {
    format!("/users/{}/todo/lists", seg(mailbox))
}

impl GraphClient {
    /// The user's To Do lists.
    pub async fn list_todo_lists(&self, mailbox: &str) -> Result<Vec<TodoTaskList>, GraphError> {
        self.list(Some(mailbox), ResourceKind::Todo, &lists(mailbox))
            .collect_ok()
            .await
    }

    /// Create a To Do list; idempotent by display name.
    pub async fn create_todo_list(
        &self,
        mailbox: &str,
        name: &str,
    ) -> Result<TodoTaskList, GraphError> {
        if let Some(existing) = self.list_todo_lists(mailbox).await?.into_iter().find(|l| {
            l.display_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return Ok(existing);
        }
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Todo,
            &lists(mailbox),
            &serde_json::json!({ "displayName": name }),
            false,
        )
        .await
    }

    /// Delete a To Do list with its tasks.
    pub async fn delete_todo_list(&self, mailbox: &str, list_id: &str) -> Result<(), GraphError> {
        self.delete(
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}", lists(mailbox), seg(list_id)),
        )
        .await
    }

    /// Start a task delta round for a list.
    pub fn todo_task_delta(&self, mailbox: &str, list_id: &str) -> PageStream<DeltaItem<TodoTask>> {
        self.delta(
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}/tasks/delta", lists(mailbox), seg(list_id)),
        )
    }

    /// Resume a list's task delta from a persisted nextLink or deltaLink.
    pub fn resume_todo_task_delta(
        &self,
        mailbox: &str,
        link: &str,
    ) -> PageStream<DeltaItem<TodoTask>> {
        self.resume(Some(mailbox), link)
    }

    /// Tasks of a list (with their linked resources).
    pub fn list_todo_tasks(&self, mailbox: &str, list_id: &str) -> PageStream<TodoTask> {
        self.list(
            Some(mailbox),
            ResourceKind::Todo,
            &format!(
                "{}/{}/tasks?$expand=linkedResources",
                lists(mailbox),
                seg(list_id)
            ),
        )
    }

    /// One task.
    pub async fn get_todo_task(
        &self,
        mailbox: &str,
        list_id: &str,
        task_id: &str,
    ) -> Result<TodoTask, GraphError> {
        self.get_json(
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}/tasks/{}", lists(mailbox), seg(list_id), seg(task_id)),
        )
        .await
    }

    /// Create a task (linked resources may be given inline to stamp the CRM id).
    pub async fn create_todo_task<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        list_id: &str,
        task: &B,
    ) -> Result<TodoTask, GraphError> {
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}/tasks", lists(mailbox), seg(list_id)),
            task,
            false,
        )
        .await
    }

    /// PATCH a task.
    pub async fn update_todo_task<B: Serialize + ?Sized>(
        &self,
        mailbox: &str,
        list_id: &str,
        task_id: &str,
        patch: &B,
    ) -> Result<TodoTask, GraphError> {
        self.send_json(
            Method::PATCH,
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}/tasks/{}", lists(mailbox), seg(list_id), seg(task_id)),
            patch,
            true,
        )
        .await
    }

    /// Delete a task.
    pub async fn delete_todo_task(
        &self,
        mailbox: &str,
        list_id: &str,
        task_id: &str,
    ) -> Result<(), GraphError> {
        self.delete(
            Some(mailbox),
            ResourceKind::Todo,
            &format!("{}/{}/tasks/{}", lists(mailbox), seg(list_id), seg(task_id)),
        )
        .await
    }

    /// Add a linked resource (CRM link) to a task.
    pub async fn add_linked_resource(
        &self,
        mailbox: &str,
        list_id: &str,
        task_id: &str,
        link: &LinkedResource,
    ) -> Result<LinkedResource, GraphError> {
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Todo,
            &format!(
                "{}/{}/tasks/{}/linkedResources",
                lists(mailbox),
                seg(list_id),
                seg(task_id)
            ),
            link,
            false,
        )
        .await
    }
}
