//! Mail folders: `mailFolders` and `childFolders` (list, get, create, PATCH, DELETE with the
//! folder's subtree) and `mailFolders/delta`, with a folder's item counts. Apart from the
//! messages because folders have their own endpoints, rules (well-known folders) and delta.

use super::{folder_id, mbx, mbx_mut};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, View, ext_props, merge_ext};
use crate::store::{MailFolder, Mailbox, Tenant};
use serde_json::{Map, Value, json};

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

pub(super) fn list_folders(ctx: &mut Ctx<'_>, ui: usize, parent: Option<String>) -> GResult<Resp> {
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

pub(super) fn get_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let i = mb
        .folder_index(key)
        .ok_or_else(|| GraphError::folder_not_found(key))?;
    let view = ctx.req.view();
    let v = view.apply_select(render_folder(mb, &mb.folders[i], &view));
    Ok(Resp::ok(v))
}

pub(super) fn create_folder(ctx: &mut Ctx<'_>, ui: usize, parent: &str) -> GResult<Resp> {
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

pub(super) fn patch_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
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

pub(super) fn delete_folder(ctx: &mut Ctx<'_>, ui: usize, key: &str) -> GResult<Resp> {
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

pub(super) fn folders_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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
