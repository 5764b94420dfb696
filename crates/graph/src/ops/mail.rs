//! Mail folders, messages, MIME, attachments, move/patch, create and send.

use reqwest::Method;
use serde::Serialize;

use crate::client::{GraphClient, Req, seg};
use crate::error::{ErrorKind, GraphError, ResourceKind};
use crate::models::{Attachment, MailFolder, Message, Recipient, SingleValueExtendedProperty};
use crate::paging::{DeltaItem, ItemError, PageStream};
use crate::slots::Lane;

/// Well-known folder names usable wherever a folder id is accepted.
pub const WELL_KNOWN_FOLDERS: &[&str] = &[
    "archive",
    "clutter",
    "conflicts",
    "conversationhistory",
    "deleteditems",
    "drafts",
    "inbox",
    "junkemail",
    "localfailures",
    "msgfolderroot",
    "outbox",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "sentitems",
    "serverfailures",
    "syncissues",
];

/// The well-known name a path's first segment stands for: the name itself in any case, or
/// the English display name of one whose name differs from it.
fn well_known_folder(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "deleted items" => Some("deleteditems"),
        "sent items" => Some("sentitems"),
        "junk email" | "junk e-mail" => Some("junkemail"),
        other => WELL_KNOWN_FOLDERS.iter().copied().find(|w| *w == other),
    }
}

/// Options of a message delta round (fixed for the whole round: they are encoded in the tokens).
#[derive(Debug, Clone, Default)]
pub struct MessageDeltaOptions {
    /// `$select` (comma-separated property names); `None` for Graph's default set.
    pub select: Option<String>,
    /// `$expand`, e.g. an extended property:
    /// `singleValueExtendedProperties($filter=id eq 'String {guid} Name CrmId')`.
    pub expand: Option<String>,
    /// `changeType=created|updated|deleted`.
    pub change_type: Option<String>,
}

/// Changes to apply to a message (only set fields are sent).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePatch {
    /// Replace the message's categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Mark read or unread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_read: Option<bool>,
    /// Set extended properties (e.g. the CRM id stamp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_value_extended_properties: Option<Vec<SingleValueExtendedProperty>>,
}

/// A message to create (notification) or send.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage {
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: crate::models::ItemBody,
    /// To.
    pub to_recipients: Vec<Recipient>,
    /// Cc.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc_recipients: Vec<Recipient>,
    /// From (defaults to the mailbox owner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Recipient>,
    /// Categories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// `low`, `normal`, `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub importance: Option<String>,
    /// Small file attachments (under 3 MB each).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Extended properties.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub single_value_extended_properties: Vec<SingleValueExtendedProperty>,
}

fn user(mailbox: &str) -> String {
    format!("/users/{}", seg(mailbox))
}

impl GraphClient {
    /// Child folders of `parent` (a folder id or well-known name; `None` for the top level).
    pub async fn list_mail_folders(
        &self,
        mailbox: &str,
        parent: Option<&str>,
    ) -> Result<Vec<MailFolder>, GraphError> {
        let path = match parent {
            Some(p) => format!(
                "{}/mailFolders/{}/childFolders?$top=250&includeHiddenFolders=true",
                user(mailbox),
                seg(p)
            ),
            None => format!(
                "{}/mailFolders?$top=250&includeHiddenFolders=true",
                user(mailbox)
            ),
        };
        self.list(Some(mailbox), ResourceKind::Mail, &path)
            .collect_ok()
            .await
    }

    /// One folder by id or well-known name (answers with the real id).
    pub async fn get_mail_folder(
        &self,
        mailbox: &str,
        folder: &str,
    ) -> Result<MailFolder, GraphError> {
        self.get_json(
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/mailFolders/{}", user(mailbox), seg(folder)),
        )
        .await
    }

    /// Find a folder by a path such as `/Inbox/crm`. The first segment may be a well-known
    /// name (`Inbox` → `inbox`), so the path works whatever the mailbox language; the other
    /// segments match display names case-insensitively. `None` if a segment is missing.
    pub async fn find_mail_folder(
        &self,
        mailbox: &str,
        path: &str,
    ) -> Result<Option<MailFolder>, GraphError> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((first, rest)) = segments.split_first() else {
            return Ok(None);
        };
        if rest.is_empty() {
            return self.resolve_top_folder(mailbox, first).await;
        }
        let Some((_, mut children)) = self.top_children(mailbox, first).await? else {
            return Ok(None);
        };
        for (i, name) in rest.iter().enumerate() {
            let Some(f) = children.into_iter().find(|f| names_match(f, name)) else {
                return Ok(None);
            };
            if i + 1 == rest.len() {
                return Ok(Some(f));
            }
            children = self.list_mail_folders(mailbox, Some(&f.id)).await?;
        }
        Ok(None)
    }

    /// The folder a path's first segment names: a well-known folder (its name in any case,
    /// or its English display name), else the top folder of that display name.
    async fn resolve_top_folder(
        &self,
        mailbox: &str,
        name: &str,
    ) -> Result<Option<MailFolder>, GraphError> {
        if let Some(w) = well_known_folder(name) {
            return match self.get_mail_folder(mailbox, w).await {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
        }
        let top = self.list_mail_folders(mailbox, None).await?;
        Ok(top.into_iter().find(|f| names_match(f, name)))
    }

    /// The folders under a path's first segment, with the address of that folder to create
    /// more under it; `None` when it does not exist. A well-known folder is listed through its
    /// name (`mailFolders/inbox/childFolders`, Graph takes the name wherever a folder id goes):
    /// one request, where reading the folder first cost a second one before a mailbox's first
    /// sync could start.
    async fn top_children(
        &self,
        mailbox: &str,
        name: &str,
    ) -> Result<Option<(String, Vec<MailFolder>)>, GraphError> {
        if let Some(w) = well_known_folder(name) {
            return match self.list_mail_folders(mailbox, Some(w)).await {
                Ok(children) => Ok(Some((w.to_owned(), children))),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
        }
        let top = self.list_mail_folders(mailbox, None).await?;
        let Some(f) = top.into_iter().find(|f| names_match(f, name)) else {
            return Ok(None);
        };
        let children = self.list_mail_folders(mailbox, Some(&f.id)).await?;
        Ok(Some((f.id, children)))
    }

    /// Create folder `name` under `parent` (`None`: top level). Idempotent: if a folder of that
    /// name exists already, it is returned.
    pub async fn create_mail_folder(
        &self,
        mailbox: &str,
        parent: Option<&str>,
        name: &str,
    ) -> Result<MailFolder, GraphError> {
        let path = match parent {
            Some(p) => format!("{}/mailFolders/{}/childFolders", user(mailbox), seg(p)),
            None => format!("{}/mailFolders", user(mailbox)),
        };
        let body = serde_json::json!({ "displayName": name, "isHidden": false });
        match self
            .send_json(
                Method::POST,
                Some(mailbox),
                ResourceKind::Mail,
                &path,
                &body,
                true,
            )
            .await
        {
            Ok(f) => Ok(f),
            Err(e) if e.status() == Some(409) => {
                let existing = self.list_mail_folders(mailbox, parent).await?;
                existing.into_iter().find(|f| names_match(f, name)).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Find `path` (see [`GraphClient::find_mail_folder`]), creating missing segments below the
    /// first one.
    pub async fn ensure_mail_folder(
        &self,
        mailbox: &str,
        path: &str,
    ) -> Result<MailFolder, GraphError> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((first, rest)) = segments.split_first() else {
            return Err(GraphError::Config(format!("empty folder path {path:?}")));
        };
        if rest.is_empty() {
            return match self.resolve_top_folder(mailbox, first).await? {
                Some(f) => Ok(f),
                None => self.create_mail_folder(mailbox, None, first).await,
            };
        }
        let (mut parent, mut children) = match self.top_children(mailbox, first).await? {
            Some(found) => found,
            None => {
                let top = self.create_mail_folder(mailbox, None, first).await?;
                let children = self.list_mail_folders(mailbox, Some(&top.id)).await?;
                (top.id, children)
            }
        };
        for (i, name) in rest.iter().enumerate() {
            let f = match children.into_iter().find(|f| names_match(f, name)) {
                Some(f) => f,
                None => {
                    self.create_mail_folder(mailbox, Some(&parent), name)
                        .await?
                }
            };
            if i + 1 == rest.len() {
                return Ok(f);
            }
            children = self.list_mail_folders(mailbox, Some(&f.id)).await?;
            parent = f.id;
        }
        Err(GraphError::Config(format!("empty folder path {path:?}")))
    }

    /// Start a message delta round for one folder (id or well-known name).
    pub fn message_delta(
        &self,
        mailbox: &str,
        folder: &str,
        options: &MessageDeltaOptions,
    ) -> PageStream<DeltaItem<Message>> {
        let mut query: Vec<String> = Vec::new();
        if let Some(s) = &options.select {
            query.push(format!("$select={}", crate::client::qv(s)));
        }
        if let Some(x) = &options.expand {
            query.push(format!("$expand={}", crate::client::qv(x)));
        }
        if let Some(c) = &options.change_type {
            query.push(format!("changeType={}", crate::client::qv(c)));
        }
        let mut path = format!(
            "{}/mailFolders/{}/messages/delta",
            user(mailbox),
            seg(folder)
        );
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        self.delta(Some(mailbox), ResourceKind::Mail, &path)
    }

    /// Continue a message delta from a stored nextLink or deltaLink.
    pub fn resume_message_delta(
        &self,
        mailbox: &str,
        link: &str,
    ) -> PageStream<DeltaItem<Message>> {
        self.resume(Some(mailbox), link)
    }

    /// Messages of a folder (plain listing, newest first by Graph default).
    pub fn list_messages(
        &self,
        mailbox: &str,
        folder: &str,
        select: Option<&str>,
    ) -> PageStream<Message> {
        let mut path = format!(
            "{}/mailFolders/{}/messages?$top=100",
            user(mailbox),
            seg(folder)
        );
        if let Some(s) = select {
            path.push_str("&$select=");
            path.push_str(&crate::client::qv(s));
        }
        self.list(Some(mailbox), ResourceKind::Mail, &path)
    }

    /// One message (`select`: `$select` list; `expand`: `$expand` expression).
    pub async fn get_message(
        &self,
        mailbox: &str,
        id: &str,
        select: Option<&str>,
        expand: Option<&str>,
    ) -> Result<Message, GraphError> {
        let mut q = Vec::new();
        if let Some(s) = select {
            q.push(format!("$select={}", crate::client::qv(s)));
        }
        if let Some(x) = expand {
            q.push(format!("$expand={}", crate::client::qv(x)));
        }
        let mut path = format!("{}/messages/{}", user(mailbox), seg(id));
        if !q.is_empty() {
            path.push('?');
            path.push_str(&q.join("&"));
        }
        self.get_json(Some(mailbox), ResourceKind::Mail, &path)
            .await
    }

    /// The message as RFC 822 MIME (`$value`), read chunk by chunk, at most `max_bytes`.
    pub async fn download_message_mime(
        &self,
        mailbox: &str,
        id: &str,
        max_bytes: u64,
    ) -> Result<crate::Download, GraphError> {
        self.download(
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/messages/{}/$value", user(mailbox), seg(id)),
            max_bytes,
        )
        .await
    }

    /// An attachment's raw content (`$value`; an item attachment as MIME), read chunk by
    /// chunk, at most `max_bytes`.
    pub async fn download_attachment_content(
        &self,
        mailbox: &str,
        message_id: &str,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<crate::Download, GraphError> {
        self.download(
            Some(mailbox),
            ResourceKind::Mail,
            &format!(
                "{}/messages/{}/attachments/{}/$value",
                user(mailbox),
                seg(message_id),
                seg(attachment_id)
            ),
            max_bytes,
        )
        .await
    }

    /// The message's attachments without their content (`$select` of the metadata): sizes
    /// can be judged before anything is downloaded. A malformed attachment is an error in its
    /// own slot.
    pub async fn list_attachment_metadata(
        &self,
        mailbox: &str,
        message_id: &str,
    ) -> Result<Vec<Result<Attachment, ItemError>>, GraphError> {
        self.list(
            Some(mailbox),
            ResourceKind::Mail,
            &format!(
                "{}/messages/{}/attachments?$select=id,name,contentType,size,isInline,lastModifiedDateTime",
                user(mailbox),
                seg(message_id)
            ),
        )
        .collect_items()
        .await
    }

    /// One attachment (item attachments with their item expanded).
    pub async fn get_attachment(
        &self,
        mailbox: &str,
        message_id: &str,
        attachment_id: &str,
    ) -> Result<Attachment, GraphError> {
        self.get_json(
            Some(mailbox),
            ResourceKind::Mail,
            &format!(
                "{}/messages/{}/attachments/{}",
                user(mailbox),
                seg(message_id),
                seg(attachment_id)
            ),
        )
        .await
    }

    /// Move a message to `destination` (folder id or well-known name) and return the moved
    /// message. With immutable ids (always requested) its id does not change.
    pub async fn move_message(
        &self,
        mailbox: &str,
        id: &str,
        destination: &str,
    ) -> Result<Message, GraphError> {
        self.send(self.move_req(mailbox, id, destination)?)
            .await?
            .json()
    }

    /// Move a message to `destination` without reading the moved copy back, for a caller
    /// that only needs the move done (filing). Graph answers a move with the whole message,
    /// its body included; decoding that answer only to drop it cost about as much CPU per
    /// filed message as the rest of the request (docs/PERFORMANCE.md).
    pub async fn move_message_only(
        &self,
        mailbox: &str,
        id: &str,
        destination: &str,
    ) -> Result<(), GraphError> {
        self.send(self.move_req(mailbox, id, destination)?)
            .await
            .map(drop)
    }

    fn move_req(&self, mailbox: &str, id: &str, destination: &str) -> Result<Req, GraphError> {
        self.json_req(
            Method::POST,
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/messages/{}/move", user(mailbox), seg(id)),
            &serde_json::json!({ "destinationId": destination }),
            true,
        )
    }

    /// PATCH a message (categories, read state, extended properties) and return it.
    pub async fn update_message(
        &self,
        mailbox: &str,
        id: &str,
        patch: &MessagePatch,
    ) -> Result<Message, GraphError> {
        self.send(self.update_req(mailbox, id, patch)?)
            .await?
            .json()
    }

    /// PATCH a message without reading it back (see [`GraphClient::move_message_only`]).
    pub async fn update_message_only(
        &self,
        mailbox: &str,
        id: &str,
        patch: &MessagePatch,
    ) -> Result<(), GraphError> {
        self.send(self.update_req(mailbox, id, patch)?)
            .await
            .map(drop)
    }

    fn update_req(&self, mailbox: &str, id: &str, patch: &MessagePatch) -> Result<Req, GraphError> {
        self.json_req(
            Method::PATCH,
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/messages/{}", user(mailbox), seg(id)),
            patch,
            true,
        )
    }

    /// Create a message in a folder (e.g. a notification in the user's inbox when Mail.Send is
    /// not granted). It is a draft-less item: Graph stores it as given.
    pub async fn create_message(
        &self,
        mailbox: &str,
        folder: &str,
        message: &NewMessage,
    ) -> Result<Message, GraphError> {
        self.send_json(
            Method::POST,
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/mailFolders/{}/messages", user(mailbox), seg(folder)),
            message,
            false,
        )
        .await
    }

    /// Send a message as `mailbox` (needs Mail.Send).
    pub async fn send_mail(
        &self,
        mailbox: &str,
        message: &NewMessage,
        save_to_sent_items: bool,
    ) -> Result<(), GraphError> {
        let mut req = self.json_req(
            Method::POST,
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/sendMail", user(mailbox)),
            &serde_json::json!({ "message": message, "saveToSentItems": save_to_sent_items }),
            false,
        )?;
        // Nobody waits for a message sent: the mailbox's other requests go first.
        req.lane = Lane::Background;
        self.send(req).await.map(|_| ())
    }

    /// Delete a message (it moves to Deleted Items).
    pub async fn delete_message(&self, mailbox: &str, id: &str) -> Result<(), GraphError> {
        self.delete(
            Some(mailbox),
            ResourceKind::Mail,
            &format!("{}/messages/{}", user(mailbox), seg(id)),
        )
        .await
    }
}

fn names_match(f: &MailFolder, name: &str) -> bool {
    f.display_name
        .as_deref()
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
}
