//! `POST /$batch`: up to 20 requests with `dependsOn`; each answers its own status, headers and
//! body. Inner requests go through the same permission, throttling and fault checks as
//! top-level ones (so they count against the mailbox's limits). `Prefer` headers are not
//! inherited from the envelope: each inner request carries its own.

use super::{Prefer, Req, Resp, RespBody, parse_query, split_path};
use crate::error::{GResult, GraphError};
use crate::server::Shared;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const MAX_REQUESTS: usize = 20;

struct Inner {
    id: String,
    req: Result<Req, GraphError>,
    depends_on: Vec<String>,
}

pub(crate) async fn handle(shared: &Arc<Shared>, req: &Req) -> GResult<Resp> {
    if req.method != Method::POST {
        return Err(GraphError::method_not_allowed());
    }
    let body = req.json()?;
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::invalid_request("Invalid batch payload format."))?;
    if requests.is_empty() {
        return Err(GraphError::invalid_request(
            "Invalid batch payload format: no requests.",
        ));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(GraphError::invalid_request(format!(
            "Number of included requests exceeds the limit of {MAX_REQUESTS}."
        )));
    }
    let mut inners = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in requests {
        let r = r
            .as_object()
            .ok_or_else(|| GraphError::invalid_request("Invalid batch payload format."))?;
        let id = match r.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(GraphError::invalid_request(
                    "Each request in a batch must have an id.",
                ));
            }
        };
        if !seen.insert(id.to_ascii_lowercase()) {
            return Err(GraphError::invalid_request(format!(
                "Request id '{id}' is duplicated; ids must be unique."
            )));
        }
        let depends_on: Vec<String> = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        inners.push(Inner {
            req: build(req, r),
            id,
            depends_on,
        });
    }
    let ids: Vec<String> = inners.iter().map(|i| i.id.to_ascii_lowercase()).collect();
    for i in &inners {
        if let Some(d) = i
            .depends_on
            .iter()
            .find(|d| !ids.contains(&d.to_ascii_lowercase()))
        {
            return Err(GraphError::invalid_request(format!(
                "Request '{}' depends on unknown request '{d}'.",
                i.id
            )));
        }
    }
    // A fully parallel batch runs up to 4 requests at a time, as Graph hands them to Outlook
    // (so they meet the mailbox concurrency limit together); any dependsOn makes it sequential.
    let mut any_cut = false;
    if inners.iter().all(|i| i.depends_on.is_empty()) {
        let mut out: Vec<Value> = Vec::new();
        let mut queue = inners.into_iter();
        loop {
            let chunk: Vec<Inner> = queue.by_ref().take(4).collect();
            if chunk.is_empty() {
                break;
            }
            let futs = chunk.into_iter().map(|inner| async move {
                let resp = match inner.req {
                    Ok(r) => Box::pin(super::execute(shared, r, true)).await,
                    Err(e) => Resp::error(&e, &uuid::Uuid::new_v4().to_string(), None),
                };
                let cut = matches!(resp.body, RespBody::Reset);
                (render(&inner.id, resp), cut)
            });
            for (v, cut) in futures::future::join_all(futs).await {
                any_cut |= cut;
                out.push(v);
            }
        }
        return Ok(envelope(out, any_cut));
    }
    // execute in dependency order (requests without dependencies in their given order)
    let mut done: HashMap<String, u16> = HashMap::new();
    let mut out: Vec<Value> = Vec::new();
    let mut remaining: Vec<Inner> = inners;
    while !remaining.is_empty() {
        let pos = remaining
            .iter()
            .position(|i| {
                i.depends_on
                    .iter()
                    .all(|d| done.contains_key(&d.to_ascii_lowercase()))
            })
            .ok_or_else(|| {
                GraphError::invalid_request("The dependsOn graph of the batch has a cycle.")
            })?;
        let inner = remaining.remove(pos);
        let failed_dep = inner
            .depends_on
            .iter()
            .any(|d| done.get(&d.to_ascii_lowercase()).is_none_or(|s| *s >= 400));
        let resp = if failed_dep {
            Resp::error(
                &GraphError::new(
                    StatusCode::FAILED_DEPENDENCY,
                    "FailedDependency",
                    "A request this request depends on failed.",
                ),
                &uuid::Uuid::new_v4().to_string(),
                None,
            )
        } else {
            match inner.req {
                Ok(r) => Box::pin(super::execute(shared, r, true)).await,
                Err(e) => Resp::error(&e, &uuid::Uuid::new_v4().to_string(), None),
            }
        };
        done.insert(inner.id.to_ascii_lowercase(), resp.status.as_u16());
        any_cut |= matches!(resp.body, RespBody::Reset);
        out.push(render(&inner.id, resp));
    }
    Ok(envelope(out, any_cut))
}

/// The batch answer; when a trip wire cut an inner request, the whole exchange is cut (the
/// other inner requests were processed, as Graph would after a client vanished).
fn envelope(responses: Vec<Value>, cut: bool) -> Resp {
    if cut {
        return Resp {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: RespBody::Reset,
        };
    }
    Resp::ok(json!({"responses": responses}))
}

fn build(outer: &Req, r: &Map<String, Value>) -> Result<Req, GraphError> {
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| {
            GraphError::invalid_request("Each request in a batch must have a method.")
        })?;
    let url = r
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::invalid_request("Each request in a batch must have a url."))?;
    // Absolute URLs on this service are accepted (Microsoft's SDKs send them), relative ones
    // are the documented form.
    let absolute;
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        let parsed = url::Url::parse(url)
            .map_err(|_| GraphError::invalid_request(format!("Invalid request url '{url}'.")))?;
        absolute = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        absolute.as_str()
    } else {
        url
    };
    let url = url.trim_start_matches('/');
    let url = url.strip_prefix("v1.0/").unwrap_or(url);
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = format!("/{path}");
    let mut headers = HeaderMap::new();
    if let Some(h) = r.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                headers.append(name, value);
            }
        }
    }
    let body = match r.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(b) => {
            if !headers.contains_key("content-type") {
                return Err(GraphError::invalid_request(
                    "Content-Type header is required when a body is present.",
                ));
            }
            match b {
                Value::String(s) => Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .unwrap_or_else(|_| s.as_bytes().to_vec()),
                ),
                other => Bytes::from(serde_json::to_vec(other).unwrap_or_default()),
            }
        }
    };
    Ok(Req {
        method,
        segs: split_path(&path),
        path,
        query: parse_query(query),
        prefer: Prefer::parse(&headers),
        if_match: headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        claims: outer.claims.clone(),
    })
}

fn render(id: &str, r: Resp) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), json!(v));
    }
    let body = match r.body {
        RespBody::Json(v) => {
            headers.insert("Content-Type".into(), json!("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
            Some(v)
        }
        RespBody::Raw(ct, bytes) => {
            headers.insert("Content-Type".into(), json!(ct));
            Some(json!(
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ))
        }
        RespBody::Empty | RespBody::Reset => None,
    };
    let mut v = json!({"id": id, "status": r.status.as_u16(), "headers": headers});
    if let Some(b) = body {
        v["body"] = b;
    }
    v
}
