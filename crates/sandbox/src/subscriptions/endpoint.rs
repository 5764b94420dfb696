//! `/v1.0/subscriptions[/{id}]` as a client sees it: create (checking the request, the
//! resource and the expiry, then the validation handshake), get, list, renew and delete. Apart
//! from the watcher, which works on what these requests stored.

use super::scope::Scope;
use super::{Shared, Sub};
use crate::error::{GResult, GraphError};
use crate::graph::{Req, Resp};
use axum::http::{Method, StatusCode};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// `/v1.0/subscriptions[/{id}]`.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> GResult<Resp> {
    let id = req.segs.get(1).cloned();
    let subs = &shared.subscriptions;
    match (&req.method, id) {
        (m, None) if *m == Method::POST => create(shared, req).await,
        (m, None) if *m == Method::GET => {
            let value = subs.list();
            Ok(Resp::ok(json!({
                "@odata.context": format!("{}/v1.0/$metadata#subscriptions", shared.base_url),
                "value": value,
            })))
        }
        (m, Some(id)) if *m == Method::GET => subs
            .lock()
            .subs
            .get(&id)
            .map(|s| Resp::ok(s.render()))
            .ok_or_else(|| not_found(&id)),
        (m, Some(id)) if *m == Method::PATCH => {
            let body = req.json()?;
            let mut s = subs.lock();
            let sub = s.subs.get_mut(&id).ok_or_else(|| not_found(&id))?;
            if let Some(v) = body.get("expirationDateTime") {
                sub.expires = expiry(v, &sub.scope)?;
            }
            Ok(Resp::ok(sub.render()))
        }
        (m, Some(id)) if *m == Method::DELETE => subs
            .lock()
            .subs
            .remove(&id)
            .map(|_| Resp::no_content())
            .ok_or_else(|| not_found(&id)),
        _ => Err(GraphError::no_route(req.method.as_str(), &req.path)),
    }
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("The object was not found. Subscription {id}"),
    )
}

/// A requested `expirationDateTime`, within the resource's limits.
fn expiry(v: &Value, scope: &Scope) -> GResult<Timestamp> {
    let bad = |m: String| GraphError::bad_request("InvalidRequest", m);
    let at: Timestamp = v
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("expirationDateTime is not a date-time.".to_owned()))?;
    let now = Timestamp::now();
    if at <= now {
        return Err(bad(
            "Subscription expiration can only be in the future.".to_owned()
        ));
    }
    let max = scope.max_minutes();
    if at > now + SignedDuration::from_mins(max) {
        return Err(bad(format!(
            "Subscription expiration can only be {max} minutes in the future."
        )));
    }
    Ok(at)
}

async fn create(shared: &Shared, req: &Req) -> GResult<Resp> {
    let body = req.json()?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let bad = |m: &str| GraphError::bad_request("InvalidRequest", m.to_owned());
    let resource = text("resource").ok_or_else(|| bad("resource is required."))?;
    let scope = Scope::parse(&resource).ok_or_else(|| {
        GraphError::bad_request(
            "ExtensionError",
            format!("Operation: Create; Exception: [Status Code: BadRequest; Reason: The resource '{resource}' is not supported for subscriptions in this sandbox.]"),
        )
    })?;
    let notification_url =
        text("notificationUrl").ok_or_else(|| bad("notificationUrl is required."))?;
    let change_types: Vec<String> = text("changeType")
        .ok_or_else(|| bad("changeType is required."))?
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    if change_types
        .iter()
        .any(|c| !["created", "updated", "deleted"].contains(&c.as_str()))
    {
        return Err(bad("changeType must be created, updated and/or deleted."));
    }
    let expires = expiry(
        body.get("expirationDateTime").unwrap_or(&Value::Null),
        &scope,
    )?;
    let client_state = text("clientState");
    if client_state.as_ref().is_some_and(|c| c.len() > 128) {
        return Err(bad("clientState must be at most 128 characters."));
    }
    let lifecycle_url = text("lifecycleNotificationUrl");
    {
        let mut t = shared.lock_tenant();
        t.materialize_key(scope.user());
        if scope.snapshot(&t, false).is_none() {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!("The resource '{resource}' was not found."),
            ));
        }
    }
    let subs = &shared.subscriptions;
    subs.validate(&notification_url).await?;
    if let Some(l) = lifecycle_url.as_deref().filter(|l| *l != notification_url) {
        subs.validate(l).await?;
    }
    let sub = Sub {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        scope,
        change_types,
        notification_url,
        lifecycle_url,
        client_state,
        expires,
        immutable: req.prefer.immutable,
        seen: None,
    };
    // The items as they are now: only later changes are notified.
    let mut sub = sub;
    sub.seen = sub.scope.snapshot(&shared.lock_tenant(), sub.immutable);
    let rendered = sub.render();
    subs.lock().subs.insert(sub.id.clone(), sub);
    Ok(Resp::created(rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_limited_per_resource() {
        let events = Scope::Events { user: "u".into() };
        let tasks = Scope::Tasks {
            user: "u".into(),
            list: "l".into(),
        };
        let at = |mins: i64| {
            json!(crate::store::ts(
                Timestamp::now() + SignedDuration::from_mins(mins)
            ))
        };
        assert!(expiry(&at(10_000), &events).is_ok());
        assert!(expiry(&at(10_000), &tasks).is_err());
        assert!(expiry(&at(-1), &events).is_err());
        assert!(expiry(&json!("soon"), &events).is_err());
    }
}
