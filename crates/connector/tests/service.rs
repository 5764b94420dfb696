//! `graph-connector run` as a child process against the sandbox: a message filed after the
//! start lands in CRM; `/metrics` parses as Prometheus text; SIGTERM during a busy run stops
//! the process with nothing lost (the next `run` completes the rest); the admin server wants
//! its token off loopback; alerts reach the administrator for an excluded mailbox and an
//! expiring certificate.
//!
//! Deadlines below are generous upper bounds for a loaded CI machine; no test asserts speed.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::{NewMessage, SandboxOptions};
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn start(config: &Path, args: &[&str]) -> Run {
        Self::start_with_log(config, args, Some("info,sqlx=warn"))
    }

    fn start_with_log(config: &Path, args: &[&str], rust_log: Option<&str>) -> Run {
        let log = config.with_file_name(format!("run-{}.log", free_port()));
        let mut c = Command::new(env!("CARGO_BIN_EXE_graph-connector"));
        match rust_log {
            Some(l) => c.env("RUST_LOG", l),
            None => c.env_remove("RUST_LOG"),
        };
        c.args(["run", "--config"])
            .arg(config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Run {
            child: c.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// SIGTERM and wait for the exit; returns (success, how long it took).
    async fn term(mut self) -> (bool, Duration) {
        let t0 = Instant::now();
        self.signal("-TERM");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), t0.elapsed());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "no exit after SIGTERM: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Poll `f` every 200 ms until it returns `Some`, for at most `secs`.
async fn eventually<T, F, Fut>(what: &str, secs: u64, run: Option<&mut Run>, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    let mut run = run;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if let Some(r) = run.as_mut()
            && let Some(status) = r.child.try_wait().unwrap()
        {
            panic!(
                "`run` exited ({status}) while waiting for {what}: {}",
                r.log()
            );
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let log = run.map(|r| r.log()).unwrap_or_default();
            panic!("timed out waiting for {what}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn store_of(env: &Env) -> std::sync::Arc<dyn StateStore> {
    gc_store::open(&format!(
        "sqlite://{}",
        env.dir.path().join("graph-connector-sandbox.db").display()
    ))
    .await
    .unwrap()
}

fn message(subject: &str, to: &str) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        from: Some("buyer@acme-industries.example".into()),
        to: vec![to.into()],
        body_html: Some(format!("<p>{subject}</p>")),
        folder: Some(SYNC.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_files_messages_filed_after_start_and_exports_metrics() {
    let port = free_port();
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 3,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let mut run = Run::start(&env.config_path(), &[]);
    let client = http();

    // Up, with the mailbox list read and every mailbox run once.
    let rows: Vec<serde_json::Value> = eventually("every mailbox ran", 60, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/mailboxes");
        async move {
            let rows: Vec<serde_json::Value> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            (!rows.is_empty() && rows.iter().all(|r| !r["last_run"].is_null())).then_some(rows)
        }
    })
    .await;
    let user = env.enabled_users().await[0].clone();
    let row = rows.iter().find(|r| r["mailbox"] == user.as_str()).unwrap();
    for key in [
        "mailbox",
        "kind",
        "state",
        "last_success",
        "next_due",
        "last_error",
    ] {
        assert!(row.get(key).is_some(), "{key} missing in {row}");
    }
    assert_eq!(row["kind"], "email");
    assert_eq!(row["state"], "ok");
    let health: serde_json::Value = client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true, "{health}");
    assert!(health["checks"].as_array().unwrap().len() >= 5);

    // A message filed now lands in CRM by itself.
    let subject = "Filed while the service runs";
    env.demo
        .sandbox
        .state()
        .deliver(&user, message(subject, &user))
        .unwrap();
    let filed_at = Instant::now();
    eventually("the activity in CRM", 60, Some(&mut run), || async {
        env.email_activities()
            .await
            .iter()
            .any(|a| a.get("Subject") == Some(subject))
            .then_some(())
    })
    .await;
    eprintln!("filed message in CRM after {:?}", filed_at.elapsed());
    let entries: Vec<serde_json::Value> = client
        .get(format!("{base}/api/ledger?mailbox={user}&action=created"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        entries.iter().any(|e| e["detail"]["subject"] == subject),
        "{entries:?}"
    );

    // /metrics in the Prometheus text format, by a parser.
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .reduce(|a, b| a + b)
    };
    assert!(
        value(
            "graph_connector_items_total",
            &[("kind", "email"), ("action", "filed")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(value("graph_connector_requests_total", &[("side", "graph")]).unwrap() > 0.0);
    assert!(
        value(
            "graph_connector_requests_total",
            &[("side", "crm"), ("status", "ok")]
        )
        .unwrap()
            > 0.0
    );
    assert!(
        value(
            "graph_connector_runs_total",
            &[("kind", "email"), ("outcome", "success")]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(value("graph_connector_tenant_up", &[]), Some(1.0));
    assert!(value("graph_connector_mailboxes", &[("state", "ok")]).unwrap() >= 1.0);
    assert_eq!(value("graph_connector_build_info", &[]), Some(1.0));
    assert!(
        scrape.samples.iter().any(|s| s.metric
            == "graph_connector_store_operation_duration_seconds_count"
            || s.metric == "graph_connector_store_operation_duration_seconds"),
        "store latency histogram missing"
    );
    for s in &scrape.samples {
        assert!(s.metric.starts_with("graph_connector_"), "{}", s.metric);
    }
    for (name, _) in scrape.docs.iter() {
        assert!(name.starts_with("graph_connector_"), "{name}");
    }
    // Counters end in _total (the parser types them from the TYPE lines).
    for s in &scrape.samples {
        if matches!(s.value, prometheus_parse::Value::Counter(_)) {
            assert!(s.metric.ends_with("_total"), "{}", s.metric);
        }
    }

    // Pause from the command line: the table says so; resume through the API.
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["mailbox", "pause", "--mailbox", &user, "--config"])
        .arg(env.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = rows.iter().find(|r| r["mailbox"] == user.as_str()).unwrap();
    assert_eq!(row["state"], "paused", "{row}");
    assert_eq!(row["paused"], true);
    // The API wants the CSRF token of a session (or the bearer token, when one is set).
    let refused = client
        .post(format!("{base}/api/mailboxes/{user}/resume"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let session = client
        .get(format!("{base}/api/session"))
        .send()
        .await
        .unwrap();
    let cookie = session
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf: serde_json::Value = session.json().await.unwrap();
    let resumed = client
        .post(format!("{base}/api/mailboxes/{user}/resume"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf["csrf"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let store = store_of(&env).await;
    let m = store
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap();
    assert!(!m.is_paused(Kind::Email));

    let (ok, took) = run.term().await;
    eprintln!("idle service stopped {took:?} after SIGTERM");
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_busy_run_loses_nothing() {
    let port = free_port();
    let env = Env::start_with(
        SandboxOptions {
            users: 5,
            seed: 21,
            messages_per_mailbox: 30,
            latency_ms: 40,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
        true,
    )
    .await;
    let enabled = env.enabled_users().await;
    let filed = env.file_all_inbox(usize::MAX);
    let total: usize = filed
        .iter()
        .filter(|(u, _)| enabled.contains(u))
        .map(|(_, n)| n)
        .sum();
    let store = store_of(&env).await;
    let created = |store: std::sync::Arc<dyn StateStore>| async move {
        store
            .query_ledger(&LedgerFilter {
                action: Some(LedgerAction::Created),
                ..Default::default()
            })
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    };

    let mut run = Run::start(&env.config_path(), &["--shutdown-timeout", "3"]);
    eventually("the first filed message", 90, Some(&mut run), || {
        let store = store.clone();
        async move { (created(store).await > 0).then_some(()) }
    })
    .await;
    let (ok, took) = run.term().await;
    let left: usize = enabled.iter().map(|u| env.count(u, SYNC)).sum();
    eprintln!(
        "busy service stopped {took:?} after SIGTERM; {left} of {total} messages still to file"
    );
    assert!(ok, "exit status after SIGTERM");

    // The next `run` completes the rest.
    let mut run = Run::start(&env.config_path(), &[]);
    eventually("every sync folder empty", 180, Some(&mut run), || async {
        (enabled.iter().map(|u| env.count(u, SYNC)).sum::<usize>() == 0).then_some(())
    })
    .await;
    let (ok, _) = run.term().await;
    assert!(ok);

    for u in &enabled {
        let n = filed.get(u).copied().unwrap_or(0);
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"))
            + env.count(u, &format!("{SYNC}/Sync_Failure"));
        assert_eq!(moved, n, "{u}: {n} filed, {moved} moved");
    }
    let f = final_state(&*store).await;
    for (key, (_, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: {ids:?}");
    }
    let ours: BTreeSet<u64> = f.by_key.values().flat_map(|(_, ids)| ids.clone()).collect();
    let acts: Vec<u64> = env
        .email_activities()
        .await
        .iter()
        .map(|a| a.id.get())
        .filter(|id| id >> 32 == 2)
        .collect();
    let failed_ids: BTreeSet<u64> = f.failed_with_activity.iter().map(|(_, id)| *id).collect();
    for id in &acts {
        assert!(
            ours.contains(id) || failed_ids.contains(id),
            "activity {id} is not linked: a duplicate"
        );
    }
    assert_eq!(decisions(&*store).await.len(), total);
}

fn write_toml(env: &Env, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(env.config_path(), edit(text)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_server_wants_its_token_off_loopback() {
    let port = free_port();
    let token = "adm1n-t0ken-for-the-test";
    let env = Env::start(
        SandboxOptions {
            users: 3,
            messages_per_mailbox: 1,
            ..SandboxOptions::default()
        },
        &format!("[admin]\nlisten = \"0.0.0.0:{port}\"\n"),
    )
    .await;
    // Off loopback without a token: refused at start.
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["run", "--config"])
        .arg(env.config_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[admin] listen") && err.contains("token"),
        "{err}"
    );

    write_toml(&env, |t| {
        t.replace("[admin]\n", &format!("[admin]\ntoken = \"{token}\"\n"))
    });
    let mut run = Run::start(&env.config_path(), &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = http();
    let bearer = format!("Bearer {token}");
    eventually("the admin server", 60, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/mailboxes");
        let bearer = bearer.clone();
        async move {
            let r = client
                .get(url)
                .header("authorization", bearer)
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    // Without the token (or with a wrong one): refused, whatever the path.
    for path in [
        "/api/health",
        "/api/mailboxes",
        "/api/ledger",
        "/metrics",
        "/api/config",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = client
            .get(format!("{base}{path}"))
            .header("authorization", "Bearer wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path} with a wrong token");
    }
    let r = client
        .post(format!("{base}/api/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // With it: served; the configuration shows no secret.
    let r = client
        .get(format!("{base}/metrics"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let config = client
        .get(format!("{base}/config"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cfg = env.config();
    use secrecy::ExposeSecret;
    for secret in [
        cfg.microsoft
            .client_secret
            .as_ref()
            .unwrap()
            .expose_secret(),
        cfg.crm.password.as_ref().unwrap().expose_secret(),
        token,
    ] {
        assert!(!config.contains(secret), "a secret is rendered");
    }
    assert!(config.contains("REDACTED") && config.contains("admin_email"));

    // The login page: a wrong token is refused; the right one gives an HttpOnly,
    // SameSite=Strict cookie; forms need the CSRF token.
    let r = client
        .post(format!("{base}/login"))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = client
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(token));
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let r = client
        .post(format!("{base}/refresh"))
        .header("cookie", &cookie)
        .form(&[("back", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = client
        .post(format!("{base}/refresh"))
        .header("cookie", &cookie)
        .form(&[("back", "https://evil.example/"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/", "never an open redirect");
    let (ok, _) = run.term().await;
    assert!(ok);
}

/// The guard decides by the peer address too: without a token only loopback clients pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_only_loopback_clients_pass() {
    use tower::ServiceExt;
    let env = Env::start(SandboxOptions::default(), "").await;
    let config = std::sync::Arc::new(env.config());
    let graph =
        gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
            .unwrap();
    let state = std::sync::Arc::new(graph_connector::admin::AdminState::new(
        config.clone(),
        store_of(&env).await,
        graph_connector::daemon::status::Status::new(),
        std::sync::Arc::new(gc_sync::adapters::GraphMail::new(graph, "")),
    ));
    let app = graph_connector::admin::router(state);
    let call = |peer: &str| {
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        let mut req = axum::http::Request::builder()
            .uri("/api/mailboxes")
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        app.clone().oneshot(req)
    };
    assert_eq!(call("10.1.2.3:50000").await.unwrap().status(), 403);
    assert_eq!(call("[2001:db8::1]:50000").await.unwrap().status(), 403);
    assert_eq!(call("127.0.0.1:50000").await.unwrap().status(), 200);
    assert_eq!(call("[::1]:50000").await.unwrap().status(), 200);
}

/// A certificate valid for five more days, signed with the sandbox's demo client key.
fn short_lived_certificate(dir: &Path) -> (PathBuf, String) {
    let (_, key_pem) = gc_sandbox::demo_client_certificate();
    let key = rcgen::KeyPair::from_pem_and_sign_algo(key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["graph-connector-test".into()]).unwrap();
    let now = std::time::SystemTime::now();
    params.not_before = (now - Duration::from_secs(86_400)).into();
    params.not_after = (now + Duration::from_secs(5 * 86_400)).into();
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join("app.pem");
    std::fs::write(&path, format!("{}\n{}", cert.pem().trim_end(), key_pem)).unwrap();
    (path, cert.pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_for_an_excluded_mailbox_and_an_expiring_certificate() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, cert_pem) = short_lived_certificate(dir.path());
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 1,
            client_certificate_pem: Some(cert_pem),
            ..SandboxOptions::default()
        },
        &format!(
            "[emails]\ninterval_minutes = 0\n\n[errors]\nexclude_after_access_errors = 1\n\
             expiry_warning_days = 30\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"
        ),
    )
    .await;
    // Authenticate with the certificate instead of the secret.
    write_toml(&env, |t| {
        let mut out = String::new();
        for line in t.lines() {
            if line.starts_with("client_secret") {
                out.push_str(&format!(
                    "certificate = {:?}\n",
                    cert_path.display().to_string()
                ));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    });
    let admin = env.config().microsoft.admin_email.clone();
    let victim = env
        .enabled_users()
        .await
        .into_iter()
        .find(|u| *u != admin)
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut run = Run::start(&env.config_path(), &[]);
    let client = http();
    eventually("every mailbox ran", 60, Some(&mut run), || {
        let client = client.clone();
        let url = format!("{base}/api/mailboxes");
        async move {
            let rows: Vec<serde_json::Value> =
                client.get(url).send().await.ok()?.json().await.ok()?;
            (!rows.is_empty() && rows.iter().all(|r| !r["last_run"].is_null())).then_some(())
        }
    })
    .await;
    // The mailbox goes away (licence withdrawn): the next run cannot access it.
    env.demo.sandbox.state().remove_mailbox(&victim).unwrap();
    let alerts: Vec<serde_json::Value> =
        eventually("both alerts delivered", 60, Some(&mut run), || {
            let client = client.clone();
            let url = format!("{base}/api/alerts");
            async move {
                let alerts: Vec<serde_json::Value> =
                    client.get(url).send().await.ok()?.json().await.ok()?;
                let sent = |kind: &str| {
                    alerts
                        .iter()
                        .any(|a| a["kind"] == kind && a["delivery"] == "sent")
                };
                (sent("mailbox_excluded") && sent("certificate_expiry")).then_some(alerts)
            }
        })
        .await;
    let excluded = alerts
        .iter()
        .find(|a| a["kind"] == "mailbox_excluded")
        .unwrap();
    assert!(
        excluded["subject"].as_str().unwrap().contains(&victim),
        "{excluded}"
    );
    let cert = alerts
        .iter()
        .find(|a| a["kind"] == "certificate_expiry")
        .unwrap();
    assert!(
        cert["subject"].as_str().unwrap().contains("expires in"),
        "{cert}"
    );
    // Delivered through Graph into the administrator's mailbox, once each.
    let inbox = env.demo.sandbox.state().messages(&admin, "inbox").unwrap();
    let subjects: Vec<&str> = inbox.iter().map(|m| m.subject.as_str()).collect();
    let count = |needle: &str| subjects.iter().filter(|s| s.contains(needle)).count();
    assert_eq!(count("is excluded from synchronization"), 1, "{subjects:?}");
    assert_eq!(count("the certificate expires in"), 1, "{subjects:?}");
    // Listed on the admin page; the mailbox table shows the exclusion.
    let page = client
        .get(format!("{base}/alerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("mailbox_excluded") && page.contains("certificate_expiry"));
    let rows: Vec<serde_json::Value> = client
        .get(format!("{base}/api/mailboxes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r["mailbox"] == victim.as_str())
        .unwrap();
    assert_eq!(row["state"], "excluded", "{row}");
    assert!(
        !row["excluded_until"].is_null() && !row["fix"].is_null(),
        "{row}"
    );
    // Rate-limited: later runs raise nothing new.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let again: Vec<serde_json::Value> = client
        .get(format!("{base}/api/alerts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.len(), alerts.len(), "{again:?}");
    let (ok, _) = run.term().await;
    assert!(ok);
}

/// `[logging]` decides level and format (no RUST_LOG here); SIGHUP reloads the configuration,
/// and an invalid file on SIGHUP leaves the running service alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_follows_the_configuration_and_sighup_reloads_it() {
    let port = free_port();
    let env = Env::start(
        SandboxOptions {
            users: 3,
            messages_per_mailbox: 1,
            ..SandboxOptions::default()
        },
        &format!(
            "[emails]\ninterval_minutes = 0\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [logging]\nlevel = \"debug\"\nformat = \"json\"\n"
        ),
    )
    .await;
    let user = env.enabled_users().await[0].clone();
    let mut run = Run::start_with_log(&env.config_path(), &[], None);
    let client = http();
    let health = |port: u16| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{port}/api/health"))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(())
        }
    };
    eventually("the admin server", 60, Some(&mut run), || health(port)).await;
    env.demo
        .sandbox
        .state()
        .deliver(&user, message("Logged at debug level", &user))
        .unwrap();
    let lines: Vec<serde_json::Value> =
        eventually("the item's debug line", 60, Some(&mut run), || {
            let text = run_log(&env);
            async move {
                let lines: Vec<serde_json::Value> = text
                    .lines()
                    // The last line may be half written.
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                lines
                    .iter()
                    .any(|l| l["fields"]["message"] == "item" && l["fields"]["action"] == "filed")
                    .then_some(lines)
            }
        })
        .await;
    let item = lines
        .iter()
        .find(|l| l["fields"]["message"] == "item")
        .unwrap();
    assert_eq!(item["level"], "DEBUG");
    let runs: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "run")
        .collect();
    assert!(!runs.is_empty());
    assert!(
        runs.iter()
            .all(|l| l["level"] == "INFO" && l["fields"]["mailbox"].is_string())
    );

    // SIGHUP with an invalid file: reported, the service goes on.
    let good = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        good.replace("interval_minutes = 0", "interval_minutes = \"x\""),
    )
    .unwrap();
    run.signal("-HUP");
    eventually("the refusal in the log", 30, Some(&mut run), || {
        let text = run_log(&env);
        async move { text.contains("was not reloaded").then_some(()) }
    })
    .await;
    health(port).await.expect("still serving");
    // SIGHUP with a valid new file: the service restarts with it (admin on its new port).
    let port2 = free_port();
    std::fs::write(
        env.config_path(),
        good.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{port2}")),
    )
    .unwrap();
    run.signal("-HUP");
    eventually(
        "the admin server on its new address",
        60,
        Some(&mut run),
        || health(port2),
    )
    .await;
    assert!(run_log(&env).contains("configuration reloaded"));
    assert!(health(port).await.is_none(), "the old address is closed");
    let (ok, _) = run.term().await;
    assert!(ok);
    for line in run_log(&env).lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
    }
}

fn run_log(env: &Env) -> String {
    std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}
