//! `graph-connector check` against the sandbox: it passes on a healthy tenant and names the
//! cause and the fix for each failure an administrator meets (the sandbox's failure switches).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use gc_sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

struct Tenant {
    sandbox: Sandbox,
    config: PathBuf,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Tenant {
    async fn start() -> Tenant {
        let sandbox = gc_sandbox::start(SandboxOptions {
            users: 6,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("graph-connector.toml");
        sandbox.write_config(&config).unwrap();
        Tenant {
            sandbox,
            config,
            _dir: dir,
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.sandbox.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
    }

    /// Run `check --json` (plus `extra` arguments) and return (exit code, report).
    async fn check(&self, extra: &[&str]) -> (i32, Value) {
        let config = self.config.clone();
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        tokio::task::spawn_blocking(move || run_check(&config, &extra))
            .await
            .unwrap()
    }
}

fn run_check(config: &Path, extra: &[String]) -> (i32, Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["check", "--json", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn find<'a>(report: &'a Value, name_part: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains(name_part))
        .unwrap_or_else(|| panic!("no check named like {name_part}: {report:#}"))
}

fn text(check: &Value) -> String {
    format!(
        "{} {}",
        check["cause"].as_str().unwrap_or(""),
        check["fix"].as_str().unwrap_or("")
    )
    .to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_tenant_passes_and_reps_without_mailbox_are_warnings() {
    let t = Tenant::start().await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    for name in [
        "access token",
        "permission Mail.ReadWrite",
        "crm.login",
        "crm.catalogs",
        "crm.impersonation",
    ] {
        assert_eq!(find(&report, name)["status"], "ok", "{name}: {report:#}");
    }
    // The seed's rep without a mailbox and its rep outside the managed domains are named.
    let warnings: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["area"] == "mailbox" && c["status"] == "warning")
        .collect();
    assert!(
        warnings
            .iter()
            .any(|c| text(c).contains("no microsoft 365 mailbox")),
        "{report:#}"
    );
    assert!(
        warnings
            .iter()
            .any(|c| text(c).contains("outside the managed domains")),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_secret_is_named_with_its_fix() {
    let t = Tenant::start().await;
    t.control("/_sandbox/auth", json!({"secretExpired": true}))
        .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    let token = find(&report, "access token");
    assert_eq!(token["status"], "failed");
    let said = text(token);
    assert!(said.contains("expired"), "{said}");
    assert!(said.contains("new") && said.contains("secret"), "{said}");
    // The secret itself never shows.
    let secret = t.sandbox.credentials().client_secret.clone();
    assert!(!report.to_string().contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tenant_and_wrong_client_are_told_apart() {
    let t = Tenant::start().await;
    t.control("/_sandbox/auth", json!({"tenantUnknown": true}))
        .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    assert!(
        text(find(&report, "access token")).contains("tenant"),
        "{report:#}"
    );

    t.control("/_sandbox/auth", json!({"reset": true, "appUnknown": true}))
        .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    assert!(
        text(find(&report, "access token")).contains("client id"),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_consent_names_the_permission() {
    let t = Tenant::start().await;
    t.control(
        "/_sandbox/auth",
        json!({"removeRoles": ["Calendars.ReadWrite"], "revokeTokens": true}),
    )
    .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    let perm = find(&report, "permission Calendars.ReadWrite");
    assert_eq!(perm["status"], "failed");
    assert!(text(perm).contains("consent"), "{report:#}");
    assert_eq!(find(&report, "permission Mail.ReadWrite")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_crm_password_is_named() {
    let t = Tenant::start().await;
    t.control(
        "/_sandbox/crm/password",
        json!({"password": "rotated-elsewhere"}),
    )
    .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    let login = find(&report, "crm.login");
    assert_eq!(login["status"], "failed");
    assert!(text(login).contains("password"), "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_catalog_values_are_named_and_fixed() {
    let t = Tenant::start().await;
    t.control("/_sandbox/crm/catalogs/remove-required", json!({}))
        .await;
    let (code, report) = t.check(&[]).await;
    assert_eq!(code, 1);
    let catalogs = find(&report, "crm.catalogs");
    assert_eq!(catalogs["status"], "failed");
    assert!(text(catalogs).contains("text/x-mmtasks"), "{report:#}");
    assert!(text(catalogs).contains("--fix-catalogs"), "{report:#}");

    let (code, report) = t.check(&["--fix-catalogs"]).await;
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(find(&report, "crm.catalogs")["status"], "ok");
    let (code, _) = t.check(&[]).await;
    assert_eq!(code, 0);
}
