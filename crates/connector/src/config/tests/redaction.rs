//! Secrets never shown: a planted secret stays out of every message and `Debug` output, and a
//! database URL's password is redacted (or refused, for a parameter the driver would log).

use secrecy::ExposeSecret;

use super::*;

#[test]
fn a_planted_secret_never_shows_in_messages_or_debug() {
    // The secret in a wrong-typed secret key, in a wrong place, in a table, and in a valid
    // config's Debug output.
    for text in [
        example_with(
            "client_secret = \"change-me\"",
            &format!("client_secret = [\"{PLANTED}\"]"),
        ),
        example_with(
            "password = \"change-me\"",
            &format!("password = {{ x = \"{PLANTED}\" }}"),
        ),
        example_with(
            "level = \"info\"",
            &format!("level = \"{PLANTED}\"\nclient_secret = \"{PLANTED}\""),
        ),
        example_with("[crm]", &format!("[crm]\npasword = \"{PLANTED}\"")),
    ] {
        let err = load_text(&text).unwrap_err();
        let shown = format!("{err}\n{err:?}");
        assert!(!shown.contains(PLANTED), "secret leaked: {shown}");
    }
    let ok = load_text(&example_with(
        "client_secret = \"change-me\"",
        &format!("client_secret = \"{PLANTED}\""),
    ))
    .unwrap();
    assert!(!format!("{ok:?}").contains(PLANTED));
    assert_eq!(ok.microsoft.client_secret.unwrap().expose_secret(), PLANTED);
}

#[test]
fn a_postgres_password_is_redacted_in_debug_and_display() {
    let text = example_with(
        "url = \"sqlite://graph-connector.db\"",
        &format!("url = \"postgres://connector:{PLANTED}@db.contoso.com/state\""),
    );
    let config = load_text(&text).unwrap();
    let shown = format!("{} {:?}", config.state.url, config);
    assert!(!shown.contains(PLANTED), "{shown}");
    assert!(
        shown.contains("postgres://connector:***@db.contoso.com/state"),
        "{shown}"
    );
    // passwords in the query string too
    let text = example_with(
        "url = \"sqlite://graph-connector.db\"",
        &format!(
            "url = \"postgres://connector@db.contoso.com/state?password={PLANTED}&sslmode=verify-full\""
        ),
    );
    let config = load_text(&text).unwrap();
    let shown = format!("{} {:?}", config.state.url, config);
    assert!(!shown.contains(PLANTED), "{shown}");
    assert!(
        shown.contains("password=***&sslmode=verify-full"),
        "{shown}"
    );
    // a parameter the driver would ignore (and log with its value) is refused, by name only
    let text = example_with(
        "url = \"sqlite://graph-connector.db\"",
        &format!("url = \"postgres://connector@db.contoso.com/state?sslpassword={PLANTED}\""),
    );
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "state.url");
    assert!(found[0].message.contains("sslpassword"), "{found:?}");
    assert!(!format!("{found:?} {}", found[0]).contains(PLANTED));
}
