//! The Microsoft Graph v1.0 side: request pipeline, routing, query options and paging.
//!
//! Requests are parsed into a [`Req`] (also what `$batch` builds for each inner request), pass
//! bearer check → permission check → per-mailbox throttle → fault injection, and are then
//! answered by the resource modules while holding the tenant lock.
//!
//! This file routes a request to its resource module and holds the axum handler that turns an
//! HTTP request into a [`Req`]. The shared pieces, one concern each: `request` (the [`Req`], its
//! `Prefer` header and query options, and the [`View`] items are rendered with), `response` (a
//! [`Resp`] and how it becomes HTTP), `context` (the [`Ctx`] handlers get: links, user and
//! mailbox lookups, paging), `extended` (`singleValueExtendedProperties` rendered and merged),
//! `url` (query strings and paths), `permissions` (what a request touches and the roles it
//! needs) and `pipeline` (the checks every request passes before its handler).

pub(crate) mod batch;
pub(crate) mod calendar;
pub(crate) mod contacts;
mod context;
mod extended;
pub(crate) mod mail;
mod permissions;
mod pipeline;
mod request;
pub(crate) mod resource;
mod response;
pub(crate) mod todo;
mod url;
pub(crate) mod users;

pub(crate) use context::Ctx;
pub(crate) use extended::{ext_props, merge_ext};
pub(crate) use pipeline::execute;
pub(crate) use request::{Prefer, Req, View};
pub(crate) use response::{Resp, RespBody, into_http};
pub(crate) use url::{parse_query, split_path};

use crate::error::{GResult, GraphError};
use crate::server::Shared;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use bytes::Bytes;
use std::sync::Arc;

fn route(ctx: &mut Ctx<'_>) -> GResult<Resp> {
    let segs: Vec<String> = ctx
        .req
        .segs
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s.first() != Some(&"users") {
        return Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path));
    }
    if s.len() <= 2 || s.get(1) == Some(&"delta") {
        return users::route(ctx, &s);
    }
    // A lazy tenant generates the mailbox the first request reaches.
    let key = ctx.req.segs[1].clone();
    ctx.t.materialize_key(&key);
    match s[2] {
        "mailfolders" | "messages" | "sendmail" => mail::route(ctx, &s),
        "events" | "calendar" | "calendars" | "calendarview" => calendar::route(ctx, &s),
        "contacts" | "contactfolders" => contacts::route(ctx, &s),
        "todo" => todo::route(ctx, &s),
        "outlook" => mail::route_categories(ctx, &s),
        "translateexchangeids" => mail::translate_ids(ctx),
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

/// The axum handler for everything under `/v1.0/`.
pub(crate) async fn handler(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_owned();
    let segs = split_path(&path);
    shared.monitor.count(&crate::monitor::Seen::Graph {
        resource: resource::name(&segs),
        write: method != Method::GET,
        in_batch: false,
    });
    let claims = match crate::auth::verify_bearer(&shared, &headers) {
        Ok(c) => c,
        Err(e) => {
            crate::server::base_latency(&shared).await;
            let rid = uuid::Uuid::new_v4().to_string();
            let mut r = Resp::error(&e, &rid, client_request_id.as_deref());
            r.headers.push(("request-id".into(), rid));
            return into_http(r, client_request_id.as_deref());
        }
    };
    let req = Req {
        method,
        segs,
        path,
        query: parse_query(uri.query().unwrap_or("")),
        prefer: Prefer::parse(&headers),
        if_match: headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        claims,
    };
    let resp = execute(&shared, req, false).await;
    into_http(resp, client_request_id.as_deref())
}
