//! `graph-connector config example`, `config validate` and `config dialect`.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::config;

pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Example => {
            std::io::stdout().write_all(config::EXAMPLE.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Validate(ConfigArgs { config: path }) => {
            match config::load_with_warnings(&path, std::env::vars()) {
                Ok((_, warnings)) => {
                    for w in &warnings {
                        eprintln!("warning: {w}");
                    }
                    println!("{}: the configuration is valid", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{err}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        ConfigCommand::Dialect(ConfigArgs { config: path }) => {
            match config::load(&path, std::env::vars()) {
                Ok(config) => {
                    print!("{}", dialect_toml(&config.crm.dialect, &path));
                    Ok(ExitCode::SUCCESS)
                }
                Err(err) => {
                    eprintln!("{err}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

fn value(v: gc_crm::KeyValue<'_>) -> toml::Value {
    match v {
        gc_crm::KeyValue::Text(t) => toml::Value::String(t.to_owned()),
        gc_crm::KeyValue::List(l) => {
            toml::Value::Array(l.iter().map(|s| toml::Value::String(s.clone())).collect())
        }
    }
}

/// The effective dialect as TOML, ready to paste into a configuration; keys whose value
/// differs from the built-in default are marked.
pub fn dialect_toml(dialect: &gc_crm::Dialect, path: &std::path::Path) -> String {
    let defaults = gc_crm::Dialect::default();
    let default_keys = defaults.keys();
    let mut out = format!(
        "# The CRM.interface names and conventions in use with {}: the built-in defaults,\n\
         # overridden by [crm.dialect]. Keys marked \"overridden\" differ from the default.\n\
         # docs/CRM-INTERFACE.md explains every key and how to find the right name.\n",
        path.display()
    );
    let mut section: Option<&str> = Some("");
    for k in dialect.keys() {
        if k.section() != section {
            section = k.section();
            match section {
                Some(s) => out.push_str(&format!("\n[crm.dialect.{s}]\n")),
                None => out.push_str("\n[crm.dialect]\n"),
            }
        }
        let default = default_keys
            .iter()
            .find(|d| d.key == k.key)
            .map(|d| d.value);
        let mut line = format!("{} = {}", k.leaf(), value(k.value));
        if let Some(d) = default
            && d != k.value
        {
            line.push_str(&format!("  # overridden (default {})", value(d)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_dialect_reads_back_and_marks_overrides() {
        let mut d = gc_crm::Dialect::default();
        d.external_key.mailbox = String::new();
        d.catalog.table = "Catalog".into();
        d.person.emails = vec!["Mail".into()];
        let text = dialect_toml(&d, std::path::Path::new("x.toml"));
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("# overridden"))
            .collect();
        assert_eq!(marked.len(), 3, "{text}");
        assert!(
            text.contains("mailbox = \"\"  # overridden (default \"Mailbox\")"),
            "{text}"
        );
        assert!(text.contains("emails = [\"Mail\"]  # overridden"), "{text}");
        // what is printed is a valid [crm.dialect] that gives the same dialect back
        let parsed: toml::Table = text.parse().unwrap();
        let back: gc_crm::Dialect = parsed["crm"]["dialect"].clone().try_into().unwrap();
        assert_eq!(back, d);
    }
}
