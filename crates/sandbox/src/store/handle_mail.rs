//! The [`StateHandle`]'s folders and messages: folder counts, folder paths created and
//! deleted, messages listed, looked up, filed, deleted, delivered and marked read, with the
//! summaries tests see of them ([`MessageSummary`], [`FolderCount`]) and the message to deliver
//! ([`NewMessage`]). Apart from the rest of the handle (`handle`) because it is most of it.

use super::{Mailbox, Message, StateError, StateHandle, str_prop};
use jiff::Timestamp;
use serde_json::Value;

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

impl StateHandle<'_> {
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
}

fn received(m: &Message) -> &str {
    m.props
        .get("receivedDateTime")
        .and_then(Value::as_str)
        .unwrap_or("")
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
