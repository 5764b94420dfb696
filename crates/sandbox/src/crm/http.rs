//! HTTP of the CRM sandbox: `POST /crm/interface` (faults, content type, the request on its own
//! task) and the control API under `/_sandbox/crm/…`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use sha2::Digest as _;

use super::{CrmSandbox, CrmSandboxError};
use crate::faults::Fault;

/// Routes: `POST /crm/interface` and the control API under `/_sandbox/crm/…`.
pub fn router(state: Arc<CrmSandbox>) -> Router {
    Router::new()
        .route(
            "/crm/interface",
            post(interface).layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route("/_sandbox/crm/records/{table}", get(control_records))
        .route("/_sandbox/crm/catalogs", get(control_catalogs))
        .route(
            "/_sandbox/crm/catalogs/remove-required",
            post(control_remove_catalogs),
        )
        .route("/_sandbox/crm/password", post(control_password))
        .route("/_sandbox/crm/busy", post(control_busy))
        .route("/_sandbox/crm/fail-next", post(control_fail))
        .route("/_sandbox/crm/stats", get(control_stats))
        .with_state(state)
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// A response that drops the connection (an injected reset, or a trip wire cut the exchange).
fn reset() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ))
    });
    Response::new(Body::from_stream(stream))
}

async fn interface(State(s): State<Arc<CrmSandbox>>, headers: HeaderMap, body: String) -> Response {
    let digest: [u8; 32] = sha2::Sha256::digest(body.as_bytes()).into();
    let parsed = super::wire::parse_request(&body);
    drop(body);
    let seen = super::seen::seen(&parsed);
    s.monitor.count(&seen);
    match s.faults.roll("crm") {
        Some(Fault::TooManyRequests { retry_after_secs })
        | Some(Fault::ServiceUnavailable { retry_after_secs }) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(
                    header::RETRY_AFTER,
                    format!("{}", retry_after_secs.ceil() as u64),
                )],
                "Service Unavailable",
            )
                .into_response();
        }
        Some(Fault::GatewayTimeout) => {
            return (StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout").into_response();
        }
        Some(Fault::ConnectionReset) => return reset(),
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let base = s.faults.latency();
    if !base.is_zero() {
        tokio::time::sleep(base).await;
    }
    s.faults.released().await;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !(ct.starts_with("text/xml") || ct.starts_with("application/xml")) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CRM.interface expects text/xml",
        )
            .into_response();
    }
    let passage = s.monitor.pass(&seen, parsed.as_ref().ok());
    if passage.cut_before() {
        return reset();
    }
    // The request is executed on its own task: a client that hangs up mid-request (a killed
    // connector) must not cancel a database statement halfway, which would make sqlx drop the
    // connection and, with it, the in-memory database.
    let state = s.clone();
    let answer = tokio::spawn(async move { state.execute(digest, parsed).await }).await;
    if passage.after() {
        return reset();
    }
    match answer {
        Ok(answer) => xml(answer),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Largest request body CRM.interface accepts: IIS's default `maxAllowedContentLength`
/// (30,000,000 bytes), in front of which CRM.interface usually runs. Larger requests get 413.
pub const MAX_REQUEST_BYTES: usize = 30_000_000;

fn json<T: serde::Serialize>(v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn fail(e: CrmSandboxError) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn control_records(State(s): State<Arc<CrmSandbox>>, Path(table): Path<String>) -> Response {
    match s.records(&table).await {
        Ok(r) => json(&r),
        Err(e) => fail(e),
    }
}

async fn control_catalogs(State(s): State<Arc<CrmSandbox>>) -> Response {
    match s.catalog_values().await {
        Ok(r) => json(&r),
        Err(e) => fail(e),
    }
}

async fn control_remove_catalogs(State(s): State<Arc<CrmSandbox>>) -> Response {
    match s.remove_required_catalog_values().await {
        Ok(n) => json(&serde_json::json!({ "removed": n })),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
struct PasswordBody {
    password: String,
}

async fn control_password(
    State(s): State<Arc<CrmSandbox>>,
    axum::Json(b): axum::Json<PasswordBody>,
) -> Response {
    s.set_password(&b.password);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct CountBody {
    count: u32,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    text: Option<String>,
}

async fn control_busy(
    State(s): State<Arc<CrmSandbox>>,
    axum::Json(b): axum::Json<CountBody>,
) -> Response {
    s.set_busy(b.count);
    StatusCode::NO_CONTENT.into_response()
}

async fn control_fail(
    State(s): State<Arc<CrmSandbox>>,
    axum::Json(b): axum::Json<CountBody>,
) -> Response {
    s.fail_next(
        b.count,
        b.code.unwrap_or(511),
        b.text.as_deref().unwrap_or("Server failure"),
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn control_stats(State(s): State<Arc<CrmSandbox>>) -> Response {
    json(&s.stats())
}

/// Serves only the CRM side on `127.0.0.1:0` (for tests of CRM clients that do not need the
/// Microsoft 365 side). Returns the interface URL and the server task.
pub async fn spawn(
    state: Arc<CrmSandbox>,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "CRM sandbox server stopped");
        }
    });
    Ok((format!("http://{addr}/crm/interface"), task))
}
