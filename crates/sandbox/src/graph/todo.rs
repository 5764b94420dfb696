//! Microsoft To Do: lists and tasks (+ delta), linked resources, CRUD.

use super::{Ctx, Resp, View};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::store::{Mailbox, Task, Tenant, TodoList, ts};
use axum::http::Method;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

const TASK_PROPS: &[&str] = &[
    "body",
    "categories",
    "completedDateTime",
    "dueDateTime",
    "importance",
    "isReminderOn",
    "recurrence",
    "reminderDateTime",
    "startDateTime",
    "status",
    "title",
];

const STATUSES: &[&str] = &[
    "notStarted",
    "inProgress",
    "completed",
    "waitingOnOthers",
    "deferred",
];

pub(crate) fn route(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let o = ctx.req.segs.clone();
    let m = ctx.req.method.clone();
    match (&s[2..], m) {
        (["todo", "lists"], Method::GET) => {
            let items: Vec<Value> = mbx(ctx.t, ui)?.todo_lists.iter().map(render_list).collect();
            ctx.page("Collection(microsoft.graph.todoTaskList)", items, 100, 1000)
        }
        (["todo", "lists"], Method::POST) => create_list(ctx, ui),
        (["todo", "lists", "delta"], Method::GET) => lists_delta(ctx, ui),
        (["todo", "lists", _], m) => list_op(ctx, ui, &o[4], m),
        (["todo", "lists", _, "tasks"], Method::GET) => list_tasks(ctx, ui, &o[4]),
        (["todo", "lists", _, "tasks"], Method::POST) => create_task(ctx, ui, &o[4]),
        (["todo", "lists", _, "tasks", "delta"], Method::GET) => tasks_delta(ctx, ui, &o[4]),
        (["todo", "lists", _, "tasks", _], m) => task_op(ctx, ui, &o[4], &o[6], m),
        (["todo", "lists", _, "tasks", _, "linkedresources"], m) => {
            linked(ctx, ui, &o[4], &o[6], None, m)
        }
        (["todo", "lists", _, "tasks", _, "linkedresources", _], m) => {
            let lr = o[8].clone();
            linked(ctx, ui, &o[4], &o[6], Some(lr), m)
        }
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

fn etag(seq: u64) -> String {
    format!("W/\"{}\"", ids::change_key(seq))
}

fn render_list(l: &TodoList) -> Value {
    json!({"@odata.etag": etag(l.seq), "displayName": l.display_name, "isOwner": true, "isShared": false, "wellknownListName": l.well_known, "id": l.id})
}

pub(crate) fn render_task(t: &Task, view: &View) -> Value {
    let mut o = Map::new();
    o.insert("@odata.etag".into(), json!(etag(t.seq)));
    o.insert(
        "importance".into(),
        t.props
            .get("importance")
            .cloned()
            .unwrap_or(json!("normal")),
    );
    o.insert(
        "isReminderOn".into(),
        t.props.get("isReminderOn").cloned().unwrap_or(json!(false)),
    );
    o.insert(
        "status".into(),
        t.props
            .get("status")
            .cloned()
            .unwrap_or(json!("notStarted")),
    );
    o.insert(
        "title".into(),
        t.props.get("title").cloned().unwrap_or(json!("")),
    );
    o.insert("createdDateTime".into(), json!(ts(t.created)));
    o.insert("lastModifiedDateTime".into(), json!(ts(t.modified)));
    o.insert("bodyLastModifiedDateTime".into(), json!(ts(t.modified)));
    o.insert("hasAttachments".into(), json!(false));
    o.insert(
        "categories".into(),
        t.props.get("categories").cloned().unwrap_or(json!([])),
    );
    o.insert("id".into(), json!(t.id));
    o.insert(
        "body".into(),
        t.props
            .get("body")
            .cloned()
            .unwrap_or(json!({"content": "", "contentType": "text"})),
    );
    for k in [
        "dueDateTime",
        "startDateTime",
        "completedDateTime",
        "reminderDateTime",
        "recurrence",
    ] {
        if let Some(v) = t.props.get(k).filter(|v| !v.is_null()) {
            o.insert(k.into(), v.clone());
        }
    }
    if view.expands("linkedResources") {
        o.insert("linkedResources".into(), Value::Array(t.linked.clone()));
    }
    Value::Object(o)
}

fn create_list(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| GraphError::bad_request("invalidRequest", "displayName is required."))?
        .to_owned();
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let l = TodoList {
        id: ids::entity_id(rng),
        display_name: name,
        well_known: "none",
        seq,
    };
    let v = render_list(&l);
    mb.todo_lists.push(l);
    Ok(Resp::created(v))
}

fn list_index(mb: &Mailbox, id: &str) -> GResult<usize> {
    mb.todo_lists
        .iter()
        .position(|l| l.id == id)
        .ok_or_else(|| {
            GraphError::new(
                axum::http::StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            )
        })
}

fn list_op(ctx: &mut Ctx<'_>, ui: usize, id: &str, m: Method) -> GResult<Resp> {
    let body = if m == Method::PATCH {
        Some(ctx.req.json()?)
    } else {
        None
    };
    let seq = ctx.next_seq();
    let mb = mbx_mut(ctx.t, ui)?;
    let i = list_index(mb, id)?;
    match m {
        Method::GET => Ok(Resp::ok(render_list(&mb.todo_lists[i]))),
        Method::PATCH => {
            if let Some(n) = body
                .as_ref()
                .and_then(|b| b.get("displayName"))
                .and_then(Value::as_str)
            {
                mb.todo_lists[i].display_name = n.to_owned();
            }
            mb.todo_lists[i].seq = seq;
            Ok(Resp::ok(render_list(&mb.todo_lists[i])))
        }
        Method::DELETE => {
            if mb.todo_lists[i].well_known == "defaultList" {
                return Err(GraphError::bad_request(
                    "invalidRequest",
                    "The default list cannot be deleted.",
                ));
            }
            let lid = mb.todo_lists.remove(i).id;
            mb.tasks.retain(|_, t| t.list != lid);
            Ok(Resp::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn lists_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        mb.todo_lists
            .iter()
            .map(|l| Listed {
                key: l.id.clone(),
                imm: l.id.clone(),
                rest: l.id.clone(),
                fp: l.seq,
            })
            .collect()
    };
    let render = move |t: &Tenant, l: &Listed, _v: &View| -> Option<Value> {
        t.users[ui]
            .mailbox
            .as_ref()?
            .todo_lists
            .iter()
            .find(|x| x.id == l.key)
            .map(render_list)
    };
    let scope = format!("{}:todolists", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.todoTaskList",
            default_page: 100,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

fn list_tasks(ctx: &mut Ctx<'_>, ui: usize, list: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let lid = mb.todo_lists[list_index(mb, list)?].id.clone();
    let view = ctx.req.view();
    let mut v: Vec<&Task> = mb.tasks.values().filter(|t| t.list == lid).collect();
    v.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let items = v.into_iter().map(|t| render_task(t, &view)).collect();
    ctx.page("Collection(microsoft.graph.todoTask)", items, 100, 1000)
}

fn apply(props: &mut Map<String, Value>, body: &Map<String, Value>) -> GResult<()> {
    for (k, v) in body {
        if k.starts_with('@')
            || matches!(
                k.as_str(),
                "id" | "linkedResources"
                    | "createdDateTime"
                    | "lastModifiedDateTime"
                    | "hasAttachments"
                    | "bodyLastModifiedDateTime"
            )
        {
            continue;
        }
        let Some(canon) = TASK_PROPS.iter().find(|p| p.eq_ignore_ascii_case(k)) else {
            return Err(GraphError::bad_request(
                "invalidRequest",
                format!("Invalid property '{k}' for todoTask."),
            ));
        };
        if *canon == "status" && !v.as_str().is_some_and(|s| STATUSES.contains(&s)) {
            return Err(GraphError::bad_request(
                "invalidRequest",
                format!("Invalid status {v}."),
            ));
        }
        props.insert((*canon).to_owned(), v.clone());
    }
    Ok(())
}

fn create_task(ctx: &mut Ctx<'_>, ui: usize, list: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    if !body.get("title").is_some_and(Value::is_string) {
        return Err(GraphError::bad_request(
            "invalidRequest",
            "title is required.",
        ));
    }
    let seq = ctx.next_seq();
    let view = ctx.req.view();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let lid = mb.todo_lists[list_index(mb, list)?].id.clone();
    let mut props = Map::new();
    apply(&mut props, &body)?;
    let linked = body
        .get("linkedResources")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|l| with_id(rng, l)).collect())
        .unwrap_or_default();
    let now = Timestamp::now();
    let t = Task {
        id: ids::entity_id(rng),
        list: lid,
        seq,
        created: now,
        modified: now,
        props,
        linked,
    };
    let mut v = render_task(&t, &view);
    v["linkedResources"] = Value::Array(t.linked.clone());
    mb.tasks.insert(t.id.clone(), t);
    Ok(Resp::created(v))
}

fn with_id(rng: &mut rand_chacha::ChaCha20Rng, l: &Value) -> Value {
    let mut l = l.clone();
    if l.get("id").is_none_or(Value::is_null) {
        l["id"] = json!(ids::guid(rng));
    }
    l
}

fn task_op(ctx: &mut Ctx<'_>, ui: usize, list: &str, id: &str, m: Method) -> GResult<Resp> {
    let body = if m == Method::PATCH {
        Some(ctx.req.json()?)
    } else {
        None
    };
    let seq = ctx.next_seq();
    let view = ctx.req.view();
    let mb = mbx_mut(ctx.t, ui)?;
    let lid = mb.todo_lists[list_index(mb, list)?].id.clone();
    let t = mb
        .tasks
        .get_mut(id)
        .filter(|t| t.list == lid)
        .ok_or_else(GraphError::item_not_found)?;
    match m {
        Method::GET => Ok(Resp::ok(view.apply_select(render_task(t, &view)))),
        Method::PATCH => {
            let mut props = t.props.clone();
            apply(&mut props, &body.unwrap_or_default())?;
            if props.get("status").and_then(Value::as_str) == Some("completed")
                && !props.contains_key("completedDateTime")
            {
                props.insert("completedDateTime".into(), json!({"dateTime": format!("{}T00:00:00.0000000", Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date()), "timeZone": "UTC"}));
            }
            t.props = props;
            t.seq = seq;
            t.modified = Timestamp::now();
            Ok(Resp::ok(render_task(t, &view)))
        }
        Method::DELETE => {
            mb.tasks.remove(id);
            Ok(Resp::no_content())
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn linked(
    ctx: &mut Ctx<'_>,
    ui: usize,
    list: &str,
    task: &str,
    lr: Option<String>,
    m: Method,
) -> GResult<Resp> {
    let body = if matches!(m, Method::POST | Method::PATCH) {
        Some(ctx.req.json()?)
    } else {
        None
    };
    let seq = ctx.next_seq();
    let Tenant { rng, users, .. } = &mut *ctx.t;
    let mb = users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let lid = mb.todo_lists[list_index(mb, list)?].id.clone();
    let t = mb
        .tasks
        .get_mut(task)
        .filter(|t| t.list == lid)
        .ok_or_else(GraphError::item_not_found)?;
    match (lr, m) {
        (None, Method::GET) => Ok(Resp::ok(json!({"value": t.linked}))),
        (None, Method::POST) => {
            let v = with_id(rng, &Value::Object(body.unwrap_or_default()));
            t.linked.push(v.clone());
            t.seq = seq;
            Ok(Resp::created(v))
        }
        (Some(id), m) => {
            let i = t
                .linked
                .iter()
                .position(|l| l.get("id").and_then(Value::as_str) == Some(id.as_str()))
                .ok_or_else(GraphError::item_not_found)?;
            match m {
                Method::GET => Ok(Resp::ok(t.linked[i].clone())),
                Method::DELETE => {
                    t.linked.remove(i);
                    t.seq = seq;
                    Ok(Resp::no_content())
                }
                Method::PATCH => {
                    if let (Some(obj), Some(b)) = (t.linked[i].as_object_mut(), body) {
                        for (k, v) in b {
                            obj.insert(k, v);
                        }
                    }
                    t.seq = seq;
                    Ok(Resp::ok(t.linked[i].clone()))
                }
                _ => Err(GraphError::method_not_allowed()),
            }
        }
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn tasks_delta(ctx: &mut Ctx<'_>, ui: usize, list: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let lid = mb.todo_lists[list_index(mb, list)?].id.clone();
    let ll = lid.clone();
    let list_fn = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        let mut v: Vec<Listed> = mb
            .tasks
            .values()
            .filter(|x| x.list == ll)
            .map(|x| Listed {
                key: x.id.clone(),
                imm: x.id.clone(),
                rest: x.id.clone(),
                fp: x.seq,
            })
            .collect();
        v.sort_by(|a, b| a.fp.cmp(&b.fp).then(a.key.cmp(&b.key)));
        v
    };
    let rl = lid.clone();
    let render = move |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        t.users[ui]
            .mailbox
            .as_ref()?
            .tasks
            .get(&l.key)
            .filter(|x| x.list == rl)
            .map(|x| render_task(x, view))
    };
    let scope = format!("{}:tasks:{lid}", ctx.t.users[ui].id);
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.todoTask",
            default_page: 100,
            max_page: 1000,
            directory: false,
            list: &list_fn,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

/// Adds a task due on `due` to the user's To Do list `list` (created when missing), as a
/// connector that kept CRM tasks wrote it: title, due date, no linked resource. Returns its
/// id.
pub(crate) fn add_kept_task(
    t: &mut Tenant,
    ui: usize,
    list: &str,
    title: &str,
    due: jiff::civil::Date,
) -> Option<String> {
    let seq = t.next_seq();
    let Tenant { rng, users, .. } = t;
    let mb = users.get_mut(ui)?.mailbox.as_mut()?;
    let lid = match mb
        .todo_lists
        .iter()
        .find(|l| l.display_name.eq_ignore_ascii_case(list))
    {
        Some(l) => l.id.clone(),
        None => {
            let l = TodoList {
                id: ids::entity_id(rng),
                display_name: list.to_owned(),
                well_known: "none",
                seq,
            };
            let id = l.id.clone();
            mb.todo_lists.push(l);
            id
        }
    };
    let mut props = Map::new();
    props.insert("title".into(), json!(title));
    props.insert("status".into(), json!("notStarted"));
    props.insert("importance".into(), json!("normal"));
    props.insert(
        "dueDateTime".into(),
        json!({"dateTime": format!("{due}T00:00:00.0000000"), "timeZone": "UTC"}),
    );
    let now = Timestamp::now();
    let task = Task {
        id: ids::entity_id(rng),
        list: lid,
        seq,
        created: now,
        modified: now,
        props,
        linked: Vec::new(),
    };
    let id = task.id.clone();
    mb.tasks.insert(task.id.clone(), task);
    Some(id)
}
