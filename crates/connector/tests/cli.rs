//! The binary as an administrator uses it: `config example`, `config validate`, `--help`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_graph-connector"));
    // Keep the developer's own environment out of the test.
    for (key, _) in std::env::vars() {
        if key.starts_with("GRAPH_CONNECTOR") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn example_config_validates() {
    let example = bin().args(["config", "example"]).output().unwrap();
    assert!(example.status.success());
    assert_eq!(
        String::from_utf8(example.stdout.clone()).unwrap(),
        graph_connector::config::EXAMPLE
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph-connector.toml");
    std::fs::write(&path, &example.stdout).unwrap();
    let out = bin()
        .args(["config", "validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("the configuration is valid"));
}

#[test]
fn validate_reports_every_problem_and_no_secret() {
    let secret = "Zz-Planted-Secret-9";
    let config = graph_connector::config::EXAMPLE
        .replacen(
            "client_secret = \"change-me\"",
            &format!("client_secret = {{ v = \"{secret}\" }}"),
            1,
        )
        .replacen(
            "managed_domains = [\"contoso.com\"]",
            "managed_domains = [\"@contoso.com\"]",
            1,
        )
        .replacen(
            "sync_folder = \"/Inbox/crm\"",
            "sync_foldr = \"/Inbox/crm\"",
            1,
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config).unwrap();
    let out = bin()
        .args(["config", "validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("[microsoft] client_secret: wrong type"),
        "{shown}"
    );
    assert!(shown.contains("[microsoft] managed_domains"), "{shown}");
    assert!(shown.contains("did you mean `sync_folder`?"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
}

#[test]
fn environment_overrides_apply_to_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph-connector.toml");
    std::fs::write(&path, graph_connector::config::EXAMPLE).unwrap();
    let out = bin()
        .args(["config", "validate", "--config"])
        .arg(&path)
        .env("GRAPH_CONNECTOR__MAILBOXES__PARALLEL", "0")
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("environment variable GRAPH_CONNECTOR__MAILBOXES__PARALLEL: [mailboxes] parallel: 0 is not allowed"),
        "{shown}"
    );
}

#[test]
fn missing_file_says_how_to_create_one() {
    let out = bin()
        .args([
            "config",
            "validate",
            "--config",
            "/nonexistent/graph-connector.toml",
        ])
        .output()
        .unwrap();
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        shown.contains("config example > graph-connector.toml"),
        "{shown}"
    );
}

#[test]
fn help_explains_the_commands() {
    let out = bin().arg("--help").output().unwrap();
    let shown = text(&out);
    assert!(out.status.success());
    assert!(shown.contains("Aurea CRM"), "{shown}");
    assert!(shown.contains("config"), "{shown}");
    let out = bin()
        .args(["config", "validate", "--help"])
        .output()
        .unwrap();
    assert!(text(&out).contains("GRAPH_CONNECTOR__SECTION__KEY"));
}

#[test]
fn version_names_the_commit() {
    let out = bin().arg("--version").output().unwrap();
    let shown = text(&out);
    assert!(out.status.success());
    assert!(
        shown.starts_with(&format!(
            "graph-connector {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{shown}"
    );
    assert!(!shown.contains("(commit )"), "{shown}");
}
