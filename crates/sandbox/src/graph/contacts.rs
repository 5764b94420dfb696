//! Personal contacts and contact folders (+ delta), CRUD.

use super::{Ctx, Resp, View, ext_props, merge_ext};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::store::{Contact, ContactFolder, Mailbox, Tenant, ts};
use axum::http::Method;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

const PROPS: &[&str] = &[
    "assistantName",
    "birthday",
    "businessAddress",
    "businessHomePage",
    "businessPhones",
    "categories",
    "children",
    "companyName",
    "department",
    "displayName",
    "emailAddresses",
    "fileAs",
    "generation",
    "givenName",
    "homeAddress",
    "homePhones",
    "imAddresses",
    "initials",
    "jobTitle",
    "manager",
    "middleName",
    "mobilePhone",
    "nickName",
    "officeLocation",
    "otherAddress",
    "personalNotes",
    "profession",
    "spouseName",
    "surname",
    "title",
    "yomiCompanyName",
    "yomiGivenName",
    "yomiSurname",
];

pub(crate) fn route(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let mut s: Vec<&str> = s.to_vec();
    let mut o: Vec<String> = ctx.req.segs.clone();
    while s.len() >= 6 && s[2] == "contactfolders" && s[4] == "childfolders" {
        s.drain(3..5);
        o.drain(3..5);
    }
    let m = ctx.req.method.clone();
    match (&s[2..], m) {
        (["contactfolders"], Method::GET) => list_folders(ctx, ui, None),
        (["contactfolders"], Method::POST) => create_folder(ctx, ui, None),
        (["contactfolders", "delta"], Method::GET) => folders_delta(ctx, ui),
        (["contactfolders", _], m) => folder_op(ctx, ui, &o[3], m),
        (["contactfolders", _, "childfolders"], Method::GET) => {
            list_folders(ctx, ui, Some(o[3].clone()))
        }
        (["contactfolders", _, "childfolders"], Method::POST) => {
            create_folder(ctx, ui, Some(o[3].clone()))
        }
        (["contactfolders", _, "contacts"], Method::GET) => list(ctx, ui, Some(o[3].clone())),
        (["contactfolders", _, "contacts"], Method::POST) => create(ctx, ui, Some(o[3].clone())),
        (["contactfolders", _, "contacts", "delta"], Method::GET) => {
            contacts_delta(ctx, ui, Some(o[3].clone()))
        }
        (["contactfolders", _, "contacts", _], m) => contact_op(ctx, ui, &o[5], m),
        (["contacts"], Method::GET) => list(ctx, ui, None),
        (["contacts"], Method::POST) => create(ctx, ui, None),
        (["contacts", "delta"], Method::GET) => contacts_delta(ctx, ui, None),
        (["contacts", _], m) => contact_op(ctx, ui, &o[3], m),
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

fn default_folder(mb: &Mailbox) -> GResult<String> {
    mb.contact_folders
        .iter()
        .find(|f| f.is_default)
        .map(|f| f.id.clone())
        .ok_or_else(GraphError::item_not_found)
}

fn resolve_folder(mb: &Mailbox, key: Option<&str>) -> GResult<String> {
    match key {
        None => default_folder(mb),
        Some(k) if k.eq_ignore_ascii_case("contacts") => default_folder(mb),
        Some(k) => mb
            .contact_folders
            .iter()
            .find(|f| f.id == k)
            .map(|f| f.id.clone())
            .ok_or_else(GraphError::item_not_found),
    }
}

fn render_folder(f: &ContactFolder) -> Value {
    json!({"id": f.id, "displayName": f.display_name, "parentFolderId": f.parent})
}

fn list_folders(ctx: &mut Ctx<'_>, ui: usize, parent: Option<String>) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let parent = resolve_folder(mb, parent.as_deref())?;
    let items: Vec<Value> = mb
        .contact_folders
        .iter()
        .filter(|f| f.parent.as_deref() == Some(parent.as_str()))
        .map(render_folder)
        .collect();
    ctx.page("Collection(microsoft.graph.contactFolder)", items, 10, 1000)
}

fn create_folder(ctx: &mut Ctx<'_>, ui: usize, parent: Option<String>) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidRequest",
                "The displayName property is required.",
            )
        })?
        .to_owned();
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let parent = resolve_folder(mb, parent.as_deref())?;
    if mb.contact_folders.iter().any(|f| {
        f.parent.as_deref() == Some(parent.as_str()) && f.display_name.eq_ignore_ascii_case(&name)
    }) {
        return Err(GraphError::conflict(
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        ));
    }
    let f = ContactFolder {
        id: ids::folder_id(rng),
        parent: Some(parent),
        display_name: name,
        is_default: false,
        seq,
    };
    let v = render_folder(&f);
    mb.contact_folders.push(f);
    Ok(Resp::created(v))
}

fn folder_op(ctx: &mut Ctx<'_>, ui: usize, key: &str, m: Method) -> GResult<Resp> {
    let seq = ctx.next_seq();
    let body = if m == Method::PATCH {
        Some(ctx.req.json()?)
    } else {
        None
    };
    let mb = mbx_mut(ctx.t, ui)?;
    let id = resolve_folder(mb, Some(key))?;
    let i = mb
        .contact_folders
        .iter()
        .position(|f| f.id == id)
        .ok_or_else(GraphError::item_not_found)?;
    match m {
        Method::GET => Ok(Resp::ok(render_folder(&mb.contact_folders[i]))),
        Method::PATCH => {
            if let Some(n) = body
                .as_ref()
                .and_then(|b| b.get("displayName"))
                .and_then(Value::as_str)
            {
                mb.contact_folders[i].display_name = n.to_owned();
            }
            mb.contact_folders[i].seq = seq;
            Ok(Resp::ok(render_folder(&mb.contact_folders[i])))
        }
        Method::DELETE => {
            if mb.contact_folders[i].is_default {
                return Err(GraphError::bad_request(
                    "ErrorDeleteDistinguishedFolder",
                    "Distinguished folders cannot be deleted.",
                ));
            }
            let mut doomed = vec![id];
            let mut k = 0;
            while k < doomed.len() {
                let cur = doomed[k].clone();
                doomed.extend(
                    mb.contact_folders
                        .iter()
                        .filter(|f| f.parent.as_deref() == Some(cur.as_str()))
                        .map(|f| f.id.clone()),
                );
                k += 1;
            }
            mb.contact_folders.retain(|f| !doomed.contains(&f.id));
            let gone: Vec<(String, String)> = mb
                .contacts
                .values()
                .filter(|c| doomed.contains(&c.folder))
                .map(|c| (c.imm.clone(), c.rest.clone()))
                .collect();
            for (imm, rest) in gone {
                mb.contacts.remove(&imm);
                mb.rest_index.remove(&rest);
            }
            Ok(Resp::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn folders_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        mb.contact_folders
            .iter()
            .filter(|f| !f.is_default)
            .map(|f| Listed {
                key: f.id.clone(),
                imm: f.id.clone(),
                rest: f.id.clone(),
                fp: f.seq,
            })
            .collect()
    };
    let render = move |t: &Tenant, l: &Listed, _v: &View| -> Option<Value> {
        t.users[ui]
            .mailbox
            .as_ref()?
            .contact_folders
            .iter()
            .find(|f| f.id == l.key)
            .map(render_folder)
    };
    let scope = format!("{}:contactfolders", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.contactFolder",
            default_page: 10,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

pub(crate) fn render(c: &Contact, view: &View) -> Value {
    let mut o = Map::new();
    let ck = ids::change_key(c.seq);
    o.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
    o.insert("id".into(), json!(view.id(&c.imm, &c.rest)));
    o.insert("createdDateTime".into(), json!(ts(c.created)));
    o.insert("lastModifiedDateTime".into(), json!(ts(c.modified)));
    o.insert("changeKey".into(), json!(ck));
    o.insert("parentFolderId".into(), json!(c.folder));
    for p in PROPS {
        let default = match *p {
            "businessPhones" | "homePhones" | "imAddresses" | "children" | "categories"
            | "emailAddresses" => json!([]),
            "businessAddress" | "homeAddress" | "otherAddress" => json!({}),
            _ => Value::Null,
        };
        o.insert((*p).to_owned(), c.props.get(*p).cloned().unwrap_or(default));
    }
    ext_props(view, &c.ext, &mut o);
    Value::Object(o)
}

fn list(ctx: &mut Ctx<'_>, ui: usize, folder: Option<String>) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let fid = resolve_folder(mb, folder.as_deref())?;
    let view = ctx.req.view();
    let fview = View {
        expand: Some("singleValueExtendedProperties".into()),
        select: None,
        ..view.clone()
    };
    let filter = ctx.req.filter()?;
    let mut v: Vec<&Contact> = mb.contacts.values().filter(|c| c.folder == fid).collect();
    v.sort_by(|a, b| a.created.cmp(&b.created).then(a.imm.cmp(&b.imm)));
    let items: Vec<Value> = v
        .into_iter()
        .filter(|c| {
            filter
                .as_ref()
                .is_none_or(|f| crate::filter::eval(f, &render(c, &fview)))
        })
        .map(|c| render(c, &view))
        .collect();
    let mut req = ctx.req.clone();
    req.query
        .retain(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("filter"));
    let sub = Ctx {
        shared: ctx.shared,
        t: ctx.t,
        req: &req,
    };
    sub.page("Collection(microsoft.graph.contact)", items, 10, 1000)
}

fn apply(props: &mut Map<String, Value>, body: &Map<String, Value>) -> GResult<()> {
    for (k, v) in body {
        if k.starts_with('@')
            || k == "id"
            || k == "singleValueExtendedProperties"
            || k == "parentFolderId"
            || k == "changeKey"
        {
            continue;
        }
        let Some(canon) = PROPS.iter().find(|p| p.eq_ignore_ascii_case(k)) else {
            return Err(GraphError::bad_request(
                "RequestBodyRead",
                format!("The property '{k}' does not exist on type 'microsoft.graph.contact'."),
            ));
        };
        if *canon == "emailAddresses" && v.as_array().is_some_and(|a| a.len() > 3) {
            return Err(GraphError::bad_request(
                "ErrorInvalidProperty",
                "A contact can have at most 3 email addresses.",
            ));
        }
        props.insert((*canon).to_owned(), v.clone());
    }
    if !props.contains_key("displayName") || props.get("displayName").is_some_and(Value::is_null) {
        let g = props
            .get("givenName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let s = props
            .get("surname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        props.insert("displayName".into(), json!(format!("{g} {s}").trim()));
    }
    Ok(())
}

fn create(ctx: &mut Ctx<'_>, ui: usize, folder: Option<String>) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let seq = ctx.next_seq();
    let view = ctx.req.view();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let fid = resolve_folder(mb, folder.as_deref())?;
    let mut props = Map::new();
    apply(&mut props, &body)?;
    let mut ext = Vec::new();
    merge_ext(&body, &mut ext)?;
    let c = insert_contact(mb, rng, fid, seq, props, ext);
    Ok(Resp::created(render(c, &view)))
}

/// A new contact in `folder` of the mailbox, indexed by both its ids.
fn insert_contact<'m>(
    mb: &'m mut Mailbox,
    rng: &mut rand_chacha::ChaCha20Rng,
    folder: String,
    seq: u64,
    props: Map<String, Value>,
    ext: Vec<(String, String)>,
) -> &'m Contact {
    let now = Timestamp::now();
    let c = Contact {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        folder,
        seq,
        created: now,
        modified: now,
        props,
        ext,
    };
    let imm = c.imm.clone();
    mb.rest_index.insert(c.rest.clone(), imm.clone());
    mb.contacts.entry(imm).insert_entry(c).into_mut()
}

fn contact_op(ctx: &mut Ctx<'_>, ui: usize, id: &str, m: Method) -> GResult<Resp> {
    let view = ctx.req.view();
    let body = if m == Method::PATCH {
        Some(ctx.req.json()?)
    } else {
        None
    };
    let seq = ctx.next_seq();
    let mb = mbx_mut(ctx.t, ui)?;
    let imm = mb.resolve(id);
    let c = mb
        .contacts
        .get_mut(&imm)
        .ok_or_else(GraphError::item_not_found)?;
    match m {
        Method::GET => Ok(Resp::ok(view.apply_select(render(c, &view)))),
        Method::PATCH => {
            ctx.req.check_etag(c.seq)?;
            let body = body.unwrap_or_default();
            let mut props = c.props.clone();
            apply(&mut props, &body)?;
            let mut ext = c.ext.clone();
            merge_ext(&body, &mut ext)?;
            c.props = props;
            c.ext = ext;
            c.seq = seq;
            c.modified = Timestamp::now();
            Ok(Resp::ok(render(c, &view)))
        }
        Method::DELETE => {
            let rest = c.rest.clone();
            mb.contacts.remove(&imm);
            mb.rest_index.remove(&rest);
            Ok(Resp::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn contacts_delta(ctx: &mut Ctx<'_>, ui: usize, folder: Option<String>) -> GResult<Resp> {
    let fid = resolve_folder(mbx(ctx.t, ui)?, folder.as_deref())?;
    let lf = fid.clone();
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        let mut v: Vec<Listed> = mb
            .contacts
            .values()
            .filter(|c| c.folder == lf)
            .map(|c| Listed {
                key: c.imm.clone(),
                imm: c.imm.clone(),
                rest: c.rest.clone(),
                fp: c.seq,
            })
            .collect();
        v.sort_by(|a, b| a.fp.cmp(&b.fp).then(a.key.cmp(&b.key)));
        v
    };
    let rf = fid.clone();
    let render_one = move |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        t.users[ui]
            .mailbox
            .as_ref()?
            .contacts
            .get(&l.key)
            .filter(|c| c.folder == rf)
            .map(|c| render(c, view))
    };
    let scope = format!("{}:contacts:{fid}", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.contact",
            default_page: 10,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render_one,
            initial_query: Vec::new(),
        },
    )
}

/// Adds a contact to the user's contact folder `folder` (created under the default folder
/// when missing), as a connector that kept CRM persons wrote it: name and one address, no
/// extended property. Returns its immutable and REST ids.
pub(crate) fn add_kept_contact(
    t: &mut Tenant,
    ui: usize,
    folder: &str,
    display_name: &str,
    email: &str,
) -> Option<(String, String)> {
    let seq = t.next_seq();
    let Tenant { rng, users, .. } = t;
    let mb = users.get_mut(ui)?.mailbox.as_mut()?;
    let parent = default_folder(mb).ok()?;
    let fid = match mb.contact_folders.iter().find(|f| {
        f.parent.as_deref() == Some(parent.as_str()) && f.display_name.eq_ignore_ascii_case(folder)
    }) {
        Some(f) => f.id.clone(),
        None => {
            let f = ContactFolder {
                id: ids::folder_id(rng),
                parent: Some(parent),
                display_name: folder.to_owned(),
                is_default: false,
                seq,
            };
            let id = f.id.clone();
            mb.contact_folders.push(f);
            id
        }
    };
    let (given, surname) = display_name.split_once(' ').unwrap_or((display_name, ""));
    let mut props = Map::new();
    props.insert("displayName".into(), json!(display_name));
    props.insert("givenName".into(), json!(given));
    props.insert("surname".into(), json!(surname));
    props.insert(
        "emailAddresses".into(),
        json!([{"address": email, "name": display_name}]),
    );
    let c = insert_contact(mb, rng, fid, seq, props, Vec::new());
    Some((c.imm.clone(), c.rest.clone()))
}
