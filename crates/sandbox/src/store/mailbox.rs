//! A user's mailbox: what it holds, and the operations on its folders and messages that the
//! Graph handlers, the seed and the state handle share (an id resolved, a folder found by
//! well-known name or path, folders added and removed, messages inserted, moved and deleted,
//! counts). Apart from the records themselves (`items`), which are plain data.

use super::{Category, Contact, ContactFolder, Event, MailFolder, Message, Task, TodoList};
use crate::ids;
use jiff::Timestamp;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct Mailbox {
    pub folders: Vec<MailFolder>,
    pub messages: HashMap<String, Message>,
    pub events: HashMap<String, Event>,
    pub contact_folders: Vec<ContactFolder>,
    pub contacts: HashMap<String, Contact>,
    pub todo_lists: Vec<TodoList>,
    pub tasks: HashMap<String, Task>,
    pub categories: Vec<Category>,
    /// REST id → immutable id, for messages, events and contacts.
    pub rest_index: HashMap<String, String>,
}

impl Mailbox {
    /// Resolves a folder id or well-known name.
    pub fn folder_index(&self, key: &str) -> Option<usize> {
        self.folders
            .iter()
            .position(|f| f.id == key || f.well_known.is_some_and(|w| w.eq_ignore_ascii_case(key)))
    }

    pub fn folder_id(&self, well_known: &str) -> Option<String> {
        self.folder_index(well_known)
            .map(|i| self.folders[i].id.clone())
    }

    /// Resolves a folder by display-name path from the root, e.g. `Inbox/crm` (case-insensitive).
    pub fn folder_by_path(&self, path: &str) -> Option<String> {
        let mut parent = self.folder_id("msgfolderroot")?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let f = self.folders.iter().find(|f| {
                f.parent.as_deref() == Some(parent.as_str())
                    && f.display_name.eq_ignore_ascii_case(part)
            })?;
            parent = f.id.clone();
        }
        Some(parent)
    }

    /// The display-name path of a folder (e.g. `Inbox/crm`).
    pub fn folder_path(&self, id: &str) -> String {
        let mut parts = Vec::new();
        let mut cur = self.folders.iter().find(|f| f.id == id);
        while let Some(f) = cur {
            if f.well_known == Some("msgfolderroot") {
                break;
            }
            parts.push(f.display_name.clone());
            cur = f
                .parent
                .as_ref()
                .and_then(|p| self.folders.iter().find(|g| &g.id == p));
        }
        parts.reverse();
        parts.join("/")
    }

    /// Removes a folder, its subfolders and their messages (a user deleting it in Outlook,
    /// or `DELETE mailFolders/{id}`).
    pub fn remove_folder_tree(&mut self, id: &str) {
        let mut doomed = vec![id.to_owned()];
        let mut k = 0;
        while k < doomed.len() {
            let cur = doomed[k].clone();
            doomed.extend(
                self.folders
                    .iter()
                    .filter(|f| f.parent.as_deref() == Some(cur.as_str()))
                    .map(|f| f.id.clone()),
            );
            k += 1;
        }
        self.folders.retain(|f| !doomed.contains(&f.id));
        let gone: Vec<(String, String)> = self
            .messages
            .values()
            .filter(|m| doomed.contains(&m.folder))
            .map(|m| (m.imm.clone(), m.rest.clone()))
            .collect();
        for (imm, rest) in gone {
            self.messages.remove(&imm);
            self.rest_index.remove(&rest);
        }
    }

    /// Immutable id of a message/event/contact given either id format.
    pub fn resolve(&self, id: &str) -> String {
        self.rest_index
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    pub fn add_folder(
        &mut self,
        rng: &mut ChaCha20Rng,
        seq: u64,
        parent: &str,
        name: &str,
    ) -> String {
        let id = ids::folder_id(rng);
        self.folders.push(MailFolder {
            id: id.clone(),
            parent: Some(parent.to_owned()),
            display_name: name.to_owned(),
            well_known: None,
            hidden: false,
            seq,
            ext: Vec::new(),
        });
        id
    }

    /// Inserts a message, indexing its REST id.
    pub fn insert_message(&mut self, m: Message) {
        self.rest_index.insert(m.rest.clone(), m.imm.clone());
        self.messages.insert(m.imm.clone(), m);
    }

    /// Moves a message to another folder: it gets a new REST id (the immutable id stays), as in
    /// Exchange. Returns the immutable id.
    pub fn move_message(
        &mut self,
        rng: &mut ChaCha20Rng,
        seq: u64,
        imm: &str,
        dest: &str,
    ) -> Option<String> {
        let m = self.messages.get_mut(imm)?;
        if m.folder == dest {
            return Some(imm.to_owned());
        }
        self.rest_index.remove(&m.rest);
        m.rest = ids::rest_id(rng);
        m.folder = dest.to_owned();
        m.seq = seq;
        m.modified = Timestamp::now();
        self.rest_index.insert(m.rest.clone(), imm.to_owned());
        Some(imm.to_owned())
    }

    /// Deletes a message as Outlook does: into Deleted Items, or for good from there.
    pub fn delete_message(&mut self, rng: &mut ChaCha20Rng, seq: u64, imm: &str) -> bool {
        let Some(deleted) = self.folder_id("deleteditems") else {
            return false;
        };
        let Some(m) = self.messages.get(imm) else {
            return false;
        };
        if m.folder == deleted {
            let rest = m.rest.clone();
            self.rest_index.remove(&rest);
            self.messages.remove(imm);
            true
        } else {
            self.move_message(rng, seq, imm, &deleted).is_some()
        }
    }

    pub fn folder_counts(&self, folder: &str) -> (usize, usize) {
        let mut total = 0;
        let mut unread = 0;
        for m in self.messages.values().filter(|m| m.folder == folder) {
            total += 1;
            if !m
                .props
                .get("isRead")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                unread += 1;
            }
        }
        (total, unread)
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.display_name.eq_ignore_ascii_case(name))
    }
}
