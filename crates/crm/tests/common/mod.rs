//! Shared helpers: an in-process CRM sandbox on 127.0.0.1:0 and a client for it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use gc_crm::{CrmClient, CrmConfig, RetryPolicy};
use gc_sandbox::crm::{CrmOptions, CrmSandbox};
use gc_sandbox::faults::{FaultPlan, FaultSpec};
use gc_sandbox::people::Directory;
use secrecy::SecretString;

pub const PASSWORD: &str = "s3cret&<pwd>";

pub struct Env {
    pub sandbox: Arc<CrmSandbox>,
    pub faults: Arc<FaultPlan>,
    pub url: String,
    pub task: tokio::task::JoinHandle<()>,
}

impl Env {
    pub fn sandbox_faults(&self) -> &FaultPlan {
        &self.faults
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn env_with(opts: CrmOptions) -> Env {
    let dir = Arc::new(Directory::generate(opts.seed, 8));
    let faults = Arc::new(FaultPlan::new(opts.seed, FaultSpec::default(), 0));
    let sandbox = Arc::new(CrmSandbox::new(dir, faults.clone(), opts).await.unwrap());
    let (url, task) = gc_sandbox::crm::spawn(sandbox.clone()).await.unwrap();
    Env {
        sandbox,
        faults,
        url,
        task,
    }
}

pub async fn env() -> Env {
    env_with(CrmOptions {
        password: PASSWORD.into(),
        seed: 7,
        ..CrmOptions::default()
    })
    .await
}

pub fn client_with_password(env: &Env, password: &str) -> CrmClient {
    let mut cfg = CrmConfig::new(
        env.url.parse().unwrap(),
        "OCSU",
        SecretString::from(password),
    );
    cfg.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    };
    cfg.timeout = Duration::from_secs(10);
    CrmClient::new(cfg).unwrap()
}

pub fn client_with_retries(env: &Env, attempts: u32) -> CrmClient {
    let mut cfg = client(env).config().clone();
    cfg.retry.max_attempts = attempts;
    CrmClient::new(cfg).unwrap()
}

pub fn client(env: &Env) -> CrmClient {
    client_with_password(env, PASSWORD)
}

/// E-mail of the first enabled rep that has a mailbox.
pub fn rep_email(env: &Env) -> String {
    env.sandbox.directory().admin().email.to_ascii_lowercase()
}
