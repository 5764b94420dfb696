//! [`MailGraph`] over gc-graph's [`GraphClient`].

use async_trait::async_trait;
use gc_graph::models::{AttachmentKind, ItemBody, Message, Recipient};
use gc_graph::{DeltaItem, ErrorKind, GraphClient, GraphError, MessageDeltaOptions, NewMessage};
use tokio::sync::OnceCell;

use crate::adapters::send_limit::{SendFor, SendLimiter, SendLimits};
use crate::email::attachments::file_stem;
use crate::email::model::{Address, Body, MailAttachment, MailItem, MailMessage, MailPage};
use crate::engine::Spool;
use crate::ports::{
    BacklogHint, Content, ErrorClass, FolderRef, MailGraph, Notification, Notifier, PortError,
};

/// The properties of a message the engine reads from the delta.
pub const MESSAGE_SELECT: &str = "id,internetMessageId,subject,receivedDateTime,sentDateTime,from,toRecipients,ccRecipients,bccRecipients,body,hasAttachments,parentFolderId,categories";

/// The Graph side of e-mail filing.
#[derive(Debug, Clone)]
pub struct GraphMail {
    client: GraphClient,
    admin_email: String,
    can_send: std::sync::Arc<OnceCell<bool>>,
    /// The administrator's mailbox's sends, held to Exchange's limits (shared by the clones).
    sends: std::sync::Arc<SendLimiter>,
}

impl GraphMail {
    /// Over `client`; notifications come from `admin_email` when Mail.Send is granted.
    pub fn new(client: GraphClient, admin_email: impl Into<String>) -> Self {
        GraphMail {
            client,
            admin_email: admin_email.into(),
            can_send: std::sync::Arc::new(OnceCell::new()),
            sends: std::sync::Arc::new(SendLimiter::new(SendLimits::default())),
        }
    }

    /// The same, with the administrator's mailbox held to `limits` instead of Exchange
    /// Online's published ones.
    pub fn with_send_limits(mut self, limits: SendLimits) -> Self {
        self.sends = std::sync::Arc::new(SendLimiter::new(limits));
        self
    }

    /// The client.
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    async fn mail_send_granted(&self) -> Result<bool, PortError> {
        self.can_send
            .get_or_try_init(|| async {
                let token = self.client.access_token().await.map_err(port)?;
                Ok(token
                    .roles
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|x| x == "Mail.Send")))
            })
            .await
            .copied()
    }
}

/// Classify a Graph error for the engine.
pub fn port(e: GraphError) -> PortError {
    let class = match e.kind() {
        ErrorKind::Throttled | ErrorKind::Transient => ErrorClass::Transient,
        ErrorKind::SyncStateExpired => ErrorClass::SyncStateExpired,
        ErrorKind::NotFound => ErrorClass::NotFound,
        // The app's credentials are refused: no mailbox can be worked.
        ErrorKind::Authentication(_) => ErrorClass::Tenant,
        // A missing role or an application access policy that leaves this mailbox out; a
        // missing role for the whole tenant is reported by `check` before any run.
        ErrorKind::ConsentMissing(_) | ErrorKind::MailboxNotEnabled => ErrorClass::Mailbox,
        ErrorKind::Permanent => ErrorClass::Item,
    };
    PortError::new(class, e.to_string())
}

fn address(r: &Recipient) -> Option<Address> {
    let a = r.smtp()?.trim();
    if a.is_empty() {
        return None;
    }
    Some(Address::new(
        a,
        r.email_address.as_ref().and_then(|e| e.name.as_deref()),
    ))
}

fn addresses(v: &Option<Vec<Recipient>>) -> Vec<Address> {
    v.iter().flatten().filter_map(address).collect()
}

/// The engine's view of a Graph message.
pub fn to_mail_message(m: Message) -> MailMessage {
    MailMessage {
        received: m.received(),
        sent: m.sent_date_time.as_deref().and_then(|s| s.parse().ok()),
        from: m.from.as_ref().and_then(address),
        to: addresses(&m.to_recipients),
        cc: addresses(&m.cc_recipients),
        bcc: addresses(&m.bcc_recipients),
        body: m.body.as_ref().map(|b| Body {
            html: b.is_html(),
            content: b.content.clone().unwrap_or_default(),
        }),
        has_attachments: m.has_attachments.unwrap_or(false),
        parent_folder_id: m.parent_folder_id,
        categories: m.categories.unwrap_or_default(),
        internet_message_id: m.internet_message_id,
        subject: m.subject.unwrap_or_default(),
        id: m.id,
    }
}

fn folder_ref(f: gc_graph::models::MailFolder) -> FolderRef {
    FolderRef {
        name: f.display_name.unwrap_or_default(),
        total: f.total_item_count.map(u64::from),
        id: f.id,
    }
}

#[async_trait]
impl MailGraph for GraphMail {
    async fn folder(
        &self,
        mailbox: &str,
        path: &str,
        create: bool,
    ) -> Result<Option<FolderRef>, PortError> {
        let f = if create {
            Some(
                self.client
                    .ensure_mail_folder(mailbox, path)
                    .await
                    .map_err(port)?,
            )
        } else {
            self.client
                .find_mail_folder(mailbox, path)
                .await
                .map_err(port)?
        };
        Ok(f.map(folder_ref))
    }

    async fn child_folders(
        &self,
        mailbox: &str,
        parent: &str,
    ) -> Result<Vec<FolderRef>, PortError> {
        let children = self
            .client
            .list_mail_folders(mailbox, Some(parent))
            .await
            .map_err(port)?;
        Ok(children.into_iter().map(folder_ref).collect())
    }

    async fn create_child_folder(
        &self,
        mailbox: &str,
        parent: &str,
        name: &str,
    ) -> Result<FolderRef, PortError> {
        self.client
            .create_mail_folder(mailbox, Some(parent), name)
            .await
            .map(folder_ref)
            .map_err(port)
    }

    async fn delta_page(
        &self,
        mailbox: &str,
        folder_id: &str,
        checkpoint: Option<&str>,
    ) -> Result<MailPage, PortError> {
        let mut stream = match checkpoint {
            Some(link) => self.client.resume_message_delta(mailbox, link),
            None => self.client.message_delta(
                mailbox,
                folder_id,
                &MessageDeltaOptions {
                    select: Some(MESSAGE_SELECT.into()),
                    ..Default::default()
                },
            ),
        };
        let Some(page) = stream.next_page().await else {
            return Ok(MailPage::default());
        };
        let page = page.map_err(port)?;
        let items = page
            .items
            .into_iter()
            .map(|item| match item {
                Ok(DeltaItem::Changed(m)) => MailItem::Message(Box::new(to_mail_message(m))),
                Ok(DeltaItem::Removed { id, .. }) => MailItem::Removed { id },
                Err(e) => MailItem::Broken {
                    id: e.id.clone(),
                    reason: e.message.clone(),
                },
            })
            .collect();
        Ok(MailPage {
            items,
            next_link: page.next_link,
            delta_link: page.delta_link,
        })
    }

    async fn attachments(
        &self,
        mailbox: &str,
        message_id: &str,
    ) -> Result<Vec<MailAttachment>, PortError> {
        let list = self
            .client
            .list_attachment_metadata(mailbox, message_id)
            .await
            .map_err(port)?;
        let mut out = Vec::new();
        for item in list {
            let a = match item {
                Ok(a) => a,
                Err(e) => {
                    out.push(MailAttachment {
                        id: e.id.clone().unwrap_or_default(),
                        name: e
                            .id
                            .clone()
                            .unwrap_or_else(|| format!("attachment {}", e.index + 1)),
                        content_type: String::new(),
                        size: 0,
                        inline: false,
                        item: false,
                        unreadable: Some(e.message),
                    });
                    continue;
                }
            };
            let name = a.name.clone().unwrap_or_default();
            let mut att = MailAttachment {
                id: a.id.clone(),
                name,
                content_type: a.content_type.clone().unwrap_or_default(),
                size: a.size.unwrap_or(0),
                inline: a.is_inline.unwrap_or(false),
                item: false,
                unreadable: None,
            };
            match a.kind() {
                AttachmentKind::File => {}
                AttachmentKind::Item => {
                    att.name = format!("{}.eml", file_stem(&att.name));
                    att.content_type = "message/rfc822".into();
                    att.item = true;
                }
                // A cloud link has no bytes to store; it stays visible in the body.
                AttachmentKind::Reference => continue,
                AttachmentKind::Unknown => {
                    att.unreadable = Some(format!(
                        "unknown attachment type {:?}",
                        a.odata_type.as_deref().unwrap_or("")
                    ));
                }
            }
            out.push(att);
        }
        Ok(out)
    }

    async fn download(
        &self,
        mailbox: &str,
        message_id: &str,
        what: Content<'_>,
        max_bytes: u64,
    ) -> Result<Option<Spool>, PortError> {
        let started = match what {
            Content::Message => {
                self.client
                    .download_message_mime(mailbox, message_id, max_bytes)
                    .await
            }
            Content::Attachment(a) => {
                self.client
                    .download_attachment_content(mailbox, message_id, &a.id, max_bytes)
                    .await
            }
        };
        let mut download = match started {
            Ok(d) => d,
            Err(GraphError::TooLarge { .. }) => return Ok(None),
            Err(e) => return Err(port(e)),
        };
        let mut spool = Spool::new();
        loop {
            match download.chunk().await {
                Ok(Some(piece)) => spool.write(&piece).map_err(|e| {
                    PortError::transient(format!("cannot park downloaded content: {e}"))
                })?,
                Ok(None) => return Ok(Some(spool)),
                Err(GraphError::TooLarge { .. }) => return Ok(None),
                Err(e) => return Err(port(e)),
            }
        }
    }

    async fn move_to(
        &self,
        mailbox: &str,
        message_id: &str,
        folder_id: &str,
    ) -> Result<(), PortError> {
        self.client
            .move_message_only(mailbox, message_id, folder_id)
            .await
            .map_err(port)
    }

    async fn set_categories(
        &self,
        mailbox: &str,
        message_id: &str,
        categories: &[String],
    ) -> Result<(), PortError> {
        self.client
            .update_message_only(
                mailbox,
                message_id,
                &gc_graph::MessagePatch {
                    categories: Some(categories.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(port)
    }
}

/// The client orders the requests waiting for its tenant budget by the runs' backlogs.
impl BacklogHint for gc_graph::GraphClient {
    fn set(&self, user: &str, items: Option<u64>) {
        self.set_backlog(user, items);
    }
}

#[async_trait]
impl Notifier for GraphMail {
    async fn notify(&self, mailbox: &str, note: &Notification) -> Result<(), PortError> {
        let mut msg = NewMessage {
            subject: note.subject.clone(),
            body: ItemBody::html(note.html.clone()),
            to_recipients: vec![Recipient::address(mailbox)],
            importance: Some("high".into()),
            ..Default::default()
        };
        if !self.admin_email.is_empty() {
            msg.from = Some(Recipient::address(self.admin_email.clone()));
        }
        if self.mail_send_granted().await? && !self.admin_email.is_empty() {
            // Refused here rather than by Exchange, which blocks a mailbox over its daily
            // limit from sending for a day: the caller keeps the notice for a later run.
            let to = if mailbox.eq_ignore_ascii_case(&self.admin_email) {
                SendFor::Admin
            } else {
                SendFor::User
            };
            self.sends.take(to).map_err(|refused| {
                metrics::counter!(
                    "graph_connector_admin_sends_refused_total",
                    "limit" => refused.setting,
                    "to" => match to {
                        SendFor::User => "user",
                        SendFor::Admin => "admin",
                    }
                )
                .increment(1);
                PortError::transient(refused.to_string())
            })?;
            // A send that failed keeps its slot: it may have gone out all the same.
            return self
                .client
                .send_mail(&self.admin_email, &msg, false)
                .await
                .map_err(port);
        }
        // Without Mail.Send, Mail.ReadWrite still lets us put the note into the Inbox.
        self.client
            .create_message(mailbox, "inbox", &msg)
            .await
            .map(|_| ())
            .map_err(port)
    }
}
