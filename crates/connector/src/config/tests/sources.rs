//! Where values come from besides the file: `GRAPH_CONNECTOR__…` environment overrides (and
//! errors naming the variable) and `*_file` secrets read from files.

use std::path::Path;

use secrecy::ExposeSecret;

use super::*;

#[test]
fn environment_overrides_keys_and_is_named_in_errors() {
    let env = vec![
        (
            "GRAPH_CONNECTOR__MICROSOFT__CLIENT_SECRET".to_owned(),
            "from-env".to_owned(),
        ),
        (
            "GRAPH_CONNECTOR__EMAILS__INTERVAL_MINUTES".to_owned(),
            "5".to_owned(),
        ),
        (
            "GRAPH_CONNECTOR__MICROSOFT__MANAGED_DOMAINS".to_owned(),
            "[\"a.com\", \"b.com\"]".to_owned(),
        ),
        (
            "GRAPH_CONNECTOR__CRM__PASSWORD".to_owned(),
            "12345".to_owned(),
        ),
        ("UNRELATED".to_owned(), "x".to_owned()),
    ];
    let config = load_str(EXAMPLE, Path::new("test.toml"), env).unwrap();
    assert_eq!(
        config.microsoft.client_secret.unwrap().expose_secret(),
        "from-env"
    );
    assert_eq!(config.emails.interval_minutes, 5);
    assert_eq!(config.microsoft.managed_domains, vec!["a.com", "b.com"]);
    // A numeric-looking secret stays text.
    assert_eq!(config.crm.password.unwrap().expose_secret(), "12345");

    let env = vec![(
        "GRAPH_CONNECTOR__MAILBOXES__PARALLEL".to_owned(),
        "0".to_owned(),
    )];
    let err = load_str(EXAMPLE, Path::new("test.toml"), env).unwrap_err();
    assert_eq!(err.issues.len(), 1);
    assert_eq!(
        err.issues[0].origin,
        Origin::Env("GRAPH_CONNECTOR__MAILBOXES__PARALLEL".into())
    );
    let env = vec![("GRAPH_CONNECTOR__NOSECTIONKEY".to_owned(), "1".to_owned())];
    assert!(load_str(EXAMPLE, Path::new("test.toml"), env).is_err());
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{PLANTED}\n")).unwrap();
    let text = example_with(
        "client_secret = \"change-me\"",
        &format!("client_secret_file = \"{}\"", secret.display()),
    )
    .replacen(
        "password = \"change-me\"",
        &format!("password_file = \"{}\"", secret.display()),
        1,
    );
    let config = load_text(&text).unwrap();
    assert_eq!(
        config.microsoft.client_secret.unwrap().expose_secret(),
        PLANTED
    );
    assert_eq!(config.crm.password.unwrap().expose_secret(), PLANTED);

    // Both the value and the file: refused. A missing file: named, without any content.
    let both = example_with(
        "# client_secret_file = \"/run/secrets/graph-client-secret\"",
        &format!("client_secret_file = \"{}\"", secret.display()),
    );
    let found = issues(&both);
    assert!(
        found
            .iter()
            .any(|i| i.key == "microsoft.client_secret_file" && i.message.contains("both")),
        "{found:?}"
    );
    let missing = example_with(
        "password = \"change-me\"",
        "password_file = \"/nonexistent/secret\"",
    );
    let found = issues(&missing);
    assert!(
        found
            .iter()
            .any(|i| i.key == "crm.password_file" && i.message.contains("/nonexistent/secret")),
        "{found:?}"
    );
}
