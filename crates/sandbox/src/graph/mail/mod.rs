//! Mail: `mailFolders` (+ `childFolders`, delta), `messages` (+ delta, move, copy, `$value`,
//! attachments), `sendMail`, and `outlook/masterCategories`.
//!
//! This file routes a request and holds the mailbox, folder and message lookups the parts
//! share. The parts, one concern each: `folders` (mail folders: list, get, create, PATCH,
//! DELETE, delta), `render` (a message and an attachment as Graph's JSON), `messages` (list,
//! delta, and the requests on one message: get, DELETE, `$value`, attachments), `writes` (what a
//! client may set on a message, and the requests that set it: create, PATCH, move, copy, an
//! attachment added), `send` (`sendMail`, delivered to the tenant's recipients), `categories`
//! (`outlook/masterCategories`) and `translate` (`translateExchangeIds`).

mod categories;
mod folders;
mod messages;
mod render;
mod send;
mod translate;
mod writes;

pub(crate) use categories::route_categories;
pub(crate) use render::{render_attachment, render_message};
pub(crate) use translate::translate_ids;

use folders::{
    create_folder, delete_folder, folders_delta, get_folder, list_folders, patch_folder,
};
use messages::{list_messages, message_op, messages_delta};
use send::send_mail;
use writes::create_message;

use super::{Ctx, Resp};
use crate::error::{GResult, GraphError};
use crate::store::{Mailbox, Tenant};
use axum::http::Method;

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
