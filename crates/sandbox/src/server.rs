//! The shared state of a running sandbox and its HTTP router.

use crate::auth::{AuthState, TokenKeys};
use crate::delta::Tokens;
use crate::faults::FaultPlan;
use crate::people::{Directory, guid};
use crate::store::Tenant;
use crate::throttle::{Limits, Throttle};
use crate::{Credentials, SandboxError, SandboxOptions};
use axum::Router;
use axum::routing::{any, get, post};
use rand::SeedableRng;
use rand::distr::{Alphanumeric, SampleString};
use rand_chacha::ChaCha20Rng;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything the handlers share.
pub(crate) struct Shared {
    pub opts: SandboxOptions,
    pub base_url: String,
    pub creds: Credentials,
    pub directory: Arc<Directory>,
    pub faults: Arc<FaultPlan>,
    pub service_principal_id: String,
    pub keys: TokenKeys,
    pub throttle: Throttle,
    /// Request counter and trip wires (shared with the CRM side).
    pub monitor: Arc<crate::monitor::Monitor>,
    /// Change-notification subscriptions and their delivery.
    pub subscriptions: crate::subscriptions::Subscriptions,
    tenant: Mutex<Tenant>,
    auth: Mutex<AuthState>,
    tokens: Mutex<Tokens>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves consistent-enough data for a sandbox; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn new(opts: SandboxOptions, base_url: String) -> Result<Shared, SandboxError> {
        let directory = Arc::new(Directory::generate(opts.seed, opts.users));
        let mut rng = ChaCha20Rng::seed_from_u64(opts.seed ^ 0xc4ed_5eed);
        let creds = Credentials {
            tenant_id: guid(&mut rng),
            client_id: guid(&mut rng),
            client_secret: format!(
                "{}~{}",
                Alphanumeric.sample_string(&mut rng, 3),
                Alphanumeric.sample_string(&mut rng, 36)
            ),
            crm_master_user: "OCSU".to_owned(),
            crm_password: Alphanumeric.sample_string(&mut rng, 20),
        };
        let service_principal_id = guid(&mut rng);
        let faults = Arc::new(FaultPlan::new(opts.seed, opts.faults, opts.latency_ms));
        let keys = TokenKeys::load().map_err(SandboxError::State)?;
        let auth = AuthState::new(opts.token_lifetime, opts.client_certificate_pem.as_deref())
            .map_err(SandboxError::Certificate)?;
        let throttle = Throttle::new(Limits {
            concurrency: opts.mailbox_concurrency.max(1),
            budget: opts.mailbox_budget.max(1),
            window: opts.budget_window,
        });
        let tenant = crate::seed::build_tenant(&opts, &directory);
        Ok(Shared {
            opts,
            base_url,
            creds,
            directory,
            faults,
            service_principal_id,
            keys,
            throttle,
            monitor: Arc::new(crate::monitor::Monitor::new()),
            subscriptions: crate::subscriptions::Subscriptions::default(),
            tenant: Mutex::new(tenant),
            auth: Mutex::new(auth),
            tokens: Mutex::new(Tokens::new()),
        })
    }

    pub fn lock_tenant(&self) -> MutexGuard<'_, Tenant> {
        lock(&self.tenant)
    }

    pub fn lock_auth(&self) -> MutexGuard<'_, AuthState> {
        lock(&self.auth)
    }

    pub fn lock_tokens(&self) -> MutexGuard<'_, Tokens> {
        lock(&self.tokens)
    }

    /// The mailbox `/users/{key}` names: its throttling key (the user's object id when known)
    /// and the name the request counter gives it (the user's principal name, lower-cased;
    /// the key itself for an unknown user), so that an id and a name count as one mailbox.
    pub fn mailbox_of(&self, key: &str) -> (String, String) {
        let t = self.lock_tenant();
        match t.user_index(key) {
            Some(i) => (t.users[i].id.clone(), t.users[i].upn.to_ascii_lowercase()),
            None => (key.to_ascii_lowercase(), key.to_ascii_lowercase()),
        }
    }
}

/// Sleeps for `--latency-ms`, then waits while requests are held ([`FaultPlan::hold`]).
pub(crate) async fn base_latency(shared: &Shared) {
    let d = shared.faults.latency();
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
    shared.faults.released().await;
}

/// The sandbox's own routes (Graph, token endpoint, control API).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1.0/{*rest}", any(crate::graph::handler))
        .route("/beta/{*rest}", any(beta))
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(crate::auth::token_endpoint),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(crate::auth::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(crate::auth::jwks))
        .merge(crate::control::router())
        .with_state(shared)
}

/// The sandbox serves Graph v1.0 only; beta answers a Graph-shaped error that says so.
async fn beta() -> axum::response::Response {
    let e = crate::error::GraphError::invalid_request(
        "The sandbox serves Microsoft Graph v1.0 only; beta endpoints are not simulated.",
    );
    let rid = uuid::Uuid::new_v4().to_string();
    crate::graph::into_http(crate::graph::Resp::error(&e, &rid, None), None)
}
