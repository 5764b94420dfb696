//! Type errors collected instead of stopping at the first: deserialization retried with each
//! offending key taken out, and serde's message turned into an issue that names the key, says
//! what was found and what to write (a close known name, the expected kind of value), without
//! quoting the value. The longest step of loading, kept apart from reading the file and the
//! environment.

use super::{Issue, Loader};
use crate::config::model::Config;

impl Loader {
    /// Deserialize, collecting every type error: each offending key is reported and removed,
    /// then the rest is tried again, so one typo does not hide the next.
    pub(super) fn deserialize(&mut self, mut table: toml::Table) -> Config {
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
