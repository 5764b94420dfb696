//! The notification endpoint: its own listener (`[notifications] listen`), so that the
//! administrator can publish it through a reverse proxy without publishing the admin page.
//!
//! Every path is served the same way, so whatever prefix the proxy maps works:
//! - `POST …?validationToken=…`: the validation handshake of a new subscription: the token
//!   goes back as `text/plain` with 200 (Graph waits at most 10 s).
//! - `POST …` with `{"value": [...]}`: change and lifecycle notifications. Each is checked
//!   (known subscription, `clientState` equal in constant time); a checked change makes its
//!   mailbox and kind due now as its kind and `changeType` ask ([`super::wake`]), a
//!   lifecycle event goes to the manager. Anything else is
//!   counted and dropped. The answer is 202 at once either way, as Graph expects (it retries
//!   and eventually gives up on an endpoint that keeps failing).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Hub, Lifecycle, Verdict, Wake};

/// Notifications are small; a larger body is not from Graph.
const MAX_BODY: usize = 1024 * 1024;

/// One entry of a notification batch (only what the connector uses: it never reads the
/// resource data, the delta walk does).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    subscription_id: String,
    #[serde(default)]
    client_state: Option<String>,
    #[serde(default)]
    lifecycle_event: Option<String>,
    #[serde(default)]
    change_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    value: Vec<Entry>,
}

/// The router of the endpoint.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(hub)
}

/// Serve the endpoint on `listener` until `shutdown`.
pub fn serve(hub: Arc<Hub>, listener: TcpListener, shutdown: CancellationToken) -> JoinHandle<()> {
    let app = router(hub);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        {
            tracing::error!(error = %e, "the notification endpoint stopped");
        }
    })
}

fn count(outcome: &'static str, n: u64) {
    metrics::counter!("graph_connector_notifications_total", "outcome" => outcome).increment(n);
}

async fn receive(
    State(hub): State<Arc<Hub>>,
    method: axum::http::Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if method != axum::http::Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if let Some(token) = query.get("validationToken") {
        count("validation", 1);
        tracing::info!("subscription validation request answered");
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            token.clone(),
        )
            .into_response();
    }
    let Ok(batch) = serde_json::from_slice::<Batch>(&body) else {
        count("malformed", 1);
        return StatusCode::BAD_REQUEST.into_response();
    };
    // Each pair once per batch; `true`: at least one of its changes asks for a run.
    let mut due: BTreeMap<(String, gc_store::Kind), bool> = BTreeMap::new();
    for entry in batch.value {
        match hub
            .verify(&entry.subscription_id, entry.client_state.as_deref())
            .await
        {
            Verdict::Accepted(record) => match entry.lifecycle_event {
                Some(event) => {
                    count("lifecycle", 1);
                    tracing::info!(mailbox = record.mailbox, kind = %record.kind, event, "lifecycle notification");
                    hub.lifecycle(Lifecycle {
                        subscription: record,
                        event,
                    });
                }
                None => match super::wake(record.kind, entry.change_type.as_deref()) {
                    Wake::Nothing => count("ignored", 1),
                    wake => {
                        count("accepted", 1);
                        *due.entry((record.mailbox, record.kind)).or_default() |= wake == Wake::Run;
                    }
                },
            },
            Verdict::Forged => {
                count("forged", 1);
                tracing::warn!(
                    subscription = entry.subscription_id,
                    "a notification with a wrong clientState was dropped (not sent by Microsoft Graph)"
                );
            }
            Verdict::Unknown => {
                count("unknown", 1);
                tracing::debug!(
                    subscription = entry.subscription_id,
                    "a notification of an unknown subscription was dropped"
                );
            }
        }
    }
    for ((mailbox, kind), run) in due {
        tracing::debug!(mailbox, %kind, run, "notified: due now");
        if run {
            hub.changed(&mailbox, kind).await;
        } else {
            hub.probe(&mailbox, kind).await;
        }
    }
    StatusCode::ACCEPTED.into_response()
}
