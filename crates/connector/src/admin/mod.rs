//! The admin server of `graph-connector run` (`[admin] listen`, default 127.0.0.1:8089):
//! server-rendered pages (no JavaScript), the same data as JSON under `/api/…`, and
//! Prometheus metrics at `/metrics`. docs/ADMIN.md documents every route.

pub mod actions;
pub mod api;
pub mod auth;
pub mod holds;
pub mod leases;
pub mod pages;
pub mod reprocess;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use gc_store::StateStore;
use gc_sync::adapters::GraphMail;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::daemon::status::Status;

/// What the handlers need.
pub struct AdminState {
    /// The configuration (rendered with secrets redacted).
    pub config: Arc<Config>,
    /// The state store.
    pub store: Arc<dyn StateStore>,
    /// The service's shared status.
    pub status: Arc<Status>,
    /// The Graph side (token and permissions for the health view).
    pub graph: Arc<GraphMail>,
    /// Browser sessions.
    pub sessions: auth::Sessions,
    /// This process's identity in leases (marks "this process" among those sharing the
    /// store; empty when the state is not served by a running service).
    pub holder: String,
}

impl AdminState {
    /// State over the service's parts.
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn StateStore>,
        status: Arc<Status>,
        graph: Arc<GraphMail>,
    ) -> Self {
        AdminState {
            config,
            store,
            status,
            graph,
            sessions: auth::Sessions::default(),
            holder: String::new(),
        }
    }

    /// The same, naming this process's lease holder.
    pub fn with_holder(mut self, holder: String) -> Self {
        self.holder = holder;
        self
    }
}

/// Every route.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/mailboxes/{id}", get(pages::mailbox))
        .route("/mailboxes/{id}/sync", post(actions::sync_now_form))
        .route("/mailboxes/{id}/pause", post(actions::pause_form))
        .route("/mailboxes/{id}/resume", post(actions::resume_form))
        .route("/holds", get(holds::page_holds))
        .route("/mailboxes/{id}/plan", get(holds::page_plan))
        .route("/mailboxes/{id}/confirm", post(holds::confirm_form))
        .route("/api/holds", get(holds::holds_api))
        .route("/api/mailboxes/{id}/plan", get(holds::plan_api))
        .route("/api/mailboxes/{id}/confirm", post(holds::confirm_api))
        .route("/mailboxes/{id}/items/resync", post(reprocess::resync_form))
        .route("/mailboxes/{id}/items/forget", post(reprocess::forget_form))
        .route("/mailboxes/{id}/reset", post(reprocess::reset_form))
        .route("/refresh", post(actions::refresh_form))
        .route("/check", get(pages::check).post(actions::recheck_form))
        .route("/alerts", get(pages::alerts))
        .route("/config", get(pages::config))
        .route("/static/admin.css", get(pages::css))
        .route("/metrics", get(api::metrics))
        .route("/api/health", get(api::health))
        .route("/api/session", get(api::session))
        .route("/api/mailboxes", get(api::mailboxes))
        .route("/api/mailboxes/{id}", get(api::mailbox))
        .route("/api/mailboxes/{id}/sync", post(actions::sync_now_api))
        .route("/api/mailboxes/{id}/pause", post(actions::pause_api))
        .route("/api/mailboxes/{id}/resume", post(actions::resume_api))
        .route(
            "/api/mailboxes/{id}/items/resync",
            post(reprocess::resync_api),
        )
        .route(
            "/api/mailboxes/{id}/items/forget",
            post(reprocess::forget_api),
        )
        .route("/api/mailboxes/{id}/reset", post(reprocess::reset_api))
        .route("/api/ledger", get(api::ledger))
        .route("/api/runs", get(api::runs))
        .route("/api/processes", get(api::processes))
        .route("/api/alerts", get(api::alerts))
        .route("/api/config", get(api::config))
        .route("/api/check", get(api::check).post(actions::recheck_api))
        .route("/api/refresh", post(actions::refresh_api))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every answer carries: no framing, no sniffing, no referrer, scripts off.
async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Serve on `listener` until `shutdown`.
pub fn serve(
    state: Arc<AdminState>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    crate::telemetry::install();
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        {
            tracing::error!(error = %e, "the admin server stopped");
        }
    })
}
