//! `sendMail`: a message (JSON, or base64 MIME, which is only checked) delivered to the inbox of
//! every recipient with a mailbox in the tenant (without its BCC line) and saved in the
//! sender's Sent Items unless told not to. Apart from the other writes because it writes into
//! other users' mailboxes.

use super::folder_id;
use super::writes::{apply_writable, parse_attachments};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, merge_ext};
use crate::ids;
use crate::store::{Message, Tenant, ts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

pub(super) fn send_mail(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let ct_text = ctx
        .req
        .body
        .first()
        .is_some_and(|b| *b != b'{' && !b.is_ascii_whitespace());
    if ct_text {
        // MIME form: base64 of an RFC 822 message
        let raw = String::from_utf8_lossy(&ctx.req.body).trim().to_owned();
        STANDARD.decode(raw.as_bytes()).map_err(|_| {
            GraphError::bad_request(
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        })?;
        return Ok(Resp::accepted());
    }
    let body = ctx.req.json()?;
    let msg = body
        .get("message")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            GraphError::bad_request("ErrorInvalidRequest", "The message parameter is required.")
        })?;
    let save = match body.get("saveToSentItems") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
        _ => true,
    };
    let recipients: Vec<String> = ["toRecipients", "ccRecipients", "bccRecipients"]
        .iter()
        .filter_map(|k| msg.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|r| {
            r.pointer("/emailAddress/address")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    if recipients.is_empty() {
        return Err(GraphError::bad_request(
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid.",
        ));
    }
    let owner = ctx.t.users[ui].mail.clone().unwrap_or_default();
    let owner_name = ctx.t.users[ui].display_name.clone();
    let domain = ctx.shared.directory.domain.clone();
    let mut props = Map::new();
    apply_writable(&mut props, &msg, true)?;
    let now = Timestamp::now();
    props.insert("from".into(), crate::store::recipient(&owner_name, &owner));
    props.insert(
        "sender".into(),
        crate::store::recipient(&owner_name, &owner),
    );
    props
        .entry("internetMessageId")
        .or_insert_with(|| json!(format!("<{}@{}>", uuid::Uuid::new_v4().simple(), domain)));
    props.insert("receivedDateTime".into(), json!(ts(now)));
    props.insert("sentDateTime".into(), json!(ts(now)));
    props.insert("isDraft".into(), json!(false));
    for r in &recipients {
        ctx.t.materialize_key(r);
    }
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let attachments = parse_attachments(rng, &msg)?;
    let mut ext = Vec::new();
    merge_ext(&msg, &mut ext)?;
    props
        .entry("conversationId")
        .or_insert_with(|| json!(ids::entity_id(rng)));
    // deliver to recipients with a mailbox in the tenant
    for r in &recipients {
        let Some(target) = users
            .iter_mut()
            .find(|u| u.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(r)))
        else {
            continue;
        };
        let Some(tmb) = target.mailbox.as_mut() else {
            continue;
        };
        let Some(inbox) = tmb.folder_id("inbox") else {
            continue;
        };
        let mut p = props.clone();
        p.insert("bccRecipients".into(), json!([]));
        p.insert("isRead".into(), json!(false));
        tmb.insert_message(Message {
            imm: ids::immutable_id(rng),
            rest: ids::rest_id(rng),
            folder: inbox,
            seq,
            created: now,
            modified: now,
            props: p,
            ext: Vec::new(),
            attachments: attachments.clone(),
        });
    }
    if save {
        let mb = users[ui]
            .mailbox
            .as_mut()
            .ok_or_else(GraphError::mailbox_not_enabled)?;
        let sent = folder_id(mb, "sentitems")?;
        let mut p = props;
        p.insert("isRead".into(), json!(true));
        mb.insert_message(Message {
            imm: ids::immutable_id(rng),
            rest: ids::rest_id(rng),
            folder: sent,
            seq,
            created: now,
            modified: now,
            props: p,
            ext,
            attachments,
        });
    }
    Ok(Resp::accepted())
}
