//! Environment overrides: `GRAPH_CONNECTOR__SECTION__KEY` variables set into the parsed file
//! before it is deserialized, each value taken as TOML when it parses as one (secrets always
//! as text), and remembered so that a problem names the variable instead of the file.

use super::{Issue, Loader, Origin};

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

impl Loader {
    /// `GRAPH_CONNECTOR__MICROSOFT__CLIENT_SECRET=…` sets `[microsoft] client_secret`.
    pub(super) fn apply_env(
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

/// An environment value is TOML when it parses as one (`10`, `true`, `["a", "b"]`), else text.
fn parse_env_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}
