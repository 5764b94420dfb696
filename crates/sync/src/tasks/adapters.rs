//! The task kind's ports over the real clients: [`TodoGraph`] for [`GraphMail`] (Microsoft To
//! Do through gc-graph) and [`TaskCrm`] for [`CrmActivities`] (CRM.interface through gc-crm).

use async_trait::async_trait;
use gc_crm::{NewExternalKey, TaskRecord, TaskUpdate, TaskWindow};
use gc_graph::models::{DateTimeTimeZone, TodoTask};
use gc_graph::{DeltaItem, ErrorKind};
use gc_store::CrmId;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::adapters::crm::port as crm_port;
use crate::adapters::graph::port as graph_port;
use crate::adapters::{CrmActivities, GraphMail};
use crate::error::PortError;
use crate::tasks::map::whole_seconds;
use crate::tasks::model::{Importance, TodoFields, TodoItem, TodoStatus};
use crate::tasks::ports::{TaskCrm, TodoGraph, TodoPage};

/// `applicationName` of the linked resource that carries the CRM id.
pub const LINK_APPLICATION: &str = "Aurea CRM (graph-connector)";

/// The content type of the external keys of tasks.
pub const TASK_CONTENT_TYPE: &str = "text/x-mmTasks";

/// A To Do task as the kind sees it.
pub fn todo_item(t: TodoTask) -> TodoItem {
    let date =
        |d: &Option<DateTimeTimeZone>| d.as_ref().and_then(|d| d.civil().ok()).map(|d| d.date());
    let reminder = if t.is_reminder_on == Some(true) {
        t.reminder_date_time
            .as_ref()
            .and_then(|r| r.to_timestamp().ok())
            .map(whole_seconds)
    } else {
        None
    };
    let crm_id = t.linked_resources.as_ref().and_then(|links| {
        links
            .iter()
            .filter(|l| l.application_name.as_deref() == Some(LINK_APPLICATION))
            .find_map(|l| l.external_id.as_deref()?.parse::<CrmId>().ok())
    });
    TodoItem {
        fields: TodoFields {
            title: t.title.clone().unwrap_or_default(),
            body: t
                .body
                .as_ref()
                .and_then(|b| b.content.clone())
                .unwrap_or_default(),
            due: date(&t.due_date_time),
            start: date(&t.start_date_time),
            reminder,
            importance: Importance::from_graph(t.importance.as_deref().unwrap_or("normal")),
            status: t
                .status
                .as_deref()
                .and_then(TodoStatus::from_graph)
                .unwrap_or(TodoStatus::NotStarted),
        },
        id: t.id,
        etag: t.etag,
        crm_id,
    }
}

fn day(d: Option<Date>) -> Value {
    match d {
        Some(d) => json!({"dateTime": format!("{d}T00:00:00.0000000"), "timeZone": "UTC"}),
        None => Value::Null,
    }
}

/// The request body that writes `f` into a task.
pub fn task_body(f: &TodoFields) -> Value {
    json!({
        "title": f.title,
        "body": {"content": f.body, "contentType": "text"},
        "importance": f.importance.as_graph(),
        "status": f.status.as_graph(),
        "dueDateTime": day(f.due),
        "startDateTime": day(f.start),
        "isReminderOn": f.reminder.is_some(),
        "reminderDateTime": f.reminder.map_or(Value::Null, |r| json!(DateTimeTimeZone::utc(r))),
    })
}

#[async_trait]
impl TodoGraph for GraphMail {
    async fn find_list(&self, user: &str, name: &str) -> Result<Option<String>, PortError> {
        let lists = self
            .client()
            .list_todo_lists(user)
            .await
            .map_err(graph_port)?;
        Ok(lists
            .into_iter()
            .find(|l| {
                l.display_name
                    .as_deref()
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
            })
            .map(|l| l.id))
    }

    async fn create_list(&self, user: &str, name: &str) -> Result<String, PortError> {
        self.client()
            .create_todo_list(user, name)
            .await
            .map(|l| l.id)
            .map_err(graph_port)
    }

    async fn delta_page(
        &self,
        user: &str,
        list: &str,
        checkpoint: Option<&str>,
    ) -> Result<TodoPage, PortError> {
        let mut stream = match checkpoint {
            Some(link) => self.client().resume_todo_task_delta(user, link),
            None => self.client().todo_task_delta(user, list),
        };
        let Some(page) = stream.next_page().await else {
            return Ok(TodoPage::default());
        };
        let page = page.map_err(graph_port)?;
        let mut out = TodoPage {
            next_link: page.next_link,
            delta_link: page.delta_link,
            ..TodoPage::default()
        };
        for item in page.items {
            match item {
                Ok(DeltaItem::Changed(t)) => out.changed.push(todo_item(t)),
                Ok(DeltaItem::Removed { id, .. }) => out.removed.push(id),
                Err(e) => out.broken.push((e.id.clone(), e.message.clone())),
            }
        }
        Ok(out)
    }

    async fn task(&self, user: &str, list: &str, id: &str) -> Result<Option<TodoItem>, PortError> {
        match self.client().get_todo_task(user, list, id).await {
            Ok(t) => Ok(Some(todo_item(t))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(graph_port(e)),
        }
    }

    async fn tasks(&self, user: &str, list: &str) -> Result<Vec<TodoItem>, PortError> {
        self.client()
            .list_todo_tasks(user, list)
            .collect_ok()
            .await
            .map(|v| v.into_iter().map(todo_item).collect())
            .map_err(graph_port)
    }

    async fn create(
        &self,
        user: &str,
        list: &str,
        fields: &TodoFields,
        crm_id: CrmId,
    ) -> Result<TodoItem, PortError> {
        let mut body = task_body(fields);
        body["linkedResources"] = json!([{
            "applicationName": LINK_APPLICATION,
            "externalId": crm_id.to_string(),
            "displayName": format!("CRM task {crm_id}"),
        }]);
        let t = self
            .client()
            .create_todo_task(user, list, &body)
            .await
            .map_err(graph_port)?;
        let mut item = todo_item(t);
        item.crm_id = Some(crm_id);
        Ok(item)
    }

    async fn add_link(
        &self,
        user: &str,
        list: &str,
        id: &str,
        crm_id: CrmId,
    ) -> Result<(), PortError> {
        let link = gc_graph::models::LinkedResource {
            application_name: Some(LINK_APPLICATION.to_owned()),
            external_id: Some(crm_id.to_string()),
            display_name: Some(format!("CRM task {crm_id}")),
            ..Default::default()
        };
        self.client()
            .add_linked_resource(user, list, id, &link)
            .await
            .map(|_| ())
            .map_err(graph_port)
    }

    async fn update(
        &self,
        user: &str,
        list: &str,
        id: &str,
        fields: &TodoFields,
    ) -> Result<TodoItem, PortError> {
        self.client()
            .update_todo_task(user, list, id, &task_body(fields))
            .await
            .map(todo_item)
            .map_err(graph_port)
    }

    async fn delete(&self, user: &str, list: &str, id: &str) -> Result<(), PortError> {
        match self.client().delete_todo_task(user, list, id).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(graph_port(e)),
        }
    }
}

#[async_trait]
impl TaskCrm for CrmActivities {
    fn today(&self) -> Date {
        gc_crm::localtime::to_local(Timestamp::now(), self.client().time_zone()).0
    }

    fn time_zone(&self) -> TimeZone {
        self.client().time_zone().clone()
    }

    fn has_update_stamp(&self) -> bool {
        !self.client().dialect().task.updated.is_empty()
    }

    fn deleted_field(&self) -> Option<String> {
        let f = &self.client().dialect().task.deleted;
        (!f.is_empty()).then(|| format!("{} = {}", f, self.client().dialect().true_value))
    }

    async fn tasks(&self, rep: &str, window: &TaskWindow) -> Result<Vec<TaskRecord>, PortError> {
        self.client()
            .as_rep(rep)
            .tasks_in_window(window)
            .await
            .map_err(|e| crm_port(self.client(), e))
    }

    async fn task(&self, rep: &str, id: CrmId) -> Result<Option<TaskRecord>, PortError> {
        self.client()
            .as_rep(rep)
            .task(id)
            .await
            .map_err(|e| crm_port(self.client(), e))
    }

    async fn update(&self, rep: &str, id: CrmId, update: &TaskUpdate) -> Result<(), PortError> {
        self.client()
            .as_rep(rep)
            .update_task(id, update)
            .await
            .map_err(|e| crm_port(self.client(), e))
    }

    async fn ensure_key(&self, rep: &str, task: CrmId, todo_id: &str) -> Result<(), PortError> {
        let session = self.client().as_rep(rep);
        let err = |e| crm_port(self.client(), e);
        let existing = session
            .find_external_keys(None, &[todo_id.to_owned()])
            .await
            .map_err(err)?;
        if existing
            .iter()
            .any(|k| k.ext_key == todo_id && k.record.as_ref().is_none_or(|(_, id)| *id == task))
        {
            return Ok(());
        }
        let table = self.client().dialect().task.table.clone();
        session
            .insert_external_key(
                &table,
                task,
                &NewExternalKey {
                    ext_system: None,
                    content_type: TASK_CONTENT_TYPE.to_owned(),
                    ext_key: todo_id.to_owned(),
                    mailbox: Some(rep.to_owned()),
                },
            )
            .await
            .map(|_| ())
            .map_err(err)
    }
}
