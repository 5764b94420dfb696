//! `outlook/masterCategories`: a mailbox's categories (list, create, get, PATCH of the color,
//! DELETE) and the preset colors. Apart from the messages because it is a resource of its own,
//! routed separately.

use super::{mbx, mbx_mut};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp};
use crate::ids;
use crate::store::{Category, Tenant};
use axum::http::Method;
use serde_json::{Map, Value, json};

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
