//! Reading a configuration: the TOML file, then `GRAPH_CONNECTOR__SECTION__KEY` environment
//! overrides, then `*_file` secrets, then validation.
//!
//! Why not stop at the first serde error: an administrator editing a config wants every mistake
//! at once, each with the file, the key and what to write instead. So type errors are collected
//! one by one (each offending key is reported and taken out, then deserialization is retried),
//! and the cross-field rules of [`super::validate`] run on what remains.
//!
//! Values are never echoed in messages: a mistyped secret must not show up in a terminal or a log.

mod env;
mod issues;
mod secret_files;
mod type_errors;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::Config;
use super::validate;

pub use env::ENV_PREFIX;
use issues::split_key;
pub use issues::{ConfigError, Issue, Origin};

/// Load and validate the configuration file at `path`, with overrides from `env` (pass
/// `std::env::vars()` in production; tests pass their own list).
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    load_with_warnings(path, env).map(|(config, _)| config)
}

/// [`load`], and what deserves attention in a valid configuration (e.g. an `http://`
/// CRM.interface URL off this machine), each with where it was set.
pub fn load_with_warnings(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<Issue>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        issues: vec![Issue {
            origin: Origin::File {
                path: path.to_path_buf(),
                line: None,
            },
            key: String::new(),
            message: format!("cannot read the configuration file: {e}"),
            hint: Some(
                "create one with `graph-connector config example > graph-connector.toml`".into(),
            ),
        }],
    })?;
    load_str_with_warnings(&text, path, env)
}

/// Load and validate configuration `text` that was read from `path`.
pub fn load_str(
    text: &str,
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    load_str_with_warnings(text, path, env).map(|(config, _)| config)
}

/// [`load_str`] with the warnings of [`load_with_warnings`].
pub fn load_str_with_warnings(
    text: &str,
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<Issue>), ConfigError> {
    let source = Source {
        path: path.to_path_buf(),
        text: text.to_owned(),
        env_keys: BTreeMap::new(),
    };
    let mut loader = Loader {
        source,
        issues: Vec::new(),
    };
    let mut table = loader.parse()?;
    loader.apply_env(&mut table, env);
    let mut config = loader.deserialize(table);
    loader.resolve_secret_files(&mut config);
    let problems = validate::validate(&config);
    for (key, message, hint) in problems {
        let origin = loader.source.origin(&key);
        loader.issues.push(Issue {
            origin,
            key,
            message,
            hint,
        });
    }
    if loader.issues.is_empty() {
        let warnings = validate::warnings(&config)
            .into_iter()
            .map(|(key, message, hint)| Issue {
                origin: loader.source.origin(&key),
                key,
                message,
                hint,
            })
            .collect();
        Ok((config, warnings))
    } else {
        Err(ConfigError {
            issues: loader.issues,
        })
    }
}

/// The text of the file and which keys the environment overrode, to say where a value came from.
struct Source {
    path: PathBuf,
    text: String,
    /// Dotted key → environment variable that set it.
    env_keys: BTreeMap<String, String>,
}

impl Source {
    fn origin(&self, key: &str) -> Origin {
        if let Some(var) = self.env_keys.get(key) {
            return Origin::Env(var.clone());
        }
        Origin::File {
            path: self.path.clone(),
            line: find_line(&self.text, key),
        }
    }

    fn file_origin_at(&self, byte: usize) -> Origin {
        let line = self
            .text
            .get(..byte)
            .map(|head| head.bytes().filter(|b| *b == b'\n').count() + 1);
        Origin::File {
            path: self.path.clone(),
            line,
        }
    }
}

/// The line that sets `key` (`section.name`, `crm.dialect.rep.name`) in a TOML text, found by
/// a light scan: the last `[section]` header seen and a line starting with `name =`. Good
/// enough to point a human at it.
fn find_line(text: &str, key: &str) -> Option<usize> {
    let (section, name) = split_key(key);
    let name = name.split('.').next().unwrap_or(name);
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[') {
            current = header.trim_end_matches(']').trim().to_owned();
            if name.is_empty() && current == section {
                return Some(i + 1);
            }
            continue;
        }
        if current == section
            && !name.is_empty()
            && let Some(rest) = line.strip_prefix(name)
            && rest.trim_start().starts_with('=')
        {
            return Some(i + 1);
        }
    }
    None
}

struct Loader {
    source: Source,
    issues: Vec<Issue>,
}

impl Loader {
    fn parse(&self) -> Result<toml::Table, ConfigError> {
        self.source.text.parse::<toml::Table>().map_err(|e| {
            // toml's Display quotes the offending line, which may hold a secret: use only the
            // message and the position.
            let origin = match e.span() {
                Some(span) => self.source.file_origin_at(span.start),
                None => self.source.origin(""),
            };
            ConfigError {
                issues: vec![Issue {
                    origin,
                    key: String::new(),
                    message: format!("not valid TOML: {}", e.message().trim()),
                    hint: Some(
                        "compare with `graph-connector config example`; strings need double quotes"
                            .into(),
                    ),
                }],
            }
        })
    }
}
