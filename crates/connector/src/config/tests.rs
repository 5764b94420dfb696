use std::path::Path;

use secrecy::ExposeSecret;

use super::*;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    load_str(text, Path::new("test.toml"), no_env())
}

fn issues(text: &str) -> Vec<Issue> {
    match load_text(text) {
        Ok(_) => panic!("expected the configuration to be rejected"),
        Err(e) => e.issues,
    }
}

/// The example with `replace` swapped for `with` (the example must contain `replace`).
fn example_with(replace: &str, with: &str) -> String {
    assert!(
        EXAMPLE.contains(replace),
        "the example no longer contains {replace:?}"
    );
    EXAMPLE.replacen(replace, with, 1)
}

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

#[test]
fn time_zone_and_interface_url_rules() {
    let with = |extra: &str| {
        example_with(
            "\nconcurrency = 16\n",
            &format!("\nconcurrency = 16\n{extra}\n"),
        )
    };
    let config = load_text(&with("time_zone = \"Europe/Vienna\"")).unwrap();
    assert_eq!(config.crm.time_zone.as_deref(), Some("Europe/Vienna"));
    let found = issues(&with("time_zone = \"Europe/Vinna\""));
    assert_eq!(found[0].key, "crm.time_zone", "{found:?}");

    let found = issues(&example_with(
        "interface_url = \"https://crm.contoso.com/crm/interface\"",
        &format!("interface_url = \"https://OCSU:{PLANTED}@crm.contoso.com/crm/interface\""),
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("user name or password"),
        "{found:?}"
    );
    assert!(!format!("{found:?}").contains(PLANTED));

    // plain http: a warning off this machine, nothing on loopback
    let remote = example_with(
        "interface_url = \"https://crm.contoso.com/crm/interface\"",
        "interface_url = \"http://crm.contoso.com/crm/interface\"",
    );
    let (_, warnings) = load_str_with_warnings(&remote, Path::new("test.toml"), no_env()).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].key, "crm.interface_url");
    assert!(warnings[0].message.contains("password"), "{warnings:?}");
    for local in [
        "http://127.0.0.1:8080/crm/interface",
        "http://localhost/crm",
        "http://[::1]:80/x",
    ] {
        let text = example_with(
            "interface_url = \"https://crm.contoso.com/crm/interface\"",
            &format!("interface_url = \"{local}\""),
        );
        let (_, warnings) =
            load_str_with_warnings(&text, Path::new("test.toml"), no_env()).unwrap();
        assert!(warnings.is_empty(), "{local}: {warnings:?}");
    }
}

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
fn neither_secret_nor_certificate_is_an_error() {
    let found = issues(&example_with("client_secret = \"change-me\"", ""));
    assert!(
        found
            .iter()
            .any(|i| i.key == "microsoft.client_secret" && i.message.contains("no credential")),
        "{found:?}"
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

const PLANTED: &str = "Pl4nted-S3cret-Do-Not-Show";

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

#[test]
fn managed_address_check_is_case_insensitive() {
    let config = load_text(EXAMPLE).unwrap();
    assert!(config.microsoft.is_managed_address("Anna@CONTOSO.com"));
    assert!(!config.microsoft.is_managed_address("anna@fabrikam.com"));
    assert!(!config.microsoft.is_managed_address("no-at-sign"));
}

#[test]
fn interval_zero_means_as_often_as_possible() {
    let text = example_with("interval_minutes = 10", "interval_minutes = 0");
    let config = load_text(&text).unwrap();
    assert_eq!(config.emails.interval_minutes, 0);
}

#[test]
fn admin_off_loopback_needs_a_token() {
    let text = example_with("listen = \"127.0.0.1:8089\"", "listen = \"0.0.0.0:8089\"");
    let found = issues(&text);
    assert!(
        found
            .iter()
            .any(|i| i.key == "admin.listen" && i.message.contains("no admin token")),
        "{found:?}"
    );
    let with_token = text.replace("# token = \"change-me\"", "token = \"s3cret-admin\"");
    assert!(load_text(&with_token).is_ok());
}

#[test]
fn client_secret_expiry_is_a_date() {
    let text = example_with(
        "# client_secret_expires = \"2027-06-30\"",
        "client_secret_expires = \"2027-06-30\"",
    );
    let config = crate::config::load_str(
        &text,
        std::path::Path::new("t.toml"),
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    assert_eq!(
        config.microsoft.client_secret_expires,
        Some(jiff::civil::date(2027, 6, 30))
    );
    let bad = example_with(
        "# client_secret_expires = \"2027-06-30\"",
        "client_secret_expires = \"June 2027\"",
    );
    assert!(
        issues(&bad)
            .iter()
            .any(|i| i.key == "microsoft.client_secret_expires")
    );
}

#[test]
fn parallel_is_auto_or_a_number_and_auto_follows_the_bound() {
    let auto = load_text(EXAMPLE).unwrap();
    assert_eq!(auto.mailboxes.parallel, Parallel::Auto);
    // Every mailbox at once, at most `requests_per_second` of them.
    assert_eq!(auto.mailboxes.parallel.resolve(20, 100), 20);
    assert_eq!(auto.mailboxes.parallel.resolve(10_000, 100), 100);
    assert_eq!(auto.mailboxes.parallel.resolve(0, 100), 1);
    let fixed = load_text(&example_with("\nparallel = \"auto\"", "\nparallel = 8")).unwrap();
    assert_eq!(fixed.mailboxes.parallel, Parallel::Fixed(8));
    assert_eq!(fixed.mailboxes.parallel.resolve(20, 100), 8);
    let found = issues(&example_with(
        "\nparallel = \"auto\"",
        "\nparallel = \"many\"",
    ));
    assert!(
        found.iter().any(|i| i.key == "mailboxes.parallel"),
        "{found:?}"
    );
}

#[test]
fn instance_name_names_the_process_in_its_leases() {
    let text = example_with(
        "# instance_name = \"connector-a\"",
        "instance_name = \"connector-a\"",
    );
    let config = load_text(&text).unwrap();
    let holder = crate::commands::sync::holder(&config);
    let pid = std::process::id().to_string();
    let parts: Vec<&str> = holder.split(':').collect();
    assert_eq!(parts.len(), 3, "{holder}");
    assert_eq!((parts[0], parts[1]), ("connector-a", pid.as_str()));
    // The start time keeps two processes of one name apart.
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert_ne!(crate::commands::sync::holder(&config), holder);
    for bad in ["a/b", "a:b", "", "with space"] {
        let text = example_with(
            "# instance_name = \"connector-a\"",
            &format!("instance_name = {bad:?}"),
        );
        let found = issues(&text);
        assert!(
            found.iter().any(|i| i.key == "state.instance_name"),
            "{bad:?}: {found:?}"
        );
    }
}

#[test]
fn page_size_is_between_1_and_1000_and_reaches_the_graph_client() {
    let with = |n: &str| example_with("\npage_size = 10\n", &format!("\npage_size = {n}\n"));
    for bad in ["0", "1001"] {
        let found = issues(&with(bad));
        assert_eq!(found[0].key, "microsoft.page_size", "{bad}: {found:?}");
    }
    let found = issues(&example_with(
        "mailbox_concurrency = 4",
        "mailbox_concurrency = 5",
    ));
    assert_eq!(found[0].key, "microsoft.mailbox_concurrency", "{found:?}");
    let config = load_text(&with("200")).unwrap();
    let options = crate::wiring::graph_options(&config).unwrap();
    assert_eq!(options.page_size, Some(200));
    assert_eq!(
        options.tenant_budget,
        Some(gc_graph::Budget::per_second(500))
    );
    // Two items in flight per Graph slot of the mailbox.
    assert_eq!(crate::wiring::run_policy(&config).item_concurrency, 8);
}

#[test]
fn worker_threads_defaults_to_one_and_a_typo_is_refused() {
    assert_eq!(load_text(EXAMPLE).unwrap().service.worker_threads, 1);
    let with = |n: &str| example_with("worker_threads = 1\n", &format!("worker_threads = {n}\n"));
    assert_eq!(load_text(&with("0")).unwrap().service.worker_threads, 0);
    assert_eq!(load_text(&with("64")).unwrap().service.worker_threads, 64);
    let found = issues(&with("1000"));
    assert_eq!(found[0].key, "service.worker_threads", "{found:?}");
    assert!(
        found[0].message.contains("1000 is more than 64"),
        "{found:?}"
    );
}
