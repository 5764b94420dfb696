//! The admin server's access rules against a running `graph-connector run`: off loopback
//! every request needs the token (bearer or the login page's cookie), forms need the CSRF
//! token, no secret is rendered; without a token only loopback clients pass.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::Env;
use common::service::{Run, eventually, free_port, http, store_of, write_toml};
use gc_sandbox::SandboxOptions;

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
