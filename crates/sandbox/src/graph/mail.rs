//! Mail: `mailFolders` (+ `childFolders`, delta), `messages` (+ delta, move, copy, `$value`,
//! attachments), `sendMail`, and `outlook/masterCategories`.

use super::{Ctx, Resp, View, ext_props, merge_ext};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::store::{
    Attachment, AttachmentContent, Category, MailFolder, Mailbox, Message, Tenant, ts,
};
use axum::http::{Method, StatusCode};
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

pub(crate) fn route(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let seg = |i: usize| ctx.req.segs[i].clone();
    // `mailFolders/{a}/childFolders/{b}/…` addresses folder b
    let mut s: Vec<&str> = s.to_vec();
    let mut orig: Vec<String> = ctx.req.segs.clone();
    while s.len() >= 6 && s[2] == "mailfolders" && s[4] == "childfolders" {
        s.drain(3..5);
        orig.drain(3..5);
    }
    let o = |i: usize| orig[i].clone();
    let m = ctx.req.method.clone();
    match (&s[2..], m) {
        (["sendmail"], Method::POST) => send_mail(ctx, ui),
        (["mailfolders"], Method::GET) => list_folders(ctx, ui, None),
        (["mailfolders"], Method::POST) => create_folder(ctx, ui, "msgfolderroot"),
        (["mailfolders", "delta"], Method::GET) => folders_delta(ctx, ui),
        (["mailfolders", _], Method::GET) => get_folder(ctx, ui, &o(3)),
        (["mailfolders", _], Method::PATCH) => patch_folder(ctx, ui, &o(3)),
        (["mailfolders", _], Method::DELETE) => delete_folder(ctx, ui, &o(3)),
        (["mailfolders", _, "childfolders"], Method::GET) => list_folders(ctx, ui, Some(o(3))),
        (["mailfolders", _, "childfolders"], Method::POST) => create_folder(ctx, ui, &o(3)),
        (["mailfolders", _, "messages"], Method::GET) => list_messages(ctx, ui, Some(o(3))),
        (["mailfolders", _, "messages"], Method::POST) => create_message(ctx, ui, &o(3)),
        (["mailfolders", _, "messages", "delta"], Method::GET) => messages_delta(ctx, ui, &o(3)),
        (["mailfolders", _, "messages", _, rest @ ..], m) => message_op(ctx, ui, &o(5), rest, m),
        (["messages"], Method::GET) => list_messages(ctx, ui, None),
        (["messages"], Method::POST) => create_message(ctx, ui, "drafts"),
        (["messages", _, rest @ ..], m) => message_op(ctx, ui, &seg(3), rest, m),
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

fn mbx(t: &Tenant, ui: usize) -> GResult<&Mailbox> {
    t.users[ui]
        .mailbox
        .as_ref()
        .ok_or_else(GraphError::mailbox_not_enabled)
}

fn mbx_mut(t: &mut Tenant, ui: usize) -> GResult<&mut Mailbox> {
    t.users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)
}

fn folder_id(mb: &Mailbox, key: &str) -> GResult<String> {
    mb.folder_index(key)
        .map(|i| mb.folders[i].id.clone())
        .ok_or_else(|| GraphError::folder_not_found(key))
}

fn message_imm(mb: &Mailbox, id: &str) -> GResult<String> {
    let imm = mb.resolve(id);
    if mb.messages.contains_key(&imm) {
        Ok(imm)
    } else if id.len() < 20 || !id.is_ascii() {
        Err(GraphError::malformed_id())
    } else {
        Err(GraphError::item_not_found())
    }
}

// ---------- folders ----------

pub(crate) fn render_folder(mb: &Mailbox, f: &MailFolder, view: &View) -> Value {
    let (total, unread) = mb.folder_counts(&f.id);
    let children = mb
        .folders
        .iter()
        .filter(|c| c.parent.as_deref() == Some(f.id.as_str()))
        .count();
    let mut m = Map::new();
    m.insert("id".into(), json!(f.id));
    m.insert("displayName".into(), json!(f.display_name));
    m.insert("parentFolderId".into(), json!(f.parent));
    m.insert("childFolderCount".into(), json!(children));
    m.insert("unreadItemCount".into(), json!(unread));
    m.insert("totalItemCount".into(), json!(total));
    m.insert("sizeInBytes".into(), json!(total * 4096));
    m.insert("isHidden".into(), json!(f.hidden));
    ext_props(view, &f.ext, &mut m);
    Value::Object(m)
}

fn list_folders(ctx: &mut Ctx<'_>, ui: usize, parent: Option<String>) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let parent_id = match parent {
        Some(p) => folder_id(mb, &p)?,
        None => folder_id(mb, "msgfolderroot")?,
    };
    let hidden = ctx
        .req
        .q("includeHiddenFolders")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let view = ctx.req.view();
    let items: Vec<Value> = mb
        .folders
        .iter()
        .filter(|f| f.parent.as_deref() == Some(parent_id.as_str()) && (hidden || !f.hidden))
        .map(|f| render_folder(mb, f, &view))
        .collect();
    ctx.page("Collection(microsoft.graph.mailFolder)", items, 10, 1000)
}

fn get_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let i = mb
        .folder_index(key)
        .ok_or_else(|| GraphError::folder_not_found(key))?;
    let view = ctx.req.view();
    let v = view.apply_select(render_folder(mb, &mb.folders[i], &view));
    Ok(Resp::ok(v))
}

fn create_folder(ctx: &mut Ctx<'_>, ui: usize, parent: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidRequest",
                "The displayName property is required.",
            )
        })?
        .to_owned();
    let hidden = body
        .get("isHidden")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let parent_id = folder_id(mb, parent)?;
    if mb.folders.iter().any(|f| {
        f.parent.as_deref() == Some(parent_id.as_str())
            && f.display_name.eq_ignore_ascii_case(&name)
    }) {
        return Err(GraphError::conflict(
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        ));
    }
    let id = mb.add_folder(rng, seq, &parent_id, &name);
    let mut ext = Vec::new();
    merge_ext(&body, &mut ext)?;
    if let Some(f) = mb.folders.iter_mut().find(|f| f.id == id) {
        f.hidden = hidden;
        f.ext = ext;
    }
    let view = ctx.req.view();
    let mb = mbx(ctx.t, ui)?;
    let f = mb
        .folders
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(GraphError::item_not_found)?;
    Ok(Resp::created(render_folder(mb, f, &view)))
}

fn patch_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let seq = ctx.next_seq();
    let mb = mbx_mut(ctx.t, ui)?;
    let i = mb
        .folder_index(key)
        .ok_or_else(|| GraphError::folder_not_found(key))?;
    if mb.folders[i].well_known.is_some() && body.contains_key("displayName") {
        return Err(GraphError::bad_request(
            "ErrorCannotRenameDefaultFolder",
            "Cannot rename a default folder.",
        ));
    }
    if let Some(n) = body.get("displayName").and_then(Value::as_str) {
        mb.folders[i].display_name = n.to_owned();
    }
    let mut ext = mb.folders[i].ext.clone();
    merge_ext(&body, &mut ext)?;
    mb.folders[i].ext = ext;
    mb.folders[i].seq = seq;
    let view = ctx.req.view();
    let mb = mbx(ctx.t, ui)?;
    Ok(Resp::ok(render_folder(mb, &mb.folders[i], &view)))
}

fn delete_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
    let mb = mbx_mut(ctx.t, ui)?;
    let i = mb
        .folder_index(key)
        .ok_or_else(|| GraphError::folder_not_found(key))?;
    if mb.folders[i].well_known.is_some() {
        return Err(GraphError::bad_request(
            "ErrorDeleteDistinguishedFolder",
            "Distinguished folders cannot be deleted.",
        ));
    }
    let id = mb.folders[i].id.clone();
    mb.remove_folder_tree(&id);
    Ok(Resp::no_content())
}

fn folders_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        mb.folders
            .iter()
            .filter(|f| f.well_known != Some("msgfolderroot") && !f.hidden)
            .map(|f| {
                // counts are part of the folder's state
                let (total, unread) = mb.folder_counts(&f.id);
                let fp = f.seq.wrapping_mul(1_000_003) ^ ((total as u64) << 20) ^ unread as u64;
                Listed {
                    key: f.id.clone(),
                    imm: f.id.clone(),
                    rest: f.id.clone(),
                    fp,
                }
            })
            .collect()
    };
    let render = move |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        let mb = t.users[ui].mailbox.as_ref()?;
        mb.folders
            .iter()
            .find(|f| f.id == l.key)
            .map(|f| render_folder(mb, f, view))
    };
    let scope = format!("{}:folders", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.mailFolder",
            default_page: 10,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

// ---------- messages ----------

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

fn list_messages(ctx: &mut Ctx<'_>, ui: usize, folder: Option<String>) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let folder = match folder {
        Some(f) => Some(folder_id(mb, &f)?),
        None => None,
    };
    let view = ctx.req.view();
    let filter = ctx.req.filter()?;
    let mut msgs: Vec<&Message> = mb
        .messages
        .values()
        .filter(|m| folder.as_ref().is_none_or(|f| &m.folder == f))
        .collect();
    // default order: receivedDateTime desc
    let key = |m: &Message| {
        m.props
            .get("receivedDateTime")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    msgs.sort_by(|a, b| key(b).cmp(&key(a)).then(a.imm.cmp(&b.imm)));
    if let Some(ob) = ctx.req.q("orderby")
        && ob.to_ascii_lowercase().contains("asc")
    {
        msgs.reverse();
    }
    let filter_view = View {
        expand: Some("singleValueExtendedProperties".into()),
        ..view.clone()
    };
    let items: Vec<Value> = msgs
        .into_iter()
        .filter(|m| {
            filter
                .as_ref()
                .is_none_or(|f| crate::filter::eval(f, &render_message(m, &filter_view)))
        })
        .map(|m| render_message(m, &view))
        .collect();
    // the filter was applied already; page without re-filtering
    let mut req = ctx.req.clone();
    req.query
        .retain(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("filter"));
    let links_query = ctx.req.query.clone();
    let sub = Ctx {
        shared: ctx.shared,
        t: ctx.t,
        req: &req,
    };
    let mut resp = sub.page("Collection(microsoft.graph.message)", items, 10, 1000)?;
    // keep the $filter in nextLinks
    if let super::RespBody::Json(v) = &mut resp.body
        && let Some(next) = v
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned)
    {
        let skip = next.rsplit("$skip=").next().unwrap_or("0").to_owned();
        let mut q: Vec<(String, String)> = links_query
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip"))
            .collect();
        if !q
            .iter()
            .any(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case("top"))
        {
            q.push((
                "$top".into(),
                ctx.req
                    .top()?
                    .or(ctx.req.prefer.maxpagesize)
                    .unwrap_or(10)
                    .min(1000)
                    .to_string(),
            ));
        }
        q.push(("$skip".into(), skip));
        v["@odata.nextLink"] = json!(ctx.link(&ctx.req.path, &q));
    }
    Ok(resp)
}

fn messages_delta(ctx: &mut Ctx<'_>, ui: usize, folder: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let fid = folder_id(mb, folder)?;
    let filter = ctx.req.filter()?;
    let list_fid = fid.clone();
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        let mut v: Vec<Listed> = mb
            .messages
            .values()
            .filter(|m| m.folder == list_fid)
            .filter(|m| {
                filter
                    .as_ref()
                    .is_none_or(|f| crate::filter::eval(f, &Value::Object(m.props.clone())))
            })
            .map(|m| Listed {
                key: m.imm.clone(),
                imm: m.imm.clone(),
                rest: m.rest.clone(),
                fp: m.seq,
            })
            .collect();
        v.sort_by(|a, b| a.fp.cmp(&b.fp).then(a.key.cmp(&b.key)));
        v
    };
    let render_fid = fid.clone();
    let render = move |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        let mb = t.users[ui].mailbox.as_ref()?;
        mb.messages
            .get(&l.key)
            .filter(|m| m.folder == render_fid)
            .map(|m| render_message(m, view))
    };
    let scope = format!("{}:messages:{fid}", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.message",
            default_page: 10,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

fn message_op(ctx: &mut Ctx<'_>, ui: usize, id: &str, rest: &[&str], m: Method) -> GResult<Resp> {
    let imm = message_imm(mbx(ctx.t, ui)?, id)?;
    match (rest, m) {
        ([], Method::GET) => {
            let view = ctx.req.view();
            let mb = mbx(ctx.t, ui)?;
            let msg = mb
                .messages
                .get(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            Ok(Resp::ok(view.apply_select(render_message(msg, &view))))
        }
        ([], Method::PATCH) => patch_message(ctx, ui, &imm),
        ([], Method::DELETE) => {
            let seq = ctx.next_seq();
            let Tenant { rng, users, .. } = &mut *ctx.t;
            let mb = users[ui]
                .mailbox
                .as_mut()
                .ok_or_else(GraphError::mailbox_not_enabled)?;
            mb.delete_message(rng, seq, &imm);
            Ok(Resp::no_content())
        }
        (["$value"], Method::GET) => {
            let mb = mbx(ctx.t, ui)?;
            let msg = mb
                .messages
                .get(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            let sent = mb.folder_id("sentitems").is_some_and(|s| s == msg.folder)
                || mb.folder_id("drafts").is_some_and(|s| s == msg.folder);
            Ok(Resp::raw(
                "text/plain",
                crate::mime::message_mime(&msg.props, &msg.attachments, sent),
            ))
        }
        (["move"], Method::POST) => move_or_copy(ctx, ui, &imm, false),
        (["copy"], Method::POST) => move_or_copy(ctx, ui, &imm, true),
        (["attachments"], Method::GET) => {
            let view = ctx.req.view();
            let mb = mbx(ctx.t, ui)?;
            let msg = mb
                .messages
                .get(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            // As in Graph, `$select` without `contentBytes` lists metadata only: a client
            // can look at sizes before it downloads anything.
            let with_content = view
                .select
                .as_ref()
                .is_none_or(|sel| sel.iter().any(|s| s.eq_ignore_ascii_case("contentBytes")));
            let items: Vec<Value> = msg
                .attachments
                .iter()
                .map(|a| view.apply_select(render_attachment(a, with_content)))
                .collect();
            ctx.page("Collection(microsoft.graph.attachment)", items, 100, 1000)
        }
        (["attachments"], Method::POST) => add_attachment(ctx, ui, &imm),
        (["attachments", _], Method::GET) => {
            let view = ctx.req.view();
            let mb = mbx(ctx.t, ui)?;
            let msg = mb
                .messages
                .get(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            let aid = ctx.req.segs[rest_offset(ctx) + 1].clone();
            let a = msg
                .attachments
                .iter()
                .find(|a| a.id == aid)
                .ok_or_else(GraphError::item_not_found)?;
            let mut v = render_attachment(a, true);
            if let (AttachmentContent::Item(item), true) = (
                &a.content,
                view.expands("microsoft.graph.itemattachment/item") || view.expands("item"),
            ) {
                let mut inner = (**item).clone();
                inner.insert("@odata.type".into(), json!("#microsoft.graph.message"));
                inner.insert("id".into(), json!(""));
                v["item"] = Value::Object(inner);
            }
            Ok(Resp::ok(view.apply_select(v)))
        }
        (["attachments", _, "$value"], Method::GET) => {
            let mb = mbx(ctx.t, ui)?;
            let msg = mb
                .messages
                .get(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            let aid = ctx.req.segs[rest_offset(ctx) + 1].clone();
            let a = msg
                .attachments
                .iter()
                .find(|a| a.id == aid)
                .ok_or_else(GraphError::item_not_found)?;
            match &a.content {
                AttachmentContent::Item(item) => Ok(Resp::raw(
                    "text/plain",
                    crate::mime::message_mime(item, &[], false),
                )),
                other => Ok(Resp::raw(
                    &a.content_type,
                    other.file_bytes().unwrap_or_default(),
                )),
            }
        }
        (["attachments", _], Method::DELETE) => {
            let aid = ctx.req.segs[rest_offset(ctx) + 1].clone();
            let seq = ctx.next_seq();
            let mb = mbx_mut(ctx.t, ui)?;
            let msg = mb
                .messages
                .get_mut(&imm)
                .ok_or_else(GraphError::item_not_found)?;
            let before = msg.attachments.len();
            msg.attachments.retain(|a| a.id != aid);
            if msg.attachments.len() == before {
                return Err(GraphError::item_not_found());
            }
            msg.seq = seq;
            Ok(Resp::no_content())
        }
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

/// Index of the segment after the message id (`…/messages/{id}/<here>`).
fn rest_offset(ctx: &Ctx<'_>) -> usize {
    ctx.req
        .segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("attachments"))
        .unwrap_or(ctx.req.segs.len())
}

fn apply_writable(
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

fn patch_message(ctx: &mut Ctx<'_>, ui: usize, imm: &str) -> GResult<Resp> {
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

fn move_or_copy(ctx: &mut Ctx<'_>, ui: usize, imm: &str, copy: bool) -> GResult<Resp> {
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

fn parse_attachments(
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

fn add_attachment(ctx: &mut Ctx<'_>, ui: usize, imm: &str) -> GResult<Resp> {
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

fn create_message(ctx: &mut Ctx<'_>, ui: usize, folder: &str) -> GResult<Resp> {
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

fn send_mail(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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

// ---------- master categories ----------

fn render_category(c: &Category) -> Value {
    json!({"id": c.id, "displayName": c.display_name, "color": c.color})
}

const COLORS: &[&str] = &[
    "none", "preset0", "preset1", "preset2", "preset3", "preset4", "preset5", "preset6", "preset7",
    "preset8", "preset9", "preset10", "preset11", "preset12", "preset13", "preset14", "preset15",
    "preset16", "preset17", "preset18", "preset19", "preset20", "preset21", "preset22", "preset23",
    "preset24",
];

fn color(body: &Map<String, Value>) -> GResult<Option<String>> {
    match body.get("color").and_then(Value::as_str) {
        None => Ok(None),
        Some(c) => COLORS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(c))
            .map(|k| Some((*k).to_owned()))
            .ok_or_else(|| {
                GraphError::bad_request(
                    "ErrorInvalidProperty",
                    format!("'{c}' is not a valid categoryColor."),
                )
            }),
    }
}

pub(crate) fn route_categories(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let m = ctx.req.method.clone();
    match (&s[2..], m) {
        (["outlook", "mastercategories"], Method::GET) => {
            let items: Vec<Value> = mbx(ctx.t, ui)?
                .categories
                .iter()
                .map(render_category)
                .collect();
            ctx.page(
                "Collection(microsoft.graph.outlookCategory)",
                items,
                1000,
                1000,
            )
        }
        (["outlook", "mastercategories"], Method::POST) => {
            let body = ctx.req.json()?;
            let name = body
                .get("displayName")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| {
                    GraphError::bad_request("ErrorInvalidProperty", "displayName is required.")
                })?
                .to_owned();
            let col = color(&body)?.unwrap_or_else(|| "none".to_owned());
            let seq = ctx.next_seq();
            let Tenant { rng, users, .. } = &mut *ctx.t;
            let mb = users[ui]
                .mailbox
                .as_mut()
                .ok_or_else(GraphError::mailbox_not_enabled)?;
            if mb.category(&name).is_some() {
                return Err(GraphError::conflict(
                    "ErrorDuplicateCategory",
                    "A category with the same name already exists.",
                ));
            }
            let c = Category {
                id: ids::guid(rng),
                display_name: name,
                color: col,
                seq,
            };
            let v = render_category(&c);
            mb.categories.push(c);
            Ok(Resp::created(v))
        }
        (["outlook", "mastercategories", _], m) => {
            let id = ctx.req.segs[4].clone();
            let seq = ctx.next_seq();
            let mb = mbx_mut(ctx.t, ui)?;
            let i = mb
                .categories
                .iter()
                .position(|c| c.id.eq_ignore_ascii_case(&id))
                .ok_or_else(GraphError::item_not_found)?;
            match m {
                Method::GET => Ok(Resp::ok(render_category(&mb.categories[i]))),
                Method::DELETE => {
                    mb.categories.remove(i);
                    Ok(Resp::no_content())
                }
                Method::PATCH => {
                    let body = ctx.req.json()?;
                    if body
                        .get("displayName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n != mb.categories[i].display_name)
                    {
                        return Err(GraphError::bad_request(
                            "ErrorInvalidProperty",
                            "The displayName of a category cannot be changed.",
                        ));
                    }
                    if let Some(c) = color(&body)? {
                        mb.categories[i].color = c;
                    }
                    mb.categories[i].seq = seq;
                    Ok(Resp::ok(render_category(&mb.categories[i])))
                }
                _ => Err(GraphError::method_not_allowed()),
            }
        }
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

/// `POST /users/{u}/translateExchangeIds`: converts ids of messages, events and contacts
/// between `restId`, `restImmutableEntryId`, `ewsId` and `entryId` (up to 1,000 per call; all of
/// one `sourceIdType`, which when absent is taken as a REST id of either kind). An EWS id is the
/// REST id with `/` and `+` (see `ids::ews_id`), so it goes stale when the item moves; an id
/// the mailbox does not know gets `errorDetails`.
pub(crate) fn translate_ids(ctx: &mut Ctx<'_>) -> GResult<Resp> {
    if ctx.req.method != Method::POST {
        return Err(GraphError::method_not_allowed());
    }
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let body = ctx.req.json()?;
    let inputs: Vec<String> = body
        .get("inputIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .ok_or_else(|| GraphError::bad_request("ErrorInvalidRequest", "inputIds is required."))?;
    if inputs.len() > 1000 {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "At most 1000 ids can be translated per request.",
        ));
    }
    const FORMATS: &[&str] = &["restId", "restImmutableEntryId", "ewsId", "entryId"];
    let format = |key: &str, default: Option<&str>| -> GResult<String> {
        let v = body
            .get(key)
            .and_then(Value::as_str)
            .or(default)
            .unwrap_or_default();
        if FORMATS.contains(&v) {
            Ok(v.to_owned())
        } else {
            Err(GraphError::bad_request(
                "ErrorInvalidRequest",
                format!(
                    "{key} '{v}' is not supported by the sandbox (restId, restImmutableEntryId, ewsId, entryId)."
                ),
            ))
        }
    };
    let target = format("targetIdType", None)?;
    let source = format("sourceIdType", Some("restId"))?;
    let mb = mbx(ctx.t, ui)?;
    let value: Vec<Value> = inputs
        .iter()
        .map(|id| {
            let imm = match source.as_str() {
                "ewsId" => Some(mb.resolve(&ids::rest_from_ews(id))),
                "entryId" => ids::imm_from_entry_id(id),
                _ => Some(mb.resolve(id)),
            };
            let rest = imm.as_ref().and_then(|imm| {
                mb.messages
                    .get(imm)
                    .map(|m| m.rest.clone())
                    .or_else(|| mb.events.get(imm).map(|e| e.rest.clone()))
                    .or_else(|| mb.contacts.get(imm).map(|c| c.rest.clone()))
            });
            // An EWS id names the item only while its REST id is current.
            let stale = source == "ewsId" && rest.as_deref() != Some(ids::rest_from_ews(id).as_str());
            match (imm, rest) {
                (Some(imm), Some(rest)) if !stale => {
                    let out = match target.as_str() {
                        "restImmutableEntryId" => imm,
                        "ewsId" => ids::ews_id(&rest),
                        "entryId" => ids::entry_id(&imm),
                        _ => rest,
                    };
                    json!({"sourceId": id, "targetId": out})
                }
                _ => json!({"sourceId": id, "errorDetails": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}),
            }
        })
        .collect();
    Ok(Resp::ok(
        json!({"@odata.context": ctx.context("Collection(microsoft.graph.convertIdResult)"), "value": value}),
    ))
}
