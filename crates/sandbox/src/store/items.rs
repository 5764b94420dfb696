//! The records a mailbox holds: mail folders, messages and their attachments (a file, a
//! synthetic large file or an attached message), events and their exceptions, contact folders
//! and contacts, To Do lists and tasks, Outlook categories. Plain data (with an attachment's
//! size and bytes), apart from the mailbox that ties them together (`mailbox`).

use jiff::Timestamp;
use jiff::civil::DateTime;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
