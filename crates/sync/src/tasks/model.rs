//! What the task kind sees of both sides, independent of Graph's JSON and CRM.interface's XML:
//! the fields a To Do task carries, a To Do task as read, the changes the two sources yield,
//! and the link key every change of one CRM task shares.

use gc_crm::TaskRecord;
use gc_store::{CrmId, Link};
use jiff::Timestamp;
use jiff::civil::Date;
use sha2::Digest as _;

/// To Do's task status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TodoStatus {
    NotStarted,
    InProgress,
    Completed,
    WaitingOnOthers,
    Deferred,
}

impl TodoStatus {
    /// Graph's name.
    pub fn as_graph(self) -> &'static str {
        match self {
            TodoStatus::NotStarted => "notStarted",
            TodoStatus::InProgress => "inProgress",
            TodoStatus::Completed => "completed",
            TodoStatus::WaitingOnOthers => "waitingOnOthers",
            TodoStatus::Deferred => "deferred",
        }
    }

    /// From Graph's name (`None` for a value Graph may add later).
    pub fn from_graph(s: &str) -> Option<Self> {
        Some(match s {
            "notStarted" => TodoStatus::NotStarted,
            "inProgress" => TodoStatus::InProgress,
            "completed" => TodoStatus::Completed,
            "waitingOnOthers" => TodoStatus::WaitingOnOthers,
            "deferred" => TodoStatus::Deferred,
            _ => return None,
        })
    }
}

/// To Do's importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Importance {
    Low,
    Normal,
    High,
}

impl Importance {
    /// Graph's name.
    pub fn as_graph(self) -> &'static str {
        match self {
            Importance::Low => "low",
            Importance::Normal => "normal",
            Importance::High => "high",
        }
    }

    /// From Graph's name (anything else is normal).
    pub fn from_graph(s: &str) -> Self {
        match s {
            "low" => Importance::Low,
            "high" => Importance::High,
            _ => Importance::Normal,
        }
    }
}

/// The fields of a To Do task the connector synchronizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoFields {
    pub title: String,
    /// Plain text.
    pub body: String,
    pub due: Option<Date>,
    pub start: Option<Date>,
    /// When the reminder fires; `None`: no reminder.
    pub reminder: Option<Timestamp>,
    pub importance: Importance,
    pub status: TodoStatus,
}

impl TodoFields {
    /// A digest of the fields, stored in the link to recognise "nothing changed".
    pub fn digest(&self) -> String {
        let text = format!(
            "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}",
            self.title,
            self.body,
            self.due,
            self.start,
            self.reminder.map(|r| r.as_second()),
            self.importance.as_graph(),
            self.status.as_graph()
        );
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
    }
}

/// A To Do task as read from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoItem {
    /// Graph id.
    pub id: String,
    /// `@odata.etag`: changes with every change of the task.
    pub etag: Option<String>,
    /// Its fields.
    pub fields: TodoFields,
    /// The CRM task named by its linked resource, when it has ours.
    pub crm_id: Option<CrmId>,
}

/// A change either source yields. Every change is about one CRM task ([`item_key`]).
#[derive(Debug, Clone, PartialEq)]
pub enum TaskChange {
    /// A CRM task in the window (new, or changed since the checkpoint).
    Crm(TaskRecord),
    /// A linked CRM task a full walk of the window did not see: deleted in CRM, marked
    /// deleted, given to another rep, or only out of the window now.
    CrmMissing {
        /// The CRM task.
        crm_id: CrmId,
    },
    /// A task of the list changed in To Do.
    Todo(TodoItem),
    /// A task was removed from the list in To Do.
    TodoRemoved {
        /// Its Graph id.
        id: String,
        /// The CRM task it was linked to.
        crm_id: CrmId,
    },
}

impl TaskChange {
    /// The CRM task the change is about (`None`: a To Do task that is not a CRM task's).
    pub fn crm_id(&self) -> Option<CrmId> {
        match self {
            TaskChange::Crm(t) => Some(t.id),
            TaskChange::CrmMissing { crm_id } | TaskChange::TodoRemoved { crm_id, .. } => {
                Some(*crm_id)
            }
            TaskChange::Todo(t) => t.crm_id,
        }
    }
}

/// The link key of a CRM task: the same for the changes of both sources, and stable when the
/// To Do task is created again (a deleted list).
pub fn item_key(crm_id: CrmId) -> String {
    format!("crm:{crm_id}")
}

/// The link's global key: the list and the To Do task the CRM task went to (Graph ids hold no
/// spaces). A link whose list is not the current one points at a task that went with a
/// deleted list.
pub fn todo_key(list: &str, todo: &str) -> String {
    format!("{list} {todo}")
}

/// The To Do task a link points at.
pub fn todo_id(link: &Link) -> Option<&str> {
    let k = link.global_key.as_deref()?;
    k.split_once(' ').map(|(_, t)| t).filter(|t| !t.is_empty())
}

/// The list of the To Do task a link points at.
pub fn todo_list(link: &Link) -> Option<&str> {
    let k = link.global_key.as_deref()?;
    k.split_once(' ').map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TodoFields {
        TodoFields {
            title: "Call".into(),
            body: String::new(),
            due: Some(jiff::civil::date(2026, 12, 3)),
            start: None,
            reminder: None,
            importance: Importance::Normal,
            status: TodoStatus::NotStarted,
        }
    }

    #[test]
    fn the_digest_changes_with_every_synchronized_field() {
        let a = fields();
        let mut b = fields();
        assert_eq!(a.digest(), b.digest());
        b.status = TodoStatus::Completed;
        assert_ne!(a.digest(), b.digest());
        let mut c = fields();
        c.due = None;
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            TodoStatus::NotStarted,
            TodoStatus::InProgress,
            TodoStatus::Completed,
            TodoStatus::WaitingOnOthers,
            TodoStatus::Deferred,
        ] {
            assert_eq!(TodoStatus::from_graph(s.as_graph()), Some(s));
        }
        assert_eq!(TodoStatus::from_graph("bogus"), None);
    }
}
