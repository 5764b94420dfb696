//! The two sides of the task kind as traits: Microsoft To Do ([`TodoGraph`]) and CRM tasks
//! ([`TaskCrm`]). Their implementations over the real clients are in
//! [`adapters`](super::adapters).

use async_trait::async_trait;
use gc_crm::{TaskRecord, TaskUpdate, TaskWindow};
use gc_store::CrmId;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::error::PortError;
use crate::tasks::model::{TodoFields, TodoItem};

/// One page of a list's task delta.
#[derive(Debug, Clone, Default)]
pub struct TodoPage {
    /// Changed tasks.
    pub changed: Vec<TodoItem>,
    /// Ids of removed tasks.
    pub removed: Vec<String>,
    /// Tasks Graph delivered unreadably: `(id, why)`.
    pub broken: Vec<(Option<String>, String)>,
    /// More pages follow from this link.
    pub next_link: Option<String>,
    /// The round is complete; the next starts here.
    pub delta_link: Option<String>,
}

/// Microsoft To Do of one user.
#[async_trait]
pub trait TodoGraph: Send + Sync {
    /// The id of the list named `name` (case-insensitive), if there is one.
    async fn find_list(&self, user: &str, name: &str) -> Result<Option<String>, PortError>;

    /// Create a list named `name`; its id.
    async fn create_list(&self, user: &str, name: &str) -> Result<String, PortError>;

    /// One page of the list's task delta, from the start or from a link.
    async fn delta_page(
        &self,
        user: &str,
        list: &str,
        checkpoint: Option<&str>,
    ) -> Result<TodoPage, PortError>;

    /// A task of the list (`None` when it is gone).
    async fn task(&self, user: &str, list: &str, id: &str) -> Result<Option<TodoItem>, PortError>;

    /// Every task of the list, with the CRM id of its linked resource (to find a task
    /// written before a crash, before the state store was lost, or by an older link).
    async fn tasks(&self, user: &str, list: &str) -> Result<Vec<TodoItem>, PortError>;

    /// Create a task carrying `crm_id` in a linked resource, in the same request.
    async fn create(
        &self,
        user: &str,
        list: &str,
        fields: &TodoFields,
        crm_id: CrmId,
    ) -> Result<TodoItem, PortError>;

    /// Give a task of the list (one the connector adopted) the linked resource that carries
    /// `crm_id`, so that it is found by it next time.
    async fn add_link(
        &self,
        user: &str,
        list: &str,
        id: &str,
        crm_id: CrmId,
    ) -> Result<(), PortError>;

    /// Write `fields` into a task.
    async fn update(
        &self,
        user: &str,
        list: &str,
        id: &str,
        fields: &TodoFields,
    ) -> Result<TodoItem, PortError>;

    /// Delete a task (gone already is fine).
    async fn delete(&self, user: &str, list: &str, id: &str) -> Result<(), PortError>;
}

/// CRM tasks, acting for the rep `rep` (impersonation).
#[async_trait]
pub trait TaskCrm: Send + Sync {
    /// Today in CRM's time zone (the window is counted in CRM's days).
    fn today(&self) -> Date;

    /// CRM's time zone (reminder times).
    fn time_zone(&self) -> TimeZone;

    /// Whether the dialect names an update stamp (changes since a checkpoint can be read).
    fn has_update_stamp(&self) -> bool;

    /// The field that marks a task deleted (`None`: the dialect names none).
    fn deleted_field(&self) -> Option<String>;

    /// Tasks in a window.
    async fn tasks(&self, rep: &str, window: &TaskWindow) -> Result<Vec<TaskRecord>, PortError>;

    /// One task (`None`: deleted in CRM).
    async fn task(&self, rep: &str, id: CrmId) -> Result<Option<TaskRecord>, PortError>;

    /// Write what flows back from To Do.
    async fn update(&self, rep: &str, id: CrmId, update: &TaskUpdate) -> Result<(), PortError>;

    /// Record the To Do task's id in the external key table (once per To Do task).
    async fn ensure_key(&self, rep: &str, task: CrmId, todo_id: &str) -> Result<(), PortError>;
}
