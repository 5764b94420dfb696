//! The `graph-connector` binary: parse the command line and hand over to the command's module.

use std::process::ExitCode;

use clap::Parser;
use graph_connector::cli::{Cli, Command};
use graph_connector::{commands, config, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(
        cli.log_level.as_deref().unwrap_or("info"),
        config::LogFormat::Auto,
    );
    let result = match cli.command {
        Command::Config(command) => commands::config::run(command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
