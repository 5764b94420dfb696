//! How a refused file's mistakes are reported: a wrong type, an unknown key or section, a bad
//! choice and a syntax error each named with its key, line and a hint, and all of them at once.

use super::*;

#[test]
fn wrong_type_names_key_line_and_what_to_write() {
    let found = issues(&example_with(
        "interval_minutes = 10",
        "interval_minutes = \"ten\"",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    let text = found[0].to_string();
    assert!(text.starts_with("test.toml:"), "{text}");
    assert!(text.contains("[emails] interval_minutes"), "{text}");
    assert!(text.contains("found text"), "{text}");
    assert!(text.contains("whole number"), "{text}");
    let line = EXAMPLE
        .lines()
        .position(|l| l.starts_with("interval_minutes = 10"))
        .unwrap()
        + 1;
    assert_eq!(
        found[0].origin,
        Origin::File {
            path: "test.toml".into(),
            line: Some(line)
        }
    );
}

#[test]
fn unknown_key_gets_a_did_you_mean() {
    let found = issues(&example_with("html_body = true", "html_bdy = true"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "emails.html_bdy");
    assert_eq!(found[0].hint.as_deref(), Some("did you mean `html_body`?"));
}

#[test]
fn unknown_section_gets_a_did_you_mean() {
    let found = issues(&example_with("[appointments]", "[apointments]"));
    let unknown: Vec<_> = found.iter().filter(|i| i.key == "apointments").collect();
    assert_eq!(unknown.len(), 1, "{found:?}");
    assert_eq!(
        unknown[0].hint.as_deref(),
        Some("did you mean [appointments]?")
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = example_with(
        "graph_url = \"https://graph.microsoft.com\"",
        "graph_url = \"graph.microsoft.com\"",
    )
    .replacen(
        "managed_domains = [\"contoso.com\"]",
        "managed_domains = [\"@contoso.com\"]",
        1,
    )
    .replacen("html_body = true", "html_bdy = true", 1)
    .replacen("max_retries = 6", "max_retries = \"six\"", 1)
    .replacen("\nparallel = \"auto\"", "\nparallel = 0", 1)
    .replacen(
        "# certificate = \"/etc/graph-connector/app.pfx\"",
        "certificate = \"/nonexistent/app.pfx\"",
        1,
    );
    let found = issues(&text);
    let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
    for expected in [
        "microsoft.graph_url",
        "microsoft.managed_domains",
        "emails.html_bdy",
        "errors.max_retries",
        "mailboxes.parallel",
        "microsoft.certificate",
    ] {
        assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
    }
    let all = ConfigError { issues: found }.to_string();
    assert!(all.contains("URL without scheme"), "{all}");
    assert!(all.contains("without \"@\": \"contoso.com\""), "{all}");
    assert!(all.contains("0 is not allowed"), "{all}");
    assert!(
        all.contains("both `client_secret` and `certificate`"),
        "{all}"
    );
}

#[test]
fn invalid_enum_value_lists_the_choices() {
    let found = issues(&example_with(
        "attachments = \"all\"",
        "attachments = \"al\"",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "emails.attachments");
    assert_eq!(found[0].hint.as_deref(), Some("did you mean \"all\"?"));
}

#[test]
fn syntax_error_gives_the_line_without_quoting_it() {
    let text = example_with(
        "client_secret = \"change-me\"",
        "client_secret = \"Sup3r-S3cret-Value",
    );
    let found = issues(&text);
    assert_eq!(found.len(), 1);
    let rendered = found[0].to_string();
    assert!(rendered.contains("not valid TOML"), "{rendered}");
    assert!(!rendered.contains("Sup3r-S3cret-Value"), "{rendered}");
    assert!(
        matches!(found[0].origin, Origin::File { line: Some(_), .. }),
        "{rendered}"
    );
}
