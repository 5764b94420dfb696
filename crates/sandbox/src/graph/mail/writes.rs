//! Writing messages: the properties a client may set (and which a sent message refuses), a
//! draft created, a message PATCHed, moved or copied, attachments parsed (a file's content in
//! base64, up to 3 MB, or an item) and added. Apart from the reads because these check a
//! client's input; `send` builds on the same checks.

use super::{folder_id, mbx, mbx_mut, render_attachment, render_message};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, merge_ext};
use crate::ids;
use crate::store::{Attachment, AttachmentContent, Message, Tenant, ts};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Properties a client may set on create/PATCH of a message.
const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "from",
    "sender",
    "importance",
    "isRead",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "categories",
    "flag",
    "inferenceClassification",
    "internetMessageId",
    "internetMessageHeaders",
];

pub(super) fn apply_writable(
    props: &mut Map<String, Value>,
    body: &Map<String, Value>,
    draft: bool,
) -> GResult<()> {
    for (k, v) in body {
        let Some(canon) = WRITABLE.iter().find(|w| w.eq_ignore_ascii_case(k)) else {
            if k == "singleValueExtendedProperties"
                || k == "attachments"
                || k.starts_with('@')
                || k == "id"
            {
                continue;
            }
            if matches!(
                k.as_str(),
                "parentFolderId"
                    | "changeKey"
                    | "createdDateTime"
                    | "lastModifiedDateTime"
                    | "receivedDateTime"
                    | "sentDateTime"
                    | "hasAttachments"
                    | "bodyPreview"
                    | "conversationId"
                    | "webLink"
                    | "isDraft"
            ) {
                return Err(GraphError::bad_request(
                    "ErrorInvalidPropertyUpdateSentMessage",
                    format!("The property '{k}' is read-only and cannot be set."),
                ));
            }
            return Err(GraphError::bad_request(
                "RequestBodyRead",
                format!(
                    "The property '{k}' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type or mark the type as open type."
                ),
            ));
        };
        if !draft
            && matches!(
                *canon,
                "subject"
                    | "body"
                    | "toRecipients"
                    | "ccRecipients"
                    | "bccRecipients"
                    | "from"
                    | "sender"
                    | "internetMessageId"
            )
        {
            return Err(GraphError::bad_request(
                "ErrorInvalidPropertyUpdateSentMessage",
                "Update operation is invalid for property of a sent message.",
            ));
        }
        match *canon {
            "categories" => {
                let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(GraphError::bad_request(
                        "ErrorInvalidProperty",
                        "categories must be an array of strings.",
                    ));
                }
            }
            "isRead" if !v.is_boolean() => {
                return Err(GraphError::bad_request(
                    "RequestBodyRead",
                    "Cannot convert the literal to the expected type 'Edm.Boolean'.",
                ));
            }
            "body" => {
                let ct = v
                    .get("contentType")
                    .and_then(Value::as_str)
                    .unwrap_or("text")
                    .to_ascii_lowercase();
                let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
                props.insert(
                    "body".into(),
                    json!({"contentType": ct, "content": content}),
                );
                continue;
            }
            _ => {}
        }
        props.insert((*canon).to_owned(), v.clone());
    }
    Ok(())
}

pub(super) fn patch_message(ctx: &mut Ctx<'_>, ui: usize, imm: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let seq = ctx.next_seq();
    let mb = mbx_mut(ctx.t, ui)?;
    let msg = mb
        .messages
        .get_mut(imm)
        .ok_or_else(GraphError::item_not_found)?;
    ctx.req.check_etag(msg.seq)?;
    let draft = msg
        .props
        .get("isDraft")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut props = msg.props.clone();
    apply_writable(&mut props, &body, draft)?;
    let mut ext = msg.ext.clone();
    merge_ext(&body, &mut ext)?;
    msg.props = props;
    msg.ext = ext;
    msg.seq = seq;
    msg.modified = Timestamp::now();
    let view = ctx.req.view();
    let mb = mbx(ctx.t, ui)?;
    let msg = mb
        .messages
        .get(imm)
        .ok_or_else(GraphError::item_not_found)?;
    Ok(Resp::ok(render_message(msg, &view)))
}

pub(super) fn move_or_copy(ctx: &mut Ctx<'_>, ui: usize, imm: &str, copy: bool) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let dest = body
        .get("destinationId")
        .or_else(|| body.get("DestinationId"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidRequest",
                "The destinationId parameter is required.",
            )
        })?
        .to_owned();
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let dest_id = folder_id(mb, &dest)?;
    let result_imm = if copy {
        let src = mb
            .messages
            .get(imm)
            .cloned()
            .ok_or_else(GraphError::item_not_found)?;
        let mut c = src;
        c.imm = ids::immutable_id(rng);
        c.rest = ids::rest_id(rng);
        c.folder = dest_id;
        c.seq = seq;
        c.created = Timestamp::now();
        c.modified = c.created;
        let id = c.imm.clone();
        mb.insert_message(c);
        id
    } else {
        mb.move_message(rng, seq, imm, &dest_id)
            .ok_or_else(GraphError::item_not_found)?
    };
    let view = ctx.req.view();
    let mb = mbx(ctx.t, ui)?;
    let msg = mb
        .messages
        .get(&result_imm)
        .ok_or_else(GraphError::item_not_found)?;
    Ok(Resp::created(render_message(msg, &view)))
}

pub(super) fn parse_attachments(
    rng: &mut rand_chacha::ChaCha20Rng,
    body: &Map<String, Value>,
) -> GResult<Vec<Attachment>> {
    let mut out = Vec::new();
    if let Some(arr) = body.get("attachments").and_then(Value::as_array) {
        for a in arr {
            if let Value::Object(m) = a {
                out.push(parse_attachment(rng, m)?);
            }
        }
    }
    Ok(out)
}

fn parse_attachment(
    rng: &mut rand_chacha::ChaCha20Rng,
    m: &Map<String, Value>,
) -> GResult<Attachment> {
    let kind = m
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("attachment")
        .to_owned();
    let content = if kind.ends_with("itemattachment") {
        let item = m
            .get("item")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        AttachmentContent::Item(Box::new(item))
    } else if kind.ends_with("fileattachment") {
        let b64 = m
            .get("contentBytes")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let bytes = STANDARD.decode(b64).map_err(|_| {
            GraphError::bad_request("ErrorInvalidRequest", "contentBytes is not valid base64.")
        })?;
        if bytes.len() > 3 * 1024 * 1024 {
            return Err(GraphError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ErrorAttachmentSizeLimitExceeded",
                "The attachment is larger than 3 MB; use an upload session.",
            ));
        }
        AttachmentContent::File(bytes)
    } else {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "The attachment must have @odata.type #microsoft.graph.fileAttachment or #microsoft.graph.itemAttachment.",
        ));
    };
    Ok(Attachment {
        id: ids::entity_id(rng),
        name,
        content_type: m
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .to_owned(),
        is_inline: m.get("isInline").and_then(Value::as_bool).unwrap_or(false),
        content_id: m
            .get("contentId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        modified: Timestamp::now(),
        content,
    })
}

pub(super) fn add_attachment(ctx: &mut Ctx<'_>, ui: usize, imm: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let a = parse_attachment(rng, &body)?;
    let msg = mb
        .messages
        .get_mut(imm)
        .ok_or_else(GraphError::item_not_found)?;
    let v = render_attachment(&a, true);
    msg.attachments.push(a);
    msg.seq = seq;
    Ok(Resp::created(v))
}

pub(super) fn create_message(ctx: &mut Ctx<'_>, ui: usize, folder: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let seq = ctx.next_seq();
    let owner = ctx.t.users[ui].mail.clone().unwrap_or_default();
    let owner_name = ctx.t.users[ui].display_name.clone();
    let domain = ctx.shared.directory.domain.clone();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let fid = folder_id(mb, folder)?;
    let mut props = Map::new();
    props.insert("isDraft".into(), json!(true));
    props.insert("isRead".into(), json!(true));
    apply_writable(&mut props, &body, true)?;
    let now = Timestamp::now();
    props
        .entry("from")
        .or_insert_with(|| crate::store::recipient(&owner_name, &owner));
    props
        .entry("sender")
        .or_insert_with(|| crate::store::recipient(&owner_name, &owner));
    props
        .entry("internetMessageId")
        .or_insert_with(|| json!(format!("<{}@{}>", uuid::Uuid::new_v4().simple(), domain)));
    props
        .entry("conversationId")
        .or_insert_with(|| json!(ids::entity_id(rng)));
    props.insert("receivedDateTime".into(), json!(ts(now)));
    props.insert("sentDateTime".into(), json!(ts(now)));
    let mut ext = Vec::new();
    merge_ext(&body, &mut ext)?;
    let attachments = parse_attachments(rng, &body)?;
    let m = Message {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        folder: fid,
        seq,
        created: now,
        modified: now,
        props,
        ext,
        attachments,
    };
    let view = ctx.req.view();
    let v = render_message(&m, &view);
    mb.insert_message(m);
    Ok(Resp::created(v))
}
