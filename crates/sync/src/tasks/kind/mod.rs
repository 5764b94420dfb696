//! Tasks as a kind of the engine: CRM tasks of the rep in the window go into a dedicated
//! Microsoft To Do list; status (and, both ways, title and dates) come back.
//!
//! Two sources per mailbox run, in this order: `crm` (the rep's tasks in the window changed
//! since the checkpoint; a full walk of the window, which reconciles, at least every
//! `full_walk_every` and whenever the window moved on) and the list's task delta (scope: the
//! list id, so a recreated list starts a delta of its own). Every change is keyed by its CRM
//! task ([`item_key`](super::model::item_key)), whichever source brought it; the link's global key holds the list and
//! the To Do task (see [`todo_key`](super::model::todo_key)).

mod list;
mod pages;
mod sync_kind;

use std::collections::HashMap;
use std::sync::Arc;

use gc_store::CrmId;
use jiff::tz::TimeZone;
use tokio::sync::OnceCell;

use crate::adopt::Adoption;
use crate::ports::Prober;
use crate::tasks::model::TodoItem;
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
