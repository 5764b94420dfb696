//! Structured logs through `tracing`: pretty on a terminal, JSON lines otherwise (for journald,
//! Windows event forwarding or a log shipper). `RUST_LOG` overrides the configured level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber. Logs go to stderr so that command output on stdout (JSON
/// reports, the example config) stays clean.
pub fn init(level: &str, format: LogFormat) {
    // sqlx warns when a pool connection took long to acquire: with SQLite's single writer that
    // is ordinary back-pressure under parallel mailboxes, not something an admin can act on.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx::pool::acquire=error")));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
