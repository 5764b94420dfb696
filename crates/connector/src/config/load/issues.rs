//! What a configuration's problems are reported as: each [`Issue`] with where its value came
//! from (a line of the file or an environment variable) and the key in the form the file
//! writes it, and [`ConfigError`] listing them all. Shared by every step of loading, kept
//! apart from the steps themselves.

use std::fmt;
use std::path::PathBuf;

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file, at this line when it could be found.
    File { path: PathBuf, line: Option<usize> },
    /// An environment variable.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(l),
            } => write!(f, "{}:{l}", path.display()),
            Origin::File { path, line: None } => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub origin: Origin,
    /// Dotted key, e.g. `emails.interval_minutes`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: Option<String>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", display_key(&self.key))?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// `emails.interval_minutes` → `[emails] interval_minutes`;
/// `crm.dialect.rep.table` → `[crm.dialect.rep] table`.
fn display_key(key: &str) -> String {
    let (section, name) = split_key(key);
    if name.is_empty() {
        format!("[{section}]")
    } else {
        format!("[{section}] {name}")
    }
}

/// A dotted key's table and the key inside it (an index into a list stays with its key:
/// `microsoft.managed_domains.0` → `microsoft`, `managed_domains.0`).
pub(super) fn split_key(key: &str) -> (&str, &str) {
    let segments: Vec<&str> = key.split('.').collect();
    let n = segments.len();
    if n < 2 {
        return (key, "");
    }
    let name_len = if n >= 3 && segments[n - 1].parse::<usize>().is_ok() {
        2
    } else {
        1
    };
    let section_len: usize = segments[..n - name_len].iter().map(|s| s.len() + 1).sum();
    (&key[..section_len - 1], &key[section_len..])
}

/// Every problem of a configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.issues))]
pub struct ConfigError {
    pub issues: Vec<Issue>,
}

fn render(issues: &[Issue]) -> String {
    let mut out = format!(
        "the configuration has {} problem{}:",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        out.push_str("\n  - ");
        out.push_str(&issue.to_string());
    }
    out
}
