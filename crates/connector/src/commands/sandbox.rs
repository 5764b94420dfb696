//! `graph-connector sandbox`: serve the built-in sandbox tenant (Microsoft Graph, the token
//! endpoint, CRM.interface and the control API on one listener) until Ctrl-C, and write a
//! connector configuration pointing at it. See docs/SANDBOX.md.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use gc_sandbox::{FaultSpec, SandboxOptions};

/// Options of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Number of member users in the tenant (one of them without a mailbox).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub users: usize,
    /// Seed of the generated data and of fault decisions: same seed, same tenant.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Write a complete connector configuration pointing at the sandbox to this file (with
    /// --tls the CA certificate is written next to it).
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
    /// Serve HTTPS with a generated certificate.
    #[arg(long)]
    pub tls: bool,
    /// Fault probabilities, e.g. `429=0.05,503=0.02,504=0.01,reset=0.01,stale-nextlink=0.1,expired-delta=0.05,latency=0.2@800`;
    /// `retry-after=S` sets the `Retry-After` of the injected 429s and 503s.
    #[arg(long, default_value = "none", value_name = "SPEC")]
    pub faults: String,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Messages generated per mailbox.
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub messages: usize,
    /// Generate each mailbox the first time it is used instead of at start (for large tenants,
    /// e.g. `--users 10000 --lazy`); lazy mailboxes hold per-mailbox content only.
    #[arg(long)]
    pub lazy: bool,
    /// Serve CRM.interface under other table and field names: a file with `[crm.dialect]`
    /// keys (the connector's own section, or those keys at the top level). The configuration
    /// written with --write-config does not contain them, so `check` shows what to set.
    #[arg(long, value_name = "FILE")]
    pub crm_dialect: Option<PathBuf>,
    /// Seed a tenant migrated from the EWS connector: CRM records with EWS ids, hex entry
    /// ids, iCalUIds or no key, and the events and messages they belong to (docs/SANDBOX.md).
    #[arg(long)]
    pub migrated_from_ews: bool,
}

/// Starts the sandbox, prints `listening on URL` once ready, and serves until Ctrl-C.
pub async fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let faults: FaultSpec = args.faults.parse().context("--faults")?;
    let crm_dialect = match &args.crm_dialect {
        Some(path) => gc_sandbox::crm::CrmDialect::load(path).context("--crm-dialect")?,
        None => gc_sandbox::crm::CrmDialect::default(),
    };
    let sandbox = gc_sandbox::start(SandboxOptions {
        listen: args.listen,
        users: args.users,
        seed: args.seed,
        tls: args.tls,
        faults,
        latency_ms: args.latency_ms,
        messages_per_mailbox: args.messages,
        lazy_mailboxes: args.lazy,
        crm_dialect,
        migrated_from_ews: args.migrated_from_ews,
        ..SandboxOptions::default()
    })
    .await
    .context("starting the sandbox")?;
    if let Some(path) = &args.write_config {
        sandbox
            .write_config(path)
            .with_context(|| format!("writing {}", path.display()))?;
        if let Some(dialect) = &args.crm_dialect {
            eprintln!(
                "CRM.interface uses the names of {}; add its [crm.dialect] keys to {} (check shows what is missing)",
                dialect.display(),
                path.display()
            );
        }
    }
    let mut out = std::io::stdout();
    writeln!(out, "listening on {}", sandbox.url())?;
    out.flush()?;
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
