//! `[crm.dialect]`: the example's commented block against `gc_crm::Dialect` key by key, and the
//! dialect's keys set, checked and suggested like any other section's; separate because the
//! section is a type of another crate, nested two levels deep.

use std::path::Path;

use super::*;

/// The example's `[crm.dialect]` block, uncommented.
fn example_dialect_block() -> String {
    let start = EXAMPLE.find("# [crm.dialect]\n").unwrap();
    let end = EXAMPLE[start..]
        .find("\n\n")
        .map_or(EXAMPLE.len(), |e| start + e);
    EXAMPLE[start..end]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(""))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn example_documents_every_dialect_key_with_its_default() {
    let block = example_dialect_block();
    let table: toml::Table = block.parse().unwrap();
    let parsed: gc_crm::Dialect = table["crm"]["dialect"].clone().try_into().unwrap();
    assert_eq!(parsed, gc_crm::Dialect::default());
    let d = gc_crm::Dialect::default();
    for k in d.keys() {
        let section = match k.section() {
            Some(s) => table["crm"]["dialect"][s].as_table().unwrap(),
            None => table["crm"]["dialect"].as_table().unwrap(),
        };
        assert!(
            section.contains_key(k.leaf()),
            "{} is not in the example",
            k.toml_key()
        );
    }
    // and uncommented, the block is a valid configuration
    let text = format!("{EXAMPLE}\n{block}\n");
    let config = load_text(&text).unwrap();
    assert_eq!(config.crm.dialect, gc_crm::Dialect::default());
}

#[test]
fn dialect_keys_are_configurable_checked_and_suggested() {
    let text = format!(
        "{EXAMPLE}\n[crm.dialect]\ntrue_value = \"1\"\n[crm.dialect.external_key]\nmailbox = \"\"\n[crm.dialect.catalog]\ntable = \"Catalog\"\ncatalog = \"CatalogName\"\n[crm.dialect.rep]\nconnector_enabled = \"EnableConnector\"\n"
    );
    let config = load_text(&text).unwrap();
    let d = &config.crm.dialect;
    assert_eq!(d.true_value, "1");
    assert_eq!(d.external_key.mailbox, "");
    assert_eq!(
        d.external_key.ext_key, "ExtKey",
        "other keys keep their default"
    );
    assert_eq!(
        (d.catalog.table.as_str(), d.catalog.catalog.as_str()),
        ("Catalog", "CatalogName")
    );
    assert_eq!(d.rep.connector_enabled, "EnableConnector");

    // an unknown key: did you mean, with the line
    let typo = format!("{EXAMPLE}\n[crm.dialect.rep]\nconector_enabled = \"X\"\n");
    let found = issues(&typo);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "crm.dialect.rep.conector_enabled");
    let shown = found[0].to_string();
    assert!(
        shown.contains("[crm.dialect.rep] conector_enabled"),
        "{shown}"
    );
    assert!(
        shown.contains("did you mean `connector_enabled`?"),
        "{shown}"
    );
    let line = typo.lines().count();
    assert!(shown.contains(&format!("test.toml:{line}")), "{shown}");

    // a required name left empty, and a bad name
    let bad = format!(
        "{EXAMPLE}\n[crm.dialect.rep]\ntable = \"\"\n[crm.dialect.activity]\nsubject = \"Sub ject\"\n"
    );
    let found = issues(&bad);
    let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        ["crm.dialect.rep.table", "crm.dialect.activity.subject"],
        "{found:?}"
    );

    // from the environment, nested
    let env = vec![(
        "GRAPH_CONNECTOR__CRM__DIALECT__EXTERNAL_KEY__MAILBOX".to_owned(),
        String::new(),
    )];
    let config = load_str(EXAMPLE, Path::new("test.toml"), env).unwrap();
    assert_eq!(config.crm.dialect.external_key.mailbox, "");
}
