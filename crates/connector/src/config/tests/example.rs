//! `config/example.toml`: it parses, its values are the built-in defaults, and it documents
//! every key the parser knows; the test that keeps the example from drifting from the types.

use super::*;

#[test]
fn example_parses_and_validates_with_the_seed_defaults() {
    let config = load_text(EXAMPLE).unwrap();
    assert_eq!(config.emails.interval_minutes, 10);
    assert_eq!(config.emails.sync_folder, "/Inbox/crm");
    assert!(config.emails.create_sync_folder);
    assert_eq!(config.emails.success_folder, "Sync_Success");
    assert_eq!(config.emails.failure_folder, "Sync_Failure");
    assert_eq!(config.appointments.interval_minutes, 10);
    assert_eq!(
        (
            config.appointments.days_past,
            config.appointments.days_future
        ),
        (7, 7)
    );
    assert_eq!(config.tasks.interval_minutes, 10);
    assert_eq!(config.contacts.interval_minutes, 1440);
    assert_eq!(config.mailboxes.refresh_interval_minutes, 1440);
    assert_eq!(config.errors.crm_error_codes, vec![500, 511]);
    assert_eq!(config.crm.master_user, "OCSU");
    assert_eq!(config.state.url.expose(), "sqlite://graph-connector.db");
    assert_eq!(config.microsoft.graph_url, "https://graph.microsoft.com");
    assert_eq!(
        config.microsoft.login_url,
        "https://login.microsoftonline.com"
    );
}

#[test]
fn example_defaults_match_the_built_in_defaults() {
    // A file that only gives the required keys must behave like the example.
    let minimal = r#"
[microsoft]
tenant_id = "t"
client_id = "c"
client_secret = "s"
admin_email = "a@contoso.com"
managed_domains = ["contoso.com"]
[crm]
interface_url = "https://crm.contoso.com/crm/interface"
password = "p"
"#;
    let a = load_text(minimal).unwrap();
    let b = load_text(EXAMPLE).unwrap();
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    // Only the identity values differ.
    let strip = |s: &str| {
        s.replace("\"00000000-0000-0000-0000-000000000000\"", "\"t\"")
            .replace("\"11111111-1111-1111-1111-111111111111\"", "\"c\"")
            .replace("\"crm-admin@contoso.com\"", "\"a@contoso.com\"")
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn example_documents_every_key() {
    // Ask the parser for each section's known keys (via an unknown-key probe) and require that
    // the example mentions each of them, as a setting or as a commented-out line.
    let sections = [
        "microsoft",
        "crm",
        "state",
        "mailboxes",
        "emails",
        "appointments",
        "tasks",
        "contacts",
        "absences",
        "errors",
        "admin",
        "logging",
        "adoption",
    ];
    for section in sections {
        let text = EXAMPLE.replacen(
            &format!("[{section}]"),
            &format!("[{section}]\n__probe__ = 1"),
            1,
        );
        let found = issues(&text);
        let hint = found
            .iter()
            .find(|i| i.key == format!("{section}.__probe__"))
            .and_then(|i| i.hint.clone())
            .unwrap_or_default();
        let keys: Vec<&str> = hint
            .trim_start_matches("known keys: ")
            .split(", ")
            .collect();
        assert!(keys.len() > 1, "no key list for [{section}]: {hint}");
        for key in keys {
            // a key that is a table of its own (`[crm.dialect]`) is documented by its header
            let documented = EXAMPLE.contains(&format!("[{section}.{key}]"))
                || EXAMPLE.lines().any(|l| {
                    let l = l.trim_start_matches(['#', ' ']);
                    l.starts_with(&format!("{key} =")) || l.starts_with(&format!("{key}="))
                });
            assert!(
                documented,
                "[{section}] {key} is not documented in config/example.toml"
            );
        }
    }
}
