//! Tenant state: users, their mailboxes and everything in them, plus direct access for tests.
//!
//! All data sits behind one mutex in [`crate::server::Shared`]; handlers lock it briefly and never
//! await while holding it. Every change bumps the tenant-wide sequence number into the item's
//! `seq`, which is what delta rounds compare.
//!
//! This file holds the tenant, its users and the helpers every part uses (`ts`, `str_prop`,
//! `recipient`). The parts: `mailbox` (a user's mailbox and the operations on its folders and
//! messages), `items` (the records a mailbox holds), `handle` ([`StateHandle`], the direct
//! access for tests: users, calendar, contacts, To Do, categories) and `handle_mail` (the
//! handle's folders and messages).

mod handle;
mod handle_mail;
mod items;
mod mailbox;

pub use handle::{StateError, StateHandle};
pub use handle_mail::{FolderCount, MessageSummary, NewMessage};
pub(crate) use items::{
    Attachment, AttachmentContent, Category, Contact, ContactFolder, Event, Exception, MailFolder,
    Message, Task, TodoList,
};
pub(crate) use mailbox::Mailbox;

use jiff::Timestamp;
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

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

/// Formats a timestamp the way Graph renders `Edm.DateTimeOffset` values.
pub(crate) fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn str_prop(props: &Map<String, Value>, key: &str) -> String {
    props
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The `emailAddress` object Graph uses for recipients.
pub(crate) fn recipient(name: &str, address: &str) -> Value {
    json!({"emailAddress": {"name": name, "address": address}})
}
