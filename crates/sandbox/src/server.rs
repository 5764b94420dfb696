//! The shared state of a running sandbox and its HTTP router.

use crate::faults::FaultPlan;
use crate::people::{Directory, guid};
use crate::{Credentials, SandboxError, SandboxOptions};
use axum::Router;
use axum::routing::get;
use rand::SeedableRng;
use rand::distr::{Alphanumeric, SampleString};
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub opts: SandboxOptions,
    pub base_url: String,
    pub creds: Credentials,
    pub directory: Arc<Directory>,
    pub faults: Arc<FaultPlan>,
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
        let faults = Arc::new(FaultPlan::new(opts.seed, opts.faults, opts.latency_ms));
        Ok(Shared {
            opts,
            base_url,
            creds,
            directory,
            faults,
        })
    }
}

/// The sandbox's own routes (Graph, token endpoint, control API).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/health", get(|| async { "ok" }))
        .with_state(shared)
}
