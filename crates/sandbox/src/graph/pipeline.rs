//! The pipeline every Graph request passes before its handler: `/me` refused, `$batch` handed
//! on, permission check, per-mailbox throttle, fault injection, base latency, the monitor's trip
//! wires, then `subscriptions` or the route under the tenant lock; and the response headers
//! (`request-id`, `Preference-Applied`). Apart from routing (`mod.rs`) because it is the same
//! for every resource.

use super::permissions::{Area, area_of, check_permission, is_read_post};
use super::{Ctx, Req, Resp, RespBody, batch, resource, route};
use crate::error::{GResult, GraphError};
use crate::faults::Fault;
use crate::server::Shared;
use axum::http::{Method, StatusCode};
use std::sync::Arc;

/// What the monitor sees of a Graph request.
fn seen(req: &Req, in_batch: bool) -> crate::monitor::Seen {
    crate::monitor::Seen::Graph {
        resource: resource::name(&req.segs),
        write: req.method != Method::GET,
        in_batch,
    }
}

/// A response that drops the connection instead of answering (a trip wire cut it).
fn cut() -> Resp {
    Resp {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: RespBody::Reset,
    }
}

/// Runs one request through permission, throttle and fault checks and the handlers.
pub(crate) async fn execute(shared: &Arc<Shared>, req: Req, in_batch: bool) -> Resp {
    let request_id = uuid::Uuid::new_v4().to_string();
    let seen = seen(&req, in_batch);
    if in_batch {
        // the envelope was counted when it arrived; its inner requests are counted here
        shared.monitor.count(&seen);
    }
    let result = execute_inner(shared, &req, in_batch, &seen).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => Resp::error(&e, &request_id, None),
    };
    resp.headers.push(("request-id".to_owned(), request_id));
    if let Some(applied) = req.prefer.applied() {
        resp.headers
            .push(("Preference-Applied".to_owned(), applied));
    }
    resp
}

async fn execute_inner(
    shared: &Arc<Shared>,
    req: &Req,
    in_batch: bool,
    seen: &crate::monitor::Seen,
) -> GResult<Resp> {
    if req
        .segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("me"))
    {
        return Err(GraphError::bad_request(
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let area = area_of(&req.segs);
    if area == Area::Batch {
        if in_batch {
            return Err(GraphError::invalid_request(
                "Nested batch requests are not supported.",
            ));
        }
        let passage = shared.monitor.pass(seen, None);
        if passage.cut_before() {
            return Ok(cut());
        }
        let resp = batch::handle(shared, req).await;
        return if passage.after() { Ok(cut()) } else { resp };
    }
    let write = req.has_write_method() && !is_read_post(&req.segs);
    check_permission(area, write, &req.claims)?;

    // per-mailbox throttling (Outlook and To Do resources)
    let mailbox_key = match area {
        Area::Mail
        | Area::SendMail
        | Area::Calendar
        | Area::Contacts
        | Area::Tasks
        | Area::MailboxSettings => req.segs.get(1).map(|s| shared.mailbox_of(s)),
        _ => None,
    };
    let _permit = match &mailbox_key {
        Some((k, name)) => {
            shared.monitor.count_mailbox_slot(name);
            Some(shared.throttle.acquire(k)?)
        }
        None => None,
    };
    let mailbox_key = mailbox_key.map(|(k, _)| k);
    let scope = format!("graph:{}", mailbox_key.as_deref().unwrap_or("tenant"));
    match shared.faults.roll(&scope) {
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut e = GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
            );
            e.retry_after = Some(format!("{retry_after_secs}"));
            return Err(e);
        }
        Some(Fault::ServiceUnavailable { retry_after_secs }) => {
            let mut e = GraphError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Service Unavailable",
            );
            e.retry_after = Some(format!("{retry_after_secs}"));
            return Err(e);
        }
        Some(Fault::GatewayTimeout) => {
            return Err(GraphError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "Gateway Timeout",
            ));
        }
        Some(Fault::ConnectionReset) if !in_batch => return Ok(cut()),
        Some(Fault::ConnectionReset) => {
            return Err(GraphError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "Gateway Timeout",
            ));
        }
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    // With --latency-ms the request holds its mailbox slot while "Exchange works on it".
    crate::server::base_latency(shared).await;

    let passage = shared.monitor.pass(seen, None);
    if passage.cut_before() {
        return Ok(cut());
    }
    if req
        .segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("subscriptions"))
    {
        // Not under the tenant lock: creating one calls the notification endpoint first.
        let resp = crate::subscriptions::handle(shared, req).await;
        return if passage.after() { Ok(cut()) } else { resp };
    }
    let resp = {
        let mut t = shared.lock_tenant();
        let mut ctx = Ctx {
            shared,
            t: &mut t,
            req,
        };
        route(&mut ctx)
    };
    if passage.after() { Ok(cut()) } else { resp }
}
