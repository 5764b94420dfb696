//! Reading messages: `messages` of the mailbox or a folder (with `$filter` and `$orderby`, the
//! filter kept in next links), `messages/delta` of a folder, and every request on one message:
//! get, DELETE, `$value` (MIME), attachments (list, get, `$value`, DELETE), with PATCH, move,
//! copy and an added attachment passed to `writes`.

use super::writes::{add_attachment, move_or_copy, patch_message};
use super::{folder_id, mbx, mbx_mut, message_imm, render_attachment, render_message};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, View};
use crate::store::{AttachmentContent, Message, Tenant};
use axum::http::Method;
use serde_json::{Value, json};

pub(super) fn list_messages(ctx: &mut Ctx<'_>, ui: usize, folder: Option<String>) -> GResult<Resp> {
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
    if let crate::graph::RespBody::Json(v) = &mut resp.body
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

pub(super) fn messages_delta(ctx: &mut Ctx<'_>, ui: usize, folder: &str) -> GResult<Resp> {
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

pub(super) fn message_op(
    ctx: &mut Ctx<'_>,
    ui: usize,
    id: &str,
    rest: &[&str],
    m: Method,
) -> GResult<Resp> {
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
