//! What a subscription watches: the resources Graph accepts a subscription for, parsed from the
//! `resource` path, with each one's longest lifetime, item type and the items in it now. The one
//! place that knows which resources are supported, apart from the requests and the watcher that
//! use it.

use crate::store::Tenant;
use std::collections::HashMap;

/// Longest lifetime of a subscription to Outlook messages, events and contacts (minutes).
const OUTLOOK_MAX_MINUTES: i64 = 10_080;
/// Longest lifetime of a subscription to To Do tasks (minutes).
const TODO_MAX_MINUTES: i64 = 4_230;

/// What a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    Messages { user: String, folder: String },
    Events { user: String },
    Contacts { user: String },
    ContactFolder { user: String, folder: String },
    Tasks { user: String, list: String },
}

impl Scope {
    pub(super) fn parse(resource: &str) -> Option<Scope> {
        let segs = crate::graph::split_path(resource);
        let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = l.iter().map(String::as_str).collect();
        let user = segs.get(1).cloned()?;
        match l.as_slice() {
            ["users", _, "mailfolders", _, "messages"] => Some(Scope::Messages {
                user,
                folder: segs[3].clone(),
            }),
            ["users", _, "events"] | ["users", _, "calendar", "events"] => {
                Some(Scope::Events { user })
            }
            ["users", _, "contacts"] => Some(Scope::Contacts { user }),
            ["users", _, "contactfolders", _, "contacts"] => Some(Scope::ContactFolder {
                user,
                folder: segs[3].clone(),
            }),
            ["users", _, "todo", "lists", _, "tasks"] => Some(Scope::Tasks {
                user,
                list: segs[4].clone(),
            }),
            _ => None,
        }
    }

    pub(super) fn user(&self) -> &str {
        match self {
            Scope::Messages { user, .. }
            | Scope::Events { user }
            | Scope::Contacts { user }
            | Scope::ContactFolder { user, .. }
            | Scope::Tasks { user, .. } => user,
        }
    }

    pub(super) fn max_minutes(&self) -> i64 {
        match self {
            Scope::Tasks { .. } => TODO_MAX_MINUTES,
            _ => OUTLOOK_MAX_MINUTES,
        }
    }

    /// `(@odata.type, resource path segment)` of the items.
    pub(super) fn item_type(&self) -> (&'static str, &'static str) {
        match self {
            Scope::Messages { .. } => ("#Microsoft.Graph.Message", "Messages"),
            Scope::Events { .. } => ("#Microsoft.Graph.Event", "Events"),
            Scope::Contacts { .. } | Scope::ContactFolder { .. } => {
                ("#Microsoft.Graph.Contact", "Contacts")
            }
            Scope::Tasks { .. } => ("#Microsoft.Graph.todoTask", "Tasks"),
        }
    }

    /// The items in scope now: id → change sequence. `None` when the mailbox, folder or list
    /// no longer exists.
    pub(super) fn snapshot(&self, t: &Tenant, immutable: bool) -> Option<HashMap<String, u64>> {
        let u = t.user_index(self.user())?;
        let user = &t.users[u];
        if user.deleted {
            return None;
        }
        let mbx = user.mailbox.as_ref()?;
        let id = |imm: &str, rest: &str| if immutable { imm } else { rest }.to_owned();
        Some(match self {
            Scope::Messages { folder, .. } => {
                let folder = &mbx.folders[mbx.folder_index(folder)?].id;
                mbx.messages
                    .values()
                    .filter(|m| &m.folder == folder)
                    .map(|m| (id(&m.imm, &m.rest), m.seq))
                    .collect()
            }
            Scope::Events { .. } => mbx
                .events
                .values()
                .map(|e| {
                    let seq = e.exceptions.values().map(|x| x.seq).fold(e.seq, u64::max);
                    (id(&e.imm, &e.rest), seq)
                })
                .collect(),
            // "Changes to all personal contacts in a user's mailbox."
            Scope::Contacts { .. } => mbx
                .contacts
                .values()
                .map(|c| (id(&c.imm, &c.rest), c.seq))
                .collect(),
            // "Changes to contacts in a user's contactFolder" (that folder's own contacts).
            Scope::ContactFolder { folder, .. } => {
                let folder = mbx.contact_folders.iter().find(|f| f.id == *folder)?;
                mbx.contacts
                    .values()
                    .filter(|c| c.folder == folder.id)
                    .map(|c| (id(&c.imm, &c.rest), c.seq))
                    .collect()
            }
            Scope::Tasks { list, .. } => {
                let list = mbx
                    .todo_lists
                    .iter()
                    .find(|l| l.id == *list || l.well_known.eq_ignore_ascii_case(list))?;
                mbx.tasks
                    .values()
                    .filter(|x| x.list == list.id)
                    .map(|x| (x.id.clone(), x.seq))
                    .collect()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_into_scopes() {
        assert_eq!(
            Scope::parse("users/u1/mailFolders('AAMk=')/messages"),
            Some(Scope::Messages {
                user: "u1".into(),
                folder: "AAMk=".into()
            })
        );
        assert_eq!(
            Scope::parse("/users/u1/events"),
            Some(Scope::Events { user: "u1".into() })
        );
        assert_eq!(
            Scope::parse("users/u1/calendar/events"),
            Some(Scope::Events { user: "u1".into() })
        );
        assert_eq!(
            Scope::parse("users/u1/todo/lists/L1/tasks"),
            Some(Scope::Tasks {
                user: "u1".into(),
                list: "L1".into()
            })
        );
        assert_eq!(
            Scope::parse("/users/u1/contactFolders/F1/contacts"),
            Some(Scope::ContactFolder {
                user: "u1".into(),
                folder: "F1".into()
            })
        );
        assert_eq!(Scope::parse("users/u1/messages/x"), None);
        assert_eq!(Scope::parse("groups/g/events"), None);
    }
}
