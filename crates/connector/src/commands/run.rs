//! `graph-connector run`: read the configuration, set up logging from `[logging]`, install
//! the metrics recorder, listen for signals, and hand over to the service ([`crate::daemon`]).

use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc::unbounded_channel;

use crate::cli::RunArgs;
use crate::config;
use crate::daemon::{self, RunOptions};
use crate::logging;

/// `run`. `cli_level` is `--log-level`; RUST_LOG overrides both it and `[logging] level`.
pub async fn run(args: RunArgs, cli_level: Option<&str>) -> anyhow::Result<ExitCode> {
    // Read once here for [logging]; the service reads it again itself (and on SIGHUP).
    let config = config::load(&args.config.config, std::env::vars())?;
    logging::init(
        cli_level.unwrap_or(&config.logging.level),
        config.logging.format,
    );
    crate::telemetry::install();
    let (tx, rx) = unbounded_channel();
    daemon::signals::listen(tx)?;
    daemon::serve(
        RunOptions {
            config_path: args.config.config.clone(),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        },
        rx,
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
