//! The rules a well-typed configuration must still satisfy (`validate.rs`), and settings whose
//! value reaches the code that uses it: time zone, URLs, credentials, the admin listener,
//! `parallel`, the instance name, the store's connections, page size and worker threads.

use std::path::Path;

use super::*;

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
fn state_connections_reach_the_store_and_are_at_least_one() {
    let config = load_text(&example_with("# connections = 1", "connections = 3")).unwrap();
    assert_eq!(
        crate::wiring::store_options(&config).max_connections,
        Some(3)
    );
    // Left out: the store's default for its backend.
    let config = load_text(EXAMPLE).unwrap();
    assert_eq!(crate::wiring::store_options(&config).max_connections, None);
    let found = issues(&example_with("# connections = 1", "connections = 0"));
    assert!(
        found.iter().any(|i| i.key == "state.connections"),
        "{found:?}"
    );
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

/// The backoff is a number of seconds with an optional fraction, in the file and from the
/// environment, that reaches both clients' retry loops; nothing outside (0, a day] is taken.
#[test]
fn backoff_seconds_may_have_a_fraction_and_must_be_positive() {
    let config = load_text(&example_with(
        "initial_backoff_seconds = 1\nmax_backoff_seconds = 300",
        "initial_backoff_seconds = 0.25\nmax_backoff_seconds = 2",
    ))
    .unwrap();
    assert_eq!(config.errors.initial_backoff_seconds, 0.25);
    assert_eq!(config.errors.max_backoff_seconds, 2.0);
    let graph = crate::wiring::graph_options(&config).unwrap();
    assert_eq!(graph.base_backoff, std::time::Duration::from_millis(250));
    assert_eq!(graph.max_backoff, std::time::Duration::from_secs(2));

    let env = vec![(
        "GRAPH_CONNECTOR__ERRORS__INITIAL_BACKOFF_SECONDS".to_owned(),
        "0.5".to_owned(),
    )];
    let config = load_str(EXAMPLE, Path::new("test.toml"), env).unwrap();
    assert_eq!(config.errors.initial_backoff_seconds, 0.5);

    for (bad, key) in [
        (
            "initial_backoff_seconds = 0",
            "errors.initial_backoff_seconds",
        ),
        (
            "initial_backoff_seconds = -1",
            "errors.initial_backoff_seconds",
        ),
        (
            "initial_backoff_seconds = nan",
            "errors.initial_backoff_seconds",
        ),
        (
            "initial_backoff_seconds = 1e30",
            "errors.initial_backoff_seconds",
        ),
    ] {
        let found = issues(&example_with("initial_backoff_seconds = 1", bad));
        assert!(found.iter().any(|p| p.key == key), "{bad}: {found:?}");
    }
    let found = issues(&example_with(
        "max_backoff_seconds = 300",
        "max_backoff_seconds = 0.5",
    ));
    assert_eq!(found[0].key, "errors.max_backoff_seconds", "{found:?}");
}
