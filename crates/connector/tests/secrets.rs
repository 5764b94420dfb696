//! Secrets and transport: a password in the state store URL's query string never shows in
//! any command's output (logs at trace level included); `[crm] ca_file` is what lets the
//! connector talk to the sandbox's HTTPS CRM.interface; the files written for the sandbox are
//! readable by their owner only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use gc_sandbox::SandboxOptions;
use rand::Rng as _;
use serde_json::Value;

const PLANTED: &str = "Pl4nted-Query-S3cret";

fn binary(args: &[&str], config: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--log-level", "trace"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap()
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The PostgreSQL URL of the tests (`DATABASE_URL`), or `None` when PostgreSQL tests are
/// skipped on purpose (`GC_SKIP_PG=1`), as in the store's tests.
fn pg_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("GC_SKIP_PG").as_deref() == Ok("1") => None,
        _ => panic!(
            "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test); set GC_SKIP_PG=1 to skip PostgreSQL tests"
        ),
    }
}

async fn sandbox_config(
    opts: SandboxOptions,
    dir: &Path,
) -> (gc_sandbox::Sandbox, std::path::PathBuf) {
    let sandbox = gc_sandbox::start(opts).await.unwrap();
    let config = dir.join("graph-connector.toml");
    sandbox.write_config(&config).unwrap();
    (sandbox, config)
}

fn set_state_url(config: &Path, url: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .unwrap()
        .to_owned();
    let quoted = toml::Value::String(url.to_owned()).to_string();
    std::fs::write(config, text.replace(&line, &format!("url = {quoted}"))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_state_urls_query_string_never_shows() {
    let Some(admin) = pg_url() else { return };
    // a schema of its own; the password travels in the query string
    let schema = format!("gc_secrets_{:016x}", rand::rng().random::<u64>());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    // a real password moves into the query string; without one (trust authentication) a
    // planted one is ignored by the server
    let secret = url.password().map_or(PLANTED.to_owned(), str::to_owned);
    url.set_password(None).unwrap();
    url.query_pairs_mut()
        .append_pair("options", &format!("-csearch_path={schema}"))
        .append_pair("password", &secret);

    let dir = tempfile::tempdir().unwrap();
    let (sandbox, config) = sandbox_config(
        SandboxOptions {
            users: 3,
            messages_per_mailbox: 2,
            ..SandboxOptions::default()
        },
        dir.path(),
    )
    .await;
    set_state_url(&config, url.as_str());
    let st = sandbox.state();
    for u in sandbox.directory().mailbox_users() {
        let _ = st.file_inbox_messages(&u.email, 2, "Inbox/crm");
    }

    let runs: &[&[&str]] = &[
        &["config", "validate"],
        &["config", "dialect"],
        &["check"],
        &["check", "--json"],
        &["sync", "--once"],
        &["sync", "--once", "--json"],
        &["ledger", "show"],
        &["ledger", "export"],
    ];
    let mut shown = String::new();
    for args in runs {
        let config = config.clone();
        let owned: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let out = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = owned.iter().map(String::as_str).collect();
            binary(&args, &config)
        })
        .await
        .unwrap();
        let text = all_output(&out);
        assert!(
            !text.contains(&secret),
            "{args:?} shows the password:\n{text}"
        );
        if args[0] == "sync" {
            assert!(out.status.success(), "{args:?}: {text}");
        }
        shown.push_str(&text);
    }
    // the URL was shown, redacted, and the store worked through it
    assert!(shown.contains("password=***"), "{shown}");
    assert!(shown.contains("filed"), "{shown}");

    // a parameter the driver would ignore is refused at validation, by name only
    let mut bad = url.clone();
    bad.query_pairs_mut().append_pair("sslpassword", PLANTED);
    set_state_url(&config, bad.as_str());
    let out = binary(&["config", "validate"], &config);
    let text = all_output(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("sslpassword") && !text.contains(PLANTED),
        "{text}"
    );

    sandbox.shutdown().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn check_json(config: &Path) -> Value {
    let config = config.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
            .args(["check", "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn status<'a>(report: &'a Value, name: &str) -> &'a Value {
    &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {report:#}"))["status"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_ca_file_is_what_trusts_the_https_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, config) = sandbox_config(
        SandboxOptions {
            users: 3,
            messages_per_mailbox: 1,
            tls: true,
            ..SandboxOptions::default()
        },
        dir.path(),
    )
    .await;
    assert!(sandbox.url().starts_with("https://"));
    let report = check_json(&config).await;
    assert_eq!(status(&report, "crm.login"), "ok", "{report:#}");
    assert_eq!(status(&report, "crm.schema"), "ok", "{report:#}");

    // without [crm] ca_file (the Microsoft side keeps its own), CRM.interface is not trusted
    let text = std::fs::read_to_string(&config).unwrap();
    let crm_at = text.find("[crm]").unwrap();
    let (head, tail) = text.split_at(crm_at);
    let tail: String = tail
        .lines()
        .filter(|l| !l.starts_with("ca_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    // (a refused certificate is retried like any connection failure: keep that short)
    std::fs::write(
        &config,
        format!("{head}{tail}\n[errors]\nmax_retries = 1\ninitial_backoff_seconds = 1\n"),
    )
    .unwrap();
    let report = check_json(&config).await;
    assert_eq!(status(&report, "crm.reachable"), "failed", "{report:#}");
    assert_eq!(status(&report, "access token"), "ok", "{report:#}");
    sandbox.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn files_written_for_the_sandbox_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sandbox.toml");
    // an existing, world-readable file is narrowed too
    std::fs::write(&config, "old").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sandbox = gc_sandbox::start(SandboxOptions {
        users: 2,
        messages_per_mailbox: 1,
        tls: true,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    sandbox.write_config(&config).unwrap();
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(&dir.path().join("sandbox-ca.pem")), 0o600);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&sandbox.credentials().crm_password));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_machine_is_a_warning_in_validate_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, config) = sandbox_config(
        SandboxOptions {
            users: 2,
            messages_per_mailbox: 1,
            ..SandboxOptions::default()
        },
        dir.path(),
    )
    .await;
    // CRM.interface on another machine (which does not exist), over plain http
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("interface_url"))
        .unwrap()
        .to_owned();
    std::fs::write(
        &config,
        text.replace(
            &line,
            "interface_url = \"http://crm.invalid/crm/interface\"",
        ) + "\n[errors]\nmax_retries = 0\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["config", "validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("[crm] interface_url"),
        "{stderr}"
    );
    let report = check_json(&config).await;
    let line = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area"] == "config" && c["name"] == "crm.interface_url")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(line["status"], "warning");
    assert!(
        line["cause"].as_str().unwrap().contains("password"),
        "{line}"
    );
    sandbox.shutdown().await;
}
