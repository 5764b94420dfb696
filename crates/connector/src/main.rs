//! The `graph-connector` binary: parse the command line and hand over to the command's module.

use std::process::ExitCode;

use clap::Parser;
use graph_connector::cli::{Cli, Command};
use graph_connector::{commands, config, logging};

/// mimalloc instead of the system allocator. With glibc's, every thread that allocates under
/// contention gets an arena of its own that keeps what was freed in it: at 10,000 mailboxes the
/// mailbox list read (tens of MB, freed at once) and the concurrent runs stayed resident side by
/// side. mimalloc hands freed pages back, so the peak is the larger of the two, not their sum
/// (figures: docs/PERFORMANCE.md, "10,000 mailboxes"). Its v2 line (the `v2` feature): v3, the
/// crate's default, keeps freed memory for a second before handing it back, which at 10,000
/// mailboxes put the peak 6-14 MB higher.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (Linux), unless `MIMALLOC_ALLOW_THP` says
/// otherwise. mimalloc asks for huge pages on its arenas, and where the system's THP setting
/// is `madvise` (Debian's default) or `always` the kernel then backs them with 2 MB pages: a
/// 2 MB page stays resident as long as any allocation in it lives, and the pages mimalloc
/// hands back come back 2 MB at a time or not at all. At 10,000 mailboxes that was about a
/// third of the connector's resident memory (docs/PERFORMANCE.md, "10,000 mailboxes").
/// Setting `MIMALLOC_ALLOW_THP=1` keeps them; mimalloc then reads it itself.
fn huge_pages_off() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none()
        && let Err(e) = rustix::thread::disable_transparent_huge_pages(true)
    {
        // Only memory is at stake; the service runs the same.
        eprintln!("graph-connector: cannot turn transparent huge pages off: {e}");
    }
}

fn main() -> ExitCode {
    huge_pages_off();
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
        Command::Run(args) => runtime_of(&args.config.config)
            .and_then(|rt| rt.block_on(commands::run::run(args, level.as_deref()))),
        Command::Mailbox(command) => {
            runtime().and_then(|rt| rt.block_on(commands::mailbox::run(command)))
        }
        Command::Config(command) => commands::config::run(command),
        Command::Check(args) => runtime().and_then(|rt| rt.block_on(commands::check::run(args))),
        Command::Sync(args) => {
            runtime_of(&args.config.config).and_then(|rt| rt.block_on(commands::sync::run(args)))
        }
        Command::Plan(args) => runtime().and_then(|rt| rt.block_on(commands::plan::run(args))),
        Command::Confirm(args) => {
            runtime().and_then(|rt| rt.block_on(commands::confirm::run(args)))
        }
        Command::Demo(args) => runtime().and_then(|rt| rt.block_on(commands::demo::run(args))),
        Command::Ledger(args) => runtime().and_then(|rt| rt.block_on(commands::ledger::run(args))),
        // The sandbox serves a whole tenant to whatever points at it: a thread per core.
        Command::Sandbox(args) => graph_connector::runtime::build(0)
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(commands::sandbox::run(args))),
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

/// The async runtime for commands that talk to Graph, CRM or the store: one worker thread
/// (`[service] worker_threads`' default; the other commands do little work).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = config::Service::default().worker_threads;
    Ok(graph_connector::runtime::build(threads)?)
}

/// The async runtime of a command that works mailboxes, sized by its configuration's
/// `[service] worker_threads`.
fn runtime_of(config_path: &std::path::Path) -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = graph_connector::runtime::worker_threads_of(config_path);
    Ok(graph_connector::runtime::build(threads)?)
}
