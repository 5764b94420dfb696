//! Tenant state: users, their mailboxes and everything in them, plus direct access for tests.
//!
//! All data sits behind one mutex in [`crate::server::Shared`]; handlers lock it briefly and never
//! await while holding it. Every change bumps the tenant-wide sequence number into the item's
//! `seq`, which is what delta rounds compare.

use crate::ids;
use crate::server::Shared;
use jiff::Timestamp;
use jiff::civil::DateTime;
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// Well-known mail folder names and their display names (created in every mailbox).
pub(crate) const WELL_KNOWN_FOLDERS: &[(&str, &str)] = &[
    ("msgfolderroot", "Top of Information Store"),
    ("inbox", "Inbox"),
    ("drafts", "Drafts"),
    ("sentitems", "Sent Items"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("outbox", "Outbox"),
    ("archive", "Archive"),
    ("conversationhistory", "Conversation History"),
    ("clutter", "Clutter"),
    ("conflicts", "Conflicts"),
    ("localfailures", "Local Failures"),
    ("serverfailures", "Server Failures"),
    ("syncissues", "Sync Issues"),
    ("scheduled", "Scheduled"),
    ("searchfolders", "Finder"),
    ("recoverableitemsdeletions", "Deletions"),
];

/// Well-known folders that exist but are hidden from listings (or are not under the root).
pub(crate) const HIDDEN_WELL_KNOWN: &[&str] = &[
    "clutter",
    "conflicts",
    "localfailures",
    "serverfailures",
    "syncissues",
    "scheduled",
    "searchfolders",
    "recoverableitemsdeletions",
];

pub(crate) struct Tenant {
    pub seq: u64,
    pub rng: ChaCha20Rng,
    pub users: Vec<User>,
    /// Object id, UPN and primary address (lower-cased) → index into `users`. Users are never
    /// added or renamed at run time, so it is built once; with 10,000 users a linear search
    /// per request would cost more than the request.
    pub index: HashMap<String, usize>,
    /// With [`crate::SandboxOptions::lazy_mailboxes`]: how to generate a mailbox's content the
    /// first time something touches it.
    pub lazy: Option<crate::lazy::LazyMailboxes>,
}

impl Tenant {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Builds [`Tenant::index`] from `users`.
    pub fn index_users(users: &[User]) -> HashMap<String, usize> {
        let mut index = HashMap::with_capacity(users.len() * 3);
        for (i, u) in users.iter().enumerate() {
            index.entry(u.id.to_ascii_lowercase()).or_insert(i);
            index.entry(u.upn.to_ascii_lowercase()).or_insert(i);
            if let Some(m) = &u.mail {
                index.entry(m.to_ascii_lowercase()).or_insert(i);
            }
        }
        index
    }

    /// The users whose object id, UPN, primary address or `onmicrosoft` alias (listed in
    /// `proxyAddresses`) is `name`: a superset of those a `$filter` by that name can match.
    pub fn users_named(&self, name: &str) -> Vec<usize> {
        let name = name.to_ascii_lowercase();
        let mut out: Vec<usize> = self.index.get(&name).copied().into_iter().collect();
        if let Some(local) = name.strip_suffix("@contoso.onmicrosoft.example") {
            out.extend(
                self.index
                    .get(&format!("{local}@contoso.example"))
                    .copied()
                    .filter(|i| self.users[*i].user_type == "Member"),
            );
        }
        out
    }

    /// Finds a user by object id, UPN or primary address (case-insensitive for names).
    pub fn user_index(&self, key: &str) -> Option<usize> {
        if let Some(i) = self.index.get(key) {
            return Some(*i);
        }
        self.index.get(&key.to_ascii_lowercase()).copied()
    }

    /// Generates the mailbox content of user `ui` if it is still pending (lazy tenants).
    pub fn materialize(&mut self, ui: usize) {
        let Some(lazy) = &self.lazy else { return };
        let Some(u) = self.users.get(ui) else { return };
        if !u.pending_mailbox {
            return;
        }
        let seq = self.seq + 1;
        let (mailbox, used) = lazy.generate(ui, seq);
        self.seq += used;
        let u = &mut self.users[ui];
        u.mailbox = Some(mailbox);
        u.pending_mailbox = false;
    }

    /// [`Tenant::materialize`] for a user named by id, UPN or address; unknown keys are left
    /// to the caller's own error.
    pub fn materialize_key(&mut self, key: &str) {
        if self.lazy.is_some()
            && let Some(i) = self.user_index(key)
        {
            self.materialize(i);
        }
    }
}

pub(crate) struct User {
    pub id: String,
    pub upn: String,
    pub mail: Option<String>,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub user_type: &'static str,
    pub account_enabled: bool,
    pub job_title: String,
    pub mobile_phone: String,
    pub deleted: bool,
    pub seq: u64,
    pub mailbox: Option<Mailbox>,
    /// A lazy tenant's user whose mailbox exists but has not been generated yet
    /// ([`Tenant::materialize`]); `mailbox` is `None` until then.
    pub pending_mailbox: bool,
}

impl User {
    /// Whether the user has an Exchange mailbox (generated or still pending).
    pub fn has_mailbox(&self) -> bool {
        self.mailbox.is_some() || self.pending_mailbox
    }
}

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

#[derive(Clone)]
pub(crate) struct MailFolder {
    pub id: String,
    pub parent: Option<String>,
    pub display_name: String,
    pub well_known: Option<&'static str>,
    pub hidden: bool,
    pub seq: u64,
    pub ext: Vec<(String, String)>,
}

#[derive(Clone)]
pub(crate) struct Message {
    pub imm: String,
    pub rest: String,
    pub folder: String,
    pub seq: u64,
    pub created: Timestamp,
    pub modified: Timestamp,
    /// Graph properties (subject, body, recipients, …) as Graph renders them.
    pub props: Map<String, Value>,
    pub ext: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
}

#[derive(Clone)]
pub(crate) struct Attachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub is_inline: bool,
    pub content_id: Option<String>,
    pub modified: Timestamp,
    pub content: AttachmentContent,
}

#[derive(Clone)]
pub(crate) enum AttachmentContent {
    File(Vec<u8>),
    /// A large file generated on demand (deterministic bytes of this size), so that oversized
    /// attachments cost no memory until someone downloads them.
    Synthetic {
        size: usize,
        seed: u64,
    },
    /// An attached message (Graph `itemAttachment` whose item is a message), as message props.
    Item(Box<Map<String, Value>>),
}

impl Attachment {
    pub fn size(&self) -> usize {
        match &self.content {
            AttachmentContent::File(b) => b.len(),
            AttachmentContent::Synthetic { size, .. } => *size,
            AttachmentContent::Item(p) => serde_json::to_string(p).map(|s| s.len()).unwrap_or(0),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Event {
    pub imm: String,
    pub rest: String,
    pub seq: u64,
    pub created: Timestamp,
    pub modified: Timestamp,
    /// Local start/end in `tz` (a Windows or IANA zone name).
    pub start: DateTime,
    pub end: DateTime,
    pub tz: String,
    pub all_day: bool,
    pub recurrence: Option<Value>,
    /// Per original-start date (`YYYY-MM-DD`) of an occurrence: its modification or cancellation.
    pub exceptions: BTreeMap<String, Exception>,
    pub props: Map<String, Value>,
    pub ext: Vec<(String, String)>,
}

#[derive(Clone, Default)]
pub(crate) struct Exception {
    pub cancelled: bool,
    pub start: Option<DateTime>,
    pub end: Option<DateTime>,
    pub props: Map<String, Value>,
    pub seq: u64,
}

#[derive(Clone)]
pub(crate) struct ContactFolder {
    pub id: String,
    pub parent: Option<String>,
    pub display_name: String,
    /// The default "Contacts" folder (not returned by `contactFolders`).
    pub is_default: bool,
    pub seq: u64,
}

#[derive(Clone)]
pub(crate) struct Contact {
    pub imm: String,
    pub rest: String,
    pub folder: String,
    pub seq: u64,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub props: Map<String, Value>,
    pub ext: Vec<(String, String)>,
}

#[derive(Clone)]
pub(crate) struct TodoList {
    pub id: String,
    pub display_name: String,
    pub well_known: &'static str,
    pub seq: u64,
}

#[derive(Clone)]
pub(crate) struct Task {
    pub id: String,
    pub list: String,
    pub seq: u64,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub props: Map<String, Value>,
    pub linked: Vec<Value>,
}

#[derive(Clone)]
pub(crate) struct Category {
    pub id: String,
    pub display_name: String,
    pub color: String,
    pub seq: u64,
}

impl AttachmentContent {
    /// The raw bytes of a file attachment (`None` for item attachments).
    pub fn file_bytes(&self) -> Option<Vec<u8>> {
        match self {
            AttachmentContent::File(b) => Some(b.clone()),
            AttachmentContent::Synthetic { size, seed } => {
                let mut out = Vec::with_capacity(*size);
                out.extend_from_slice(b"%PDF-1.4\n% sandbox synthetic document\n");
                let mut x = *seed | 1;
                while out.len() < *size {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    out.push(b' ' + (x % 90) as u8);
                    if out.len() % 80 == 0 {
                        out.push(b'\n');
                    }
                }
                out.truncate(*size);
                Some(out)
            }
            AttachmentContent::Item(_) => None,
        }
    }
}

/// Formats a timestamp the way Graph renders `Edm.DateTimeOffset` values.
pub(crate) fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
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

/// A folder and its message counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderCount {
    /// Display-name path, e.g. `Inbox/crm`.
    pub path: String,
    pub total: usize,
    pub unread: usize,
}

/// A message as tests see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSummary {
    pub immutable_id: String,
    pub rest_id: String,
    pub folder_path: String,
    pub subject: String,
    pub internet_message_id: String,
    pub categories: Vec<String>,
    pub is_read: bool,
    pub has_attachments: bool,
    /// `(id, value)` of the single-value extended properties.
    pub extended_properties: Vec<(String, String)>,
}

/// A new received message to deliver into a mailbox (control API / tests).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewMessage {
    pub subject: String,
    /// Sender address (an external or another user); default: the first external.
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub body_html: Option<String>,
    pub body_text: Option<String>,
    /// `(file name, content type, bytes)`.
    #[serde(skip)]
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Folder path to deliver into; default `Inbox`.
    pub folder: Option<String>,
    pub in_reply_to: Option<String>,
    /// `internetMessageId` (RFC 5322 Message-ID) of the message. One message sent to several
    /// users of the tenant arrives in each mailbox with the same id, so delivering copies of
    /// one message means giving them the same id; default: a new one.
    pub internet_message_id: Option<String>,
    /// When the message was sent and received; default: now.
    pub received: Option<jiff::Timestamp>,
}

/// Direct, synchronous access to the tenant's state (for tests and demos). Users are named by
/// e-mail address or object id; folders by display-name path (`Inbox/crm`) or well-known name.
pub struct StateHandle<'a> {
    pub(crate) shared: &'a Shared,
}

impl std::fmt::Debug for StateHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateHandle")
    }
}

/// Error of a [`StateHandle`] operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl StateHandle<'_> {
    fn with_mailbox<T>(
        &self,
        user: &str,
        f: impl FnOnce(&mut Mailbox, &mut ChaCha20Rng, u64) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        let Tenant { rng, users, .. } = &mut *t;
        let mbx = users[i]
            .mailbox
            .as_mut()
            .ok_or_else(|| StateError(format!("{user} has no mailbox")))?;
        f(mbx, rng, seq)
    }

    fn folder(mbx: &Mailbox, folder: &str) -> Result<String, StateError> {
        mbx.folder_index(folder)
            .map(|i| mbx.folders[i].id.clone())
            .or_else(|| mbx.folder_by_path(folder))
            .ok_or_else(|| StateError(format!("no folder {folder}")))
    }

    /// Message counts of every folder of `user`'s mailbox.
    pub fn folder_counts(&self, user: &str) -> Result<Vec<FolderCount>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut out: Vec<FolderCount> = mbx
                .folders
                .iter()
                .filter(|f| f.well_known != Some("msgfolderroot"))
                .map(|f| {
                    let (total, unread) = mbx.folder_counts(&f.id);
                    FolderCount {
                        path: mbx.folder_path(&f.id),
                        total,
                        unread,
                    }
                })
                .collect();
            out.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(out)
        })
    }

    /// Number of messages in a folder (path or well-known name); 0 if the folder does not exist.
    pub fn count_messages(&self, user: &str, folder: &str) -> Result<usize, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            Ok(match Self::folder(mbx, folder) {
                Ok(id) => mbx.folder_counts(&id).0,
                Err(_) => 0,
            })
        })
    }

    /// Creates a folder path (like `Inbox/crm/Sync_Success`) as the user would in Outlook.
    pub fn create_folder_path(&self, user: &str, path: &str) -> Result<String, StateError> {
        self.with_mailbox(user, |mbx, rng, seq| {
            let mut parent = mbx
                .folder_id("msgfolderroot")
                .ok_or_else(|| StateError("no root".into()))?;
            for part in path.split('/').filter(|p| !p.is_empty()) {
                let existing = mbx
                    .folders
                    .iter()
                    .find(|f| {
                        f.parent.as_deref() == Some(parent.as_str())
                            && f.display_name.eq_ignore_ascii_case(part)
                    })
                    .map(|f| f.id.clone());
                parent = match existing {
                    Some(id) => id,
                    None => mbx.add_folder(rng, seq, &parent, part),
                };
            }
            Ok(parent)
        })
    }

    /// Deletes a folder path (like `Inbox/crm`) with its subfolders and messages, as the user
    /// would in Outlook.
    pub fn delete_folder_path(&self, user: &str, path: &str) -> Result<(), StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let id = mbx
                .folder_by_path(path)
                .ok_or_else(|| StateError(format!("no folder {path}")))?;
            mbx.remove_folder_tree(&id);
            Ok(())
        })
    }

    /// The messages in a folder, newest first.
    pub fn messages(&self, user: &str, folder: &str) -> Result<Vec<MessageSummary>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let id = Self::folder(mbx, folder)?;
            let mut v: Vec<&Message> = mbx.messages.values().filter(|m| m.folder == id).collect();
            v.sort_by(|a, b| received(b).cmp(received(a)).then(a.imm.cmp(&b.imm)));
            Ok(v.into_iter().map(|m| summary(mbx, m)).collect())
        })
    }

    /// Looks a message up by either id.
    pub fn message(&self, user: &str, id: &str) -> Result<MessageSummary, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let imm = mbx.resolve(id);
            mbx.messages
                .get(&imm)
                .map(|m| summary(mbx, m))
                .ok_or_else(|| StateError(format!("no message {id}")))
        })
    }

    /// Moves a message (either id) into a folder, as the user would by drag and drop. Creates the
    /// folder path if needed. Returns the immutable id.
    pub fn file_message(
        &self,
        user: &str,
        id: &str,
        folder_path: &str,
    ) -> Result<String, StateError> {
        let dest = match self.with_mailbox(user, |mbx, _, _| Self::folder(mbx, folder_path)) {
            Ok(d) => d,
            Err(_) => self.create_folder_path(user, folder_path)?,
        };
        self.with_mailbox(user, |mbx, rng, seq| {
            let imm = mbx.resolve(id);
            mbx.move_message(rng, seq, &imm, &dest)
                .ok_or_else(|| StateError(format!("no message {id}")))
        })
    }

    /// Files the `n` newest messages of the Inbox into `folder_path`; returns their immutable ids.
    pub fn file_inbox_messages(
        &self,
        user: &str,
        n: usize,
        folder_path: &str,
    ) -> Result<Vec<String>, StateError> {
        let ids: Vec<String> = self
            .messages(user, "inbox")?
            .into_iter()
            .take(n)
            .map(|m| m.immutable_id)
            .collect();
        for id in &ids {
            self.file_message(user, id, folder_path)?;
        }
        Ok(ids)
    }

    /// Deletes a message as the user would (to Deleted Items, or for good from there).
    pub fn delete_message(&self, user: &str, id: &str) -> Result<(), StateError> {
        self.with_mailbox(user, |mbx, rng, seq| {
            let imm = mbx.resolve(id);
            if mbx.delete_message(rng, seq, &imm) {
                Ok(())
            } else {
                Err(StateError(format!("no message {id}")))
            }
        })
    }

    /// Delivers a new received message into a mailbox; returns its immutable id.
    pub fn deliver(&self, user: &str, msg: NewMessage) -> Result<String, StateError> {
        let dir = self.shared.directory.clone();
        self.with_mailbox(user, |mbx, rng, seq| {
            let folder = match &msg.folder {
                Some(f) => Self::folder(mbx, f)?,
                None => mbx
                    .folder_id("inbox")
                    .ok_or_else(|| StateError("no inbox".into()))?,
            };
            let m = crate::seed::new_received_message(&dir, rng, seq, user, &msg, folder);
            let imm = m.imm.clone();
            mbx.insert_message(m);
            Ok(imm)
        })
    }

    /// Adds `count` single events to `user`'s calendar, spread over the days inside
    /// `[today − days_past, today + days_future]`, each a 30-minute meeting with one external
    /// attendee (for load tests: a first sync of many events). Returns their immutable ids.
    pub fn generate_events(
        &self,
        user: &str,
        count: usize,
        days_past: u32,
        days_future: u32,
    ) -> Result<Vec<String>, StateError> {
        let dir = self.shared.directory.clone();
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        if t.users[i].mailbox.is_none() {
            return Err(StateError(format!("{user} has no mailbox")));
        }
        Ok(crate::graph::calendar::generate_events(
            &mut t,
            &dir,
            i,
            count,
            days_past,
            days_future,
        ))
    }

    /// Number of events (series masters and single instances) in `user`'s calendar.
    pub fn event_count(&self, user: &str) -> Result<usize, StateError> {
        self.with_mailbox(user, |mbx, _, _| Ok(mbx.events.len()))
    }

    /// `(immutable id, subject, iCalUId)` of the calendar's events.
    pub fn events(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .events
                .values()
                .map(|e| {
                    (
                        e.imm.clone(),
                        str_prop(&e.props, "subject"),
                        str_prop(&e.props, "iCalUId"),
                    )
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// `(immutable id, displayName, folder display name)` of the user's contacts.
    pub fn contacts(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .contacts
                .values()
                .map(|c| {
                    let folder = mbx
                        .contact_folders
                        .iter()
                        .find(|f| f.id == c.folder)
                        .map(|f| f.display_name.clone())
                        .unwrap_or_default();
                    (c.imm.clone(), str_prop(&c.props, "displayName"), folder)
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// `(list name, task title, status)` of the user's To Do tasks.
    pub fn tasks(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .tasks
                .values()
                .map(|t| {
                    let list = mbx
                        .todo_lists
                        .iter()
                        .find(|l| l.id == t.list)
                        .map(|l| l.display_name.clone())
                        .unwrap_or_default();
                    (
                        list,
                        str_prop(&t.props, "title"),
                        str_prop(&t.props, "status"),
                    )
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// Soft-deletes a user (as an admin would in Entra): gone from `/users`, reported by users
    /// delta as `@removed` with reason `changed`; the mailbox answers `ErrorInvalidUser`.
    pub fn delete_user(&self, user: &str) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        t.users[i].deleted = true;
        t.users[i].seq = seq;
        Ok(())
    }

    /// Enables or blocks a user's sign-in (`accountEnabled`), a change users delta reports.
    pub fn set_account_enabled(&self, user: &str, enabled: bool) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        t.users[i].account_enabled = enabled;
        t.users[i].seq = seq;
        Ok(())
    }

    /// Take the user's Exchange mailbox away (as when its licence is withdrawn): from now on
    /// Graph answers `MailboxNotEnabledForRESTAPI` for it, the directory entry stays.
    pub fn remove_mailbox(&self, user: &str) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.users[i].mailbox = None;
        t.users[i].pending_mailbox = false;
        Ok(())
    }

    /// Names of the user's Outlook master categories.
    pub fn categories(&self, user: &str) -> Result<Vec<String>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            Ok(mbx
                .categories
                .iter()
                .map(|c| c.display_name.clone())
                .collect())
        })
    }

    /// Sets a message's read flag as the user would.
    pub fn set_read(&self, user: &str, id: &str, read: bool) -> Result<(), StateError> {
        self.with_mailbox(user, |mbx, _, seq| {
            let imm = mbx.resolve(id);
            let m = mbx
                .messages
                .get_mut(&imm)
                .ok_or_else(|| StateError(format!("no message {id}")))?;
            m.props.insert("isRead".into(), Value::Bool(read));
            m.seq = seq;
            m.modified = Timestamp::now();
            Ok(())
        })
    }

    /// Auth switches: see [`crate::auth::AuthSwitches`].
    pub fn auth(&self) -> crate::auth::AuthControl<'_> {
        crate::auth::AuthControl {
            shared: self.shared,
        }
    }
}

fn received(m: &Message) -> &str {
    m.props
        .get("receivedDateTime")
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn str_prop(props: &Map<String, Value>, key: &str) -> String {
    props
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn summary(mbx: &Mailbox, m: &Message) -> MessageSummary {
    MessageSummary {
        immutable_id: m.imm.clone(),
        rest_id: m.rest.clone(),
        folder_path: mbx.folder_path(&m.folder),
        subject: str_prop(&m.props, "subject"),
        internet_message_id: str_prop(&m.props, "internetMessageId"),
        categories: m
            .props
            .get("categories")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        is_read: m
            .props
            .get("isRead")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        has_attachments: !m.attachments.is_empty(),
        extended_properties: m.ext.clone(),
    }
}

/// The `emailAddress` object Graph uses for recipients.
pub(crate) fn recipient(name: &str, address: &str) -> Value {
    json!({"emailAddress": {"name": name, "address": address}})
}
