//! The configuration's tests, in files by what they test; the helpers every part uses (loading a
//! text, the issues of a refused one, the example with one line changed, the planted secret)
//! are here.

use std::path::Path;

use super::*;

mod dialect;
mod example;
mod redaction;
mod reporting;
mod sources;
mod validation;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    load_str(text, Path::new("test.toml"), no_env())
}

fn issues(text: &str) -> Vec<Issue> {
    match load_text(text) {
        Ok(_) => panic!("expected the configuration to be rejected"),
        Err(e) => e.issues,
    }
}

/// The example with `replace` swapped for `with` (the example must contain `replace`).
fn example_with(replace: &str, with: &str) -> String {
    assert!(
        EXAMPLE.contains(replace),
        "the example no longer contains {replace:?}"
    );
    EXAMPLE.replacen(replace, with, 1)
}

const PLANTED: &str = "Pl4nted-S3cret-Do-Not-Show";
