//! The `graph-connector` binary: parse the command line and hand over to the command's module.

use std::process::ExitCode;

use clap::Parser;
use graph_connector::cli::{Cli, Command};
use graph_connector::{commands, config, logging};

/// mimalloc instead of the system allocator. With glibc's, every thread that allocates under
/// contention gets an arena of its own that keeps what was freed in it: at 10,000 mailboxes the
/// mailbox list read (tens of MB, freed at once) and the concurrent runs stayed resident side by
/// side. mimalloc hands freed pages back, so the peak is the larger of the two, not their sum
/// (figures: docs/PERFORMANCE.md, "10,000 mailboxes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` sets up logging itself, from [logging] (the flag and RUST_LOG override it).
    if !matches!(cli.command, Command::Run(_)) {
        logging::init(
            cli.log_level.as_deref().unwrap_or("warn"),
            config::LogFormat::Auto,
        );
    }
    let level = cli.log_level.clone();
    let result = match cli.command {
        #[cfg(windows)]
        Command::Run(args) if args.windows_service => {
            graph_connector::daemon::windows::run_as_service(
                graph_connector::daemon::RunOptions {
                    config_path: args.config.config.clone(),
                    shutdown_timeout: std::time::Duration::from_secs(args.shutdown_timeout),
                },
                level,
            )
            .map(|()| ExitCode::SUCCESS)
        }
        Command::Run(args) => {
            runtime().and_then(|rt| rt.block_on(commands::run::run(args, level.as_deref())))
        }
        Command::Mailbox(command) => {
            runtime().and_then(|rt| rt.block_on(commands::mailbox::run(command)))
        }
        Command::Config(command) => commands::config::run(command),
        Command::Check(args) => runtime().and_then(|rt| rt.block_on(commands::check::run(args))),
        Command::Sync(args) => runtime().and_then(|rt| rt.block_on(commands::sync::run(args))),
        Command::Plan(args) => runtime().and_then(|rt| rt.block_on(commands::plan::run(args))),
        Command::Confirm(args) => {
            runtime().and_then(|rt| rt.block_on(commands::confirm::run(args)))
        }
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(commands::demo::run(args))),
        Command::Ledger(args) => runtime().and_then(|rt| rt.block_on(commands::ledger::run(args))),
        Command::Sandbox(args) => {
            runtime().and_then(|rt| rt.block_on(commands::sandbox::run(args)))
        }
        Command::Item(command) => {
            runtime().and_then(|rt| rt.block_on(commands::reprocess::item(command)))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime for commands that talk to Graph, CRM or the store.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
