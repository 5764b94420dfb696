//! Reading a configuration: the TOML file, then `GRAPH_CONNECTOR__SECTION__KEY` environment
//! overrides, then `*_file` secrets, then validation.
//!
//! Why not stop at the first serde error: an administrator editing a config wants every mistake
//! at once, each with the file, the key and what to write instead. So type errors are collected
//! one by one (each offending key is reported and taken out, then deserialization is retried),
//! and the cross-field rules of [`super::validate`] run on what remains.
//!
//! Values are never echoed in messages: a mistyped secret must not show up in a terminal or a log.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::model::{Config, DatabaseUrl};
use super::validate;

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "GRAPH_CONNECTOR__";

/// Keys whose values are secrets: environment overrides are always taken as text, and no
/// message ever quotes them.
const SECRET_KEYS: &[&str] = &[
    "microsoft.client_secret",
    "microsoft.certificate_password",
    "crm.password",
    "state.url",
    "admin.token",
];

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
fn split_key(key: &str) -> (&str, &str) {
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

    /// `GRAPH_CONNECTOR__MICROSOFT__CLIENT_SECRET=…` sets `[microsoft] client_secret`.
    fn apply_env(
        &mut self,
        table: &mut toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) {
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if parts.len() < 2 || parts.iter().any(String::is_empty) {
                self.issues.push(Issue {
                    origin: Origin::Env(var.clone()),
                    key: String::new(),
                    message: "not a configuration key".into(),
                    hint: Some(format!(
                        "write {ENV_PREFIX}<SECTION>__<KEY>, e.g. {ENV_PREFIX}CRM__PASSWORD or {ENV_PREFIX}CRM__DIALECT__REP__TABLE"
                    )),
                });
                continue;
            }
            let key = parts.join(".");
            let parsed = if SECRET_KEYS.contains(&key.as_str()) {
                toml::Value::String(value)
            } else {
                parse_env_value(&value)
            };
            if set_path(table, &parts, parsed) {
                self.source.env_keys.insert(key, var);
            }
        }
    }

    /// Deserialize, collecting every type error: each offending key is reported and removed,
    /// then the rest is tried again, so one typo does not hide the next.
    fn deserialize(&mut self, mut table: toml::Table) -> Config {
        for _ in 0..256 {
            let value = toml::Value::Table(table.clone());
            match serde_path_to_error::deserialize::<_, Config>(value) {
                Ok(config) => return config,
                Err(err) => {
                    let path: Vec<String> = err
                        .path()
                        .iter()
                        .filter_map(|s| match s {
                            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                            _ => None,
                        })
                        .collect();
                    let inner = err.into_inner().to_string();
                    let (key_path, issue) = self.describe(&table, path, &inner);
                    self.issues.push(issue);
                    if !remove_path(&mut table, &key_path) {
                        break;
                    }
                }
            }
        }
        Config::default()
    }

    /// Turn a serde message into an issue that names the key and says what to write, without
    /// quoting the value.
    fn describe(
        &self,
        table: &toml::Table,
        mut path: Vec<String>,
        inner: &str,
    ) -> (Vec<String>, Issue) {
        if let Some(field) = between(inner, "unknown field `", "`") {
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_owned());
            }
            let key = path.join(".");
            let known = expected_names(inner);
            let what = if path.len() == 1 { "section" } else { "key" };
            let hint = match suggest(field, &known) {
                Some(s) if path.len() == 1 => Some(format!("did you mean [{s}]?")),
                Some(s) => Some(format!("did you mean `{s}`?")),
                None if known.is_empty() => None,
                None => Some(format!("known {what}s: {}", known.join(", "))),
            };
            let issue = Issue {
                origin: self.source.origin(&key),
                key,
                message: format!("unknown {what} `{field}`"),
                hint,
            };
            return (path, issue);
        }
        let key = path.join(".");
        let found = lookup(table, &path).map(kind_of).unwrap_or("nothing");
        let expected = inner
            .rsplit_once("expected ")
            .map(|(_, e)| e.trim().to_owned())
            .unwrap_or_else(|| "another kind of value".into());
        let (message, hint) = if let Some(variant) = between(inner, "unknown variant `", "`") {
            let known = expected_names(inner);
            let hint = match suggest(variant, &known) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("write one of: {}", known.join(", ")),
            };
            (format!("`{variant}` is not an allowed value"), hint)
        } else if inner.starts_with("invalid value") {
            (
                format!("value out of range, expected {expected}"),
                hint_for(&expected, path.last().map(String::as_str).unwrap_or("key")),
            )
        } else {
            (
                format!("wrong type: found {found}, expected {expected}"),
                hint_for(&expected, path.last().map(String::as_str).unwrap_or("key")),
            )
        };
        let issue = Issue {
            origin: self.source.origin(&key),
            key,
            message,
            hint: Some(hint),
        };
        (path, issue)
    }

    /// Read `*_file` secrets into their keys. Giving both the key and its `_file` is an error:
    /// which one wins would be a guess.
    fn resolve_secret_files(&mut self, config: &mut Config) {
        fn read(
            loader: &mut Loader,
            key: &str,
            value_set: bool,
            file: Option<&PathBuf>,
        ) -> Option<String> {
            let file = file?;
            let file_key = format!("{key}_file");
            if value_set {
                loader.issues.push(Issue {
                    origin: loader.source.origin(&file_key),
                    key: file_key,
                    message: format!("both `{}` and `{}_file` are set", leaf(key), leaf(key)),
                    hint: Some("keep only one of them".into()),
                });
                return None;
            }
            match std::fs::read_to_string(file) {
                Ok(s) => {
                    let s = s.trim_end_matches(['\n', '\r']).to_owned();
                    if s.is_empty() {
                        loader.issues.push(Issue {
                            origin: loader.source.origin(&file_key),
                            key: file_key,
                            message: format!("the secret file {} is empty", file.display()),
                            hint: Some("write the secret into the file".into()),
                        });
                        None
                    } else {
                        Some(s)
                    }
                }
                Err(e) => {
                    loader.issues.push(Issue {
                        origin: loader.source.origin(&file_key),
                        key: file_key,
                        message: format!(
                            "cannot read the secret file {}: {}",
                            file.display(),
                            e.kind()
                        ),
                        hint: Some("check the path and that the service user may read it".into()),
                    });
                    None
                }
            }
        }
        let m = &config.microsoft;
        let (set, file) = (m.client_secret.is_some(), m.client_secret_file.clone());
        if let Some(s) = read(self, "microsoft.client_secret", set, file.as_ref()) {
            config.microsoft.client_secret = Some(SecretString::from(s));
        }
        let m = &config.microsoft;
        let (set, file) = (
            m.certificate_password.is_some(),
            m.certificate_password_file.clone(),
        );
        if let Some(s) = read(self, "microsoft.certificate_password", set, file.as_ref()) {
            config.microsoft.certificate_password = Some(SecretString::from(s));
        }
        let (set, file) = (
            config.crm.password.is_some(),
            config.crm.password_file.clone(),
        );
        if let Some(s) = read(self, "crm.password", set, file.as_ref()) {
            config.crm.password = Some(SecretString::from(s));
        }
        let (set, file) = (
            config.admin.token.is_some(),
            config.admin.token_file.clone(),
        );
        if let Some(s) = read(self, "admin.token", set, file.as_ref()) {
            config.admin.token = Some(SecretString::from(s));
        }
        let url_set = self.source.env_keys.contains_key("state.url")
            || find_line(&self.source.text, "state.url").is_some();
        let file = config.state.url_file.clone();
        if let Some(s) = read(self, "state.url", url_set, file.as_ref()) {
            config.state.url = DatabaseUrl(s);
        }
    }
}

/// Sets `value` at the dotted path `parts` (creating tables on the way); `false` when a
/// segment on the way is not a table.
fn set_path(table: &mut toml::Table, parts: &[String], value: toml::Value) -> bool {
    let Some((last, parents)) = parts.split_last() else {
        return false;
    };
    let mut current = table;
    for seg in parents {
        let next = current
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match next {
            toml::Value::Table(t) => current = t,
            _ => return false,
        }
    }
    current.insert(last.clone(), value);
    true
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// An environment value is TOML when it parses as one (`10`, `true`, `["a", "b"]`), else text.
fn parse_env_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The names serde lists after "expected one of `a`, `b`" (or "expected `a`").
fn expected_names(inner: &str) -> Vec<String> {
    let Some((_, tail)) = inner.split_once("expected") else {
        return Vec::new();
    };
    // The TOML deserializer adds where it was ("\nin `microsoft`"): not a choice.
    let tail = tail.split(" for key").next().unwrap_or(tail);
    let tail = tail.split("\nin `").next().unwrap_or(tail);
    tail.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// The closest known name, when it is close enough to be what was meant.
fn suggest(word: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.clone())
}

fn hint_for(expected: &str, key: &str) -> String {
    if expected.starts_with('u') || expected.starts_with('i') || expected.contains("integer") {
        format!("write a whole number without quotes, e.g. `{key} = 10`")
    } else if expected.contains("bool") {
        format!("write `{key} = true` or `{key} = false`")
    } else if expected.contains("sequence") {
        format!("write a list, e.g. `{key} = [\"a\", \"b\"]`")
    } else if expected.contains("string") || expected.contains("path") {
        format!("write text in double quotes, e.g. `{key} = \"...\"`")
    } else {
        format!("see `graph-connector config example` for `{key}`")
    }
}

fn lookup<'a>(table: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let mut value = table.get(first)?;
    for seg in rest {
        value = match value {
            toml::Value::Table(t) => t.get(seg)?,
            toml::Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn remove_path(table: &mut toml::Table, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = table;
    for seg in parents {
        if matches!(current.get(seg), Some(toml::Value::Array(_))) {
            // An element of a list is wrong: drop the whole list.
            return current.remove(seg).is_some();
        }
        match current.get_mut(seg) {
            Some(toml::Value::Table(t)) => current = t,
            _ => return false,
        }
    }
    current.remove(last).is_some()
}

fn kind_of(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "text",
        toml::Value::Integer(_) => "a number",
        toml::Value::Float(_) => "a decimal number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}
