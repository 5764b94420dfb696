//! `translateExchangeIds`: the ids of messages, events and contacts converted between the REST,
//! immutable, EWS and entry id forms. Apart from the messages because it spans every item kind
//! of a mailbox and is routed separately.

use super::mbx;
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp};
use crate::ids;
use axum::http::Method;
use serde_json::{Value, json};

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
