//! The admin page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver) against `graph-connector run` on the sandbox.
//! It checks the mailbox table, files a message, presses "sync now" for that mailbox, and
//! sees the message appear in the mailbox's ledger view.
//!
//! Without the browser the test is skipped, unless `CI` or `GC_REQUIRE_BROWSER` is set: then
//! it fails (scripts/test.sh installs the packages). `GC_CHROMIUM` and `GC_CHROMEDRIVER`
//! point at other binaries.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::service::free_port;
use common::{Env, SYNC};
use fantoccini::{ClientBuilder, Locator};
use gc_sandbox::{NewMessage, SandboxOptions};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary(var: &str, default: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_owned()));
    p.exists().then_some(p)
}

async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_in_chromium_sync_now_shows_the_filed_message() {
    let required = ["CI", "GC_REQUIRE_BROWSER"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"));
    let (Some(chromium), Some(driver)) = (
        binary("GC_CHROMIUM", "/usr/bin/chromium"),
        binary("GC_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        assert!(
            !required,
            "chromium and chromedriver are required here (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: no chromium/chromedriver (set GC_REQUIRE_BROWSER=1 to fail instead)");
        return;
    };

    // The service, with a long interval: only "sync now" files the message quickly.
    let port = free_port();
    let env = Env::start(
        SandboxOptions {
            users: 4,
            messages_per_mailbox: 1,
            ..SandboxOptions::default()
        },
        &format!("[emails]\ninterval_minutes = 60\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let log = env.dir.path().join("run.log");
    let _run = Killed(
        Command::new(env!("CARGO_BIN_EXE_graph-connector"))
            .args(["run", "--config"])
            .arg(env.config_path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    wait_for("every mailbox ran once", 60, || {
        let http = http.clone();
        let url = format!("{base}/api/mailboxes");
        async move {
            let rows: Vec<serde_json::Value> =
                http.get(url).send().await.ok()?.json().await.ok()?;
            (!rows.is_empty() && rows.iter().all(|r| !r["last_run"].is_null())).then_some(())
        }
    })
    .await;

    // The browser.
    let driver_port = free_port();
    let _driver = Killed(
        Command::new(&driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver_url = format!("http://127.0.0.1:{driver_port}");
    wait_for("chromedriver", 30, || {
        let http = http.clone();
        let url = format!("{driver_url}/status");
        async move {
            http.get(url)
                .send()
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        }
    })
    .await;
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let browser = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("a Chromium session through chromedriver");

    let result = async {
        // The mailbox table lists every enabled mailbox.
        browser.goto(&format!("{base}/")).await?;
        let rows = browser
            .find_all(Locator::Css("table#mailboxes tbody tr"))
            .await?;
        let mut shown = Vec::new();
        for r in &rows {
            shown.push(r.attr("data-mailbox").await?.unwrap_or_default());
        }
        let enabled = env.enabled_users().await;
        for u in &enabled {
            assert!(shown.contains(u), "{u} missing from the table: {shown:?}");
        }
        let health = browser
            .find(Locator::Css("#health h2"))
            .await?
            .text()
            .await?;
        assert!(health.contains("ok"), "{health}");
        // Which process holds what: this one is the only live process, and the mailbox
        // table has the column naming the holder of each mailbox's lease.
        let processes = browser
            .find_all(Locator::Css("table#processes tbody tr"))
            .await?;
        assert_eq!(processes.len(), 1, "one live process");
        let me = processes[0].text().await?;
        assert!(me.contains("(this process)"), "{me}");
        let head = browser
            .find(Locator::Css("table#mailboxes thead"))
            .await?
            .text()
            .await?;
        assert!(head.contains("Held by"), "{head}");

        // A message filed now would wait an hour; "sync now" files it at once.
        let user = enabled[0].clone();
        let subject = "Pricing question filed from Outlook";
        env.demo
            .sandbox
            .state()
            .deliver(
                &user,
                NewMessage {
                    subject: subject.into(),
                    from: Some("buyer@acme-industries.example".into()),
                    to: vec![user.clone()],
                    body_html: Some("<p>What does it cost?</p>".into()),
                    folder: Some(SYNC.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        click_and_wait(
            &browser,
            &format!("tr[data-mailbox=\"{user}\"] form[action$=\"/sync\"] button"),
        )
        .await?;
        // Back on the table; open the mailbox page and watch its ledger.
        click_and_wait(&browser, &format!("tr[data-mailbox=\"{user}\"] td a")).await?;
        let t0 = Instant::now();
        loop {
            let ledger = browser
                .find(Locator::Css("table#ledger"))
                .await?
                .text()
                .await?;
            if ledger.contains(subject) && ledger.contains("created") {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the message did not appear in the ledger view: {ledger}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            browser.refresh().await?;
        }
        eprintln!("ledger shows the message {:?} after sync now", t0.elapsed());
        // The ledger search narrows to the decision.
        browser
            .find(Locator::Css("#ledger-search select[name=action]"))
            .await?
            .select_by_value("created")
            .await?;
        click_and_wait(&browser, "#ledger-search button").await?;
        let url = browser.current_url().await?;
        assert!(url.as_str().contains("action=created"), "{url}");
        let rows = browser
            .find_all(Locator::Css("table#ledger tbody tr"))
            .await?;
        assert_eq!(rows.len(), 1, "one decision 'created' for the one message");
        let text = rows[0].text().await?;
        assert!(text.contains(subject) && text.contains("created"), "{text}");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.unwrap();
}

/// Clicks `css` and waits until the page it leads to has loaded. A form POST answered with a
/// redirect back to the same address changes nothing a test could wait for in the URL, so the
/// old document gets a mark the new one lacks; looking for elements before that would find
/// them on the page being left, or on none.
async fn click_and_wait(
    browser: &fantoccini::Client,
    css: &str,
) -> Result<(), fantoccini::error::CmdError> {
    browser
        .execute("document.documentElement.dataset.gcLeft = '1'", vec![])
        .await?;
    browser.find(Locator::Css(css)).await?.click().await?;
    let t0 = Instant::now();
    loop {
        // While the browser navigates, the script may fail: not loaded yet.
        let loaded = browser
            .execute(
                "return document.readyState === 'complete' && !document.documentElement.dataset.gcLeft",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return Ok(());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the page after clicking {css} did not load"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
