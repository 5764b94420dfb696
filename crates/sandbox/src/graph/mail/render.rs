//! Rendering: a message as Graph answers it for a view (its body as text or HTML as `Prefer:
//! outlook.body-content-type` asks, `$select`-only properties, expanded attachments) and an
//! attachment (file or item, with or without its content). Apart from the endpoints because it
//! is most of a message's wire shape and every read and write answers with it.

use crate::graph::{View, ext_props};
use crate::ids;
use crate::store::{Attachment, AttachmentContent, Message, ts};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// Renders a message as Graph does for `view`.
pub(crate) fn render_message(m: &Message, view: &View) -> Value {
    let mut o = Map::new();
    let ck = ids::change_key(m.seq);
    o.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
    o.insert("id".into(), json!(view.id(&m.imm, &m.rest)));
    o.insert("createdDateTime".into(), json!(ts(m.created)));
    o.insert("lastModifiedDateTime".into(), json!(ts(m.modified)));
    o.insert("changeKey".into(), json!(ck));
    let p = &m.props;
    let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    o.insert(
        "categories".into(),
        p.get("categories").cloned().unwrap_or_else(|| json!([])),
    );
    o.insert("receivedDateTime".into(), get("receivedDateTime"));
    o.insert("sentDateTime".into(), get("sentDateTime"));
    o.insert(
        "hasAttachments".into(),
        json!(m.attachments.iter().any(|a| !a.is_inline)),
    );
    o.insert("internetMessageId".into(), get("internetMessageId"));
    o.insert("subject".into(), get("subject"));
    let body = p
        .get("body")
        .cloned()
        .unwrap_or_else(|| json!({"contentType": "text", "content": ""}));
    o.insert("bodyPreview".into(), json!(crate::mime::preview(&body)));
    o.insert(
        "importance".into(),
        p.get("importance")
            .cloned()
            .unwrap_or_else(|| json!("normal")),
    );
    o.insert("parentFolderId".into(), json!(m.folder));
    o.insert("conversationId".into(), get("conversationId"));
    o.insert("conversationIndex".into(), get("conversationIndex"));
    o.insert(
        "isDeliveryReceiptRequested".into(),
        p.get("isDeliveryReceiptRequested")
            .cloned()
            .unwrap_or(json!(false)),
    );
    o.insert(
        "isReadReceiptRequested".into(),
        p.get("isReadReceiptRequested")
            .cloned()
            .unwrap_or(json!(false)),
    );
    o.insert(
        "isRead".into(),
        p.get("isRead").cloned().unwrap_or(json!(false)),
    );
    o.insert(
        "isDraft".into(),
        p.get("isDraft").cloned().unwrap_or(json!(false)),
    );
    o.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?ItemID={}&exvsurl=1&viewmodel=ReadMessageItem",
            m.rest
        )),
    );
    o.insert(
        "inferenceClassification".into(),
        p.get("inferenceClassification")
            .cloned()
            .unwrap_or(json!("focused")),
    );
    o.insert("body".into(), render_body(&body, view));
    for k in ["sender", "from"] {
        o.insert(k.into(), get(k));
    }
    for k in ["toRecipients", "ccRecipients", "bccRecipients", "replyTo"] {
        o.insert(k.into(), p.get(k).cloned().unwrap_or_else(|| json!([])));
    }
    o.insert(
        "flag".into(),
        p.get("flag")
            .cloned()
            .unwrap_or_else(|| json!({"flagStatus": "notFlagged"})),
    );
    if view.select.as_ref().is_some_and(|s| {
        s.iter()
            .any(|k| k.eq_ignore_ascii_case("internetMessageHeaders"))
    }) {
        o.insert(
            "internetMessageHeaders".into(),
            p.get("internetMessageHeaders")
                .cloned()
                .unwrap_or_else(|| json!([])),
        );
    }
    if view
        .select
        .as_ref()
        .is_some_and(|s| s.iter().any(|k| k.eq_ignore_ascii_case("uniqueBody")))
    {
        o.insert("uniqueBody".into(), render_body(&body, view));
    }
    ext_props(view, &m.ext, &mut o);
    if view.expands("attachments") {
        let atts: Vec<Value> = m
            .attachments
            .iter()
            .map(|a| render_attachment(a, true))
            .collect();
        o.insert("attachments".into(), Value::Array(atts));
    }
    Value::Object(o)
}

fn render_body(body: &Value, view: &View) -> Value {
    let html = body
        .get("contentType")
        .and_then(Value::as_str)
        .is_some_and(|c| c.eq_ignore_ascii_case("html"));
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (view.body_text, html) {
        (Some(true), true) => {
            json!({"contentType": "text", "content": crate::mime::html_to_text(content)})
        }
        (Some(false), false) => {
            let esc = content
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('\n', "<br>\r\n");
            json!({"contentType": "html", "content": format!("<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>{esc}</body></html>")})
        }
        _ => json!({"contentType": if html { "html" } else { "text" }, "content": content}),
    }
}

pub(crate) fn render_attachment(a: &Attachment, with_content: bool) -> Value {
    let mut o = Map::new();
    match &a.content {
        AttachmentContent::Item(item) => {
            o.insert(
                "@odata.type".into(),
                json!("#microsoft.graph.itemAttachment"),
            );
            o.insert("@odata.mediaContentType".into(), json!("message/rfc822"));
            let _ = (item, with_content);
        }
        content => {
            o.insert(
                "@odata.type".into(),
                json!("#microsoft.graph.fileAttachment"),
            );
            o.insert("@odata.mediaContentType".into(), json!(a.content_type));
            if with_content {
                o.insert(
                    "contentBytes".into(),
                    json!(STANDARD.encode(content.file_bytes().unwrap_or_default())),
                );
            }
            o.insert("contentId".into(), json!(a.content_id));
            o.insert("contentLocation".into(), Value::Null);
        }
    }
    o.insert("id".into(), json!(a.id));
    o.insert("lastModifiedDateTime".into(), json!(ts(a.modified)));
    o.insert("name".into(), json!(a.name));
    o.insert("contentType".into(), json!(a.content_type));
    o.insert("size".into(), json!(a.size()));
    o.insert("isInline".into(), json!(a.is_inline));
    Value::Object(o)
}
