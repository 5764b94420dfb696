//! Serve a sandbox without the connector binary (same flags as `graph-connector sandbox`):
//! `cargo run -p gc-sandbox --example serve -- --listen 127.0.0.1:0 --tls --write-config sandbox.toml`

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use gc_sandbox::{FaultSpec, SandboxOptions};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 10)]
    users: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    write_config: Option<PathBuf>,
    #[arg(long)]
    tls: bool,
    #[arg(long, default_value = "none")]
    faults: String,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 40)]
    messages: usize,
    #[arg(long)]
    lazy: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let faults: FaultSpec = args.faults.parse()?;
    let sandbox = gc_sandbox::start(SandboxOptions {
        listen: args.listen,
        users: args.users,
        seed: args.seed,
        tls: args.tls,
        faults,
        latency_ms: args.latency_ms,
        messages_per_mailbox: args.messages,
        lazy_mailboxes: args.lazy,
        ..SandboxOptions::default()
    })
    .await?;
    if let Some(path) = &args.write_config {
        sandbox.write_config(path)?;
    }
    let mut out = std::io::stdout();
    writeln!(out, "listening on {}", sandbox.url())?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
