//! A message delivered at run time (the control API's deliver, or a test's): a received
//! [`NewMessage`] made into a mailbox's message, with its sender's and recipients' names
//! from the directory. Apart from the seeded messages because it is built from a caller's
//! input, not from the seed.

use super::text::message_id;
use crate::ids;
use crate::people::Directory;
use crate::store::{Attachment, AttachmentContent, Message, NewMessage, recipient, ts};
use jiff::Timestamp;
use rand_chacha::ChaCha20Rng;
use serde_json::{Map, Value, json};

/// A new received message (control API / tests).
pub(crate) fn new_received_message(
    dir: &Directory,
    rng: &mut ChaCha20Rng,
    seq: u64,
    owner: &str,
    m: &NewMessage,
    folder: String,
) -> Message {
    let now = m.received.unwrap_or_else(Timestamp::now);
    let from_addr = m.from.clone().unwrap_or_else(|| {
        dir.externals
            .first()
            .map(|p| p.email.clone())
            .unwrap_or_default()
    });
    let name_of = |a: &str| {
        dir.find_by_email(a)
            .map(|p| p.display_name.clone())
            .unwrap_or_default()
    };
    let list = |v: &[String]| Value::Array(v.iter().map(|a| recipient(&name_of(a), a)).collect());
    let to = if m.to.is_empty() {
        vec![owner.to_owned()]
    } else {
        m.to.clone()
    };
    let domain = from_addr.split('@').nth(1).unwrap_or("example").to_owned();
    let imid = match &m.internet_message_id {
        Some(id) => id.clone(),
        None => message_id(rng, &domain),
    };
    let mut headers = vec![json!({"name": "Message-ID", "value": imid})];
    if let Some(r) = &m.in_reply_to {
        headers.push(json!({"name": "In-Reply-To", "value": r}));
    }
    let body = match (&m.body_html, &m.body_text) {
        (Some(h), _) => json!({"contentType": "html", "content": h}),
        (None, Some(t)) => json!({"contentType": "text", "content": t}),
        (None, None) => json!({"contentType": "text", "content": ""}),
    };
    let mut props = Map::new();
    props.insert("subject".into(), json!(m.subject));
    props.insert("body".into(), body);
    props.insert("from".into(), recipient(&name_of(&from_addr), &from_addr));
    props.insert("sender".into(), recipient(&name_of(&from_addr), &from_addr));
    props.insert("toRecipients".into(), list(&to));
    props.insert("ccRecipients".into(), list(&m.cc));
    props.insert("bccRecipients".into(), json!([]));
    props.insert("replyTo".into(), json!([]));
    props.insert("receivedDateTime".into(), json!(ts(now)));
    props.insert("sentDateTime".into(), json!(ts(now)));
    props.insert("internetMessageId".into(), json!(imid));
    props.insert("conversationId".into(), json!(ids::entity_id(rng)));
    props.insert("isRead".into(), json!(false));
    props.insert("isDraft".into(), json!(false));
    props.insert("internetMessageHeaders".into(), Value::Array(headers));
    let attachments = m
        .attachments
        .iter()
        .map(|(name, ct, bytes)| Attachment {
            id: ids::entity_id(rng),
            name: name.clone(),
            content_type: ct.clone(),
            is_inline: false,
            content_id: None,
            modified: now,
            content: AttachmentContent::File(bytes.clone()),
        })
        .collect();
    Message {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        folder,
        seq,
        created: now,
        modified: now,
        props,
        ext: Vec::new(),
        attachments,
    }
}
