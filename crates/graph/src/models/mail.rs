//! `mailFolder`, `message`, `attachment`.

use base64::Engine;

use super::{InternetMessageHeader, ItemBody, Recipient, SingleValueExtendedProperty};

model! {
    /// A mail folder.
    pub struct MailFolder {
        pub id: String,
        pub display_name: Option<String>,
        pub parent_folder_id: Option<String>,
        pub child_folder_count: Option<u32>,
        pub total_item_count: Option<u32>,
        pub unread_item_count: Option<u32>,
        pub is_hidden: Option<bool>,
        pub well_known_name: Option<String>,
    }
}

model! {
    /// `followupFlag`.
    pub struct FollowupFlag {
        /// `notFlagged`, `complete`, `flagged`.
        pub flag_status: Option<String>,
    }
}

model! {
    /// A message. Request with `Prefer: IdType="ImmutableId"` (the client always does) so `id`
    /// survives moves between folders.
    pub struct Message {
        pub id: String,
        #[serde(rename = "@odata.etag")]
        pub etag: Option<String>,
        pub change_key: Option<String>,
        pub created_date_time: Option<String>,
        pub last_modified_date_time: Option<String>,
        pub received_date_time: Option<String>,
        pub sent_date_time: Option<String>,
        pub categories: Option<Vec<String>>,
        pub parent_folder_id: Option<String>,
        pub subject: Option<String>,
        pub body_preview: Option<String>,
        pub body: Option<ItemBody>,
        pub unique_body: Option<ItemBody>,
        pub from: Option<Recipient>,
        pub sender: Option<Recipient>,
        pub to_recipients: Option<Vec<Recipient>>,
        pub cc_recipients: Option<Vec<Recipient>>,
        pub bcc_recipients: Option<Vec<Recipient>>,
        pub reply_to: Option<Vec<Recipient>>,
        pub conversation_id: Option<String>,
        pub conversation_index: Option<String>,
        pub internet_message_id: Option<String>,
        pub internet_message_headers: Option<Vec<InternetMessageHeader>>,
        pub has_attachments: Option<bool>,
        pub importance: Option<String>,
        pub inference_classification: Option<String>,
        pub is_read: Option<bool>,
        pub is_draft: Option<bool>,
        pub is_delivery_receipt_requested: Option<bool>,
        pub is_read_receipt_requested: Option<bool>,
        pub flag: Option<FollowupFlag>,
        pub web_link: Option<String>,
        pub attachments: Option<Vec<Attachment>>,
        pub single_value_extended_properties: Option<Vec<SingleValueExtendedProperty>>,
    }
}

impl Message {
    /// The value of an extended property by id (case-insensitive id comparison).
    pub fn extended_property(&self, id: &str) -> Option<&str> {
        self.single_value_extended_properties
            .iter()
            .flatten()
            .find(|p| p.id.eq_ignore_ascii_case(id))
            .and_then(|p| p.value.as_deref())
    }

    /// The value of an internet message header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.internet_message_headers
            .iter()
            .flatten()
            .find(|h| {
                h.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|h| h.value.as_deref())
    }

    /// `receivedDateTime` as an instant (mail times are always UTC).
    pub fn received(&self) -> Option<jiff::Timestamp> {
        self.received_date_time.as_deref()?.parse().ok()
    }
}

/// Which kind of attachment (`@odata.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// `#microsoft.graph.fileAttachment`: bytes in `contentBytes`.
    File,
    /// `#microsoft.graph.itemAttachment`: an attached Outlook item (message, event, contact).
    Item,
    /// `#microsoft.graph.referenceAttachment`: a cloud link.
    Reference,
    /// Missing or unknown type.
    Unknown,
}

model! {
    /// An attachment of any kind; see [`Attachment::kind`].
    pub struct Attachment {
        #[serde(rename = "@odata.type")]
        pub odata_type: Option<String>,
        pub id: String,
        pub name: Option<String>,
        pub content_type: Option<String>,
        pub size: Option<u64>,
        pub is_inline: Option<bool>,
        pub last_modified_date_time: Option<String>,
        /// Inline image reference (`cid:` in the HTML body).
        pub content_id: Option<String>,
        pub content_location: Option<String>,
        /// base64 content of a file attachment.
        pub content_bytes: Option<String>,
        /// The attached item (only with `$expand=microsoft.graph.itemattachment/item`).
        pub item: Option<serde_json::Value>,
    }
}

impl Attachment {
    /// The attachment kind from `@odata.type`.
    pub fn kind(&self) -> AttachmentKind {
        match self
            .odata_type
            .as_deref()
            .map(|t| t.trim_start_matches('#').to_ascii_lowercase())
        {
            Some(t) if t == "microsoft.graph.fileattachment" => AttachmentKind::File,
            Some(t) if t == "microsoft.graph.itemattachment" => AttachmentKind::Item,
            Some(t) if t == "microsoft.graph.referenceattachment" => AttachmentKind::Reference,
            _ => AttachmentKind::Unknown,
        }
    }

    /// Decoded bytes of a file attachment (`None` when there is no `contentBytes`).
    pub fn decode_content(&self) -> Option<Result<Vec<u8>, base64::DecodeError>> {
        self.content_bytes
            .as_deref()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()))
    }

    /// A new file attachment for a POST body.
    pub fn file(name: impl Into<String>, content_type: impl Into<String>, bytes: &[u8]) -> Self {
        Attachment {
            odata_type: Some("#microsoft.graph.fileAttachment".into()),
            name: Some(name.into()),
            content_type: Some(content_type.into()),
            content_bytes: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ..Default::default()
        }
    }
}
