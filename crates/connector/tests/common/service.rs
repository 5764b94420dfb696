//! Helpers of the service tests: `graph-connector run` as a child process, polling with a
//! deadline, the sandbox's state store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gc_sandbox::NewMessage;
use gc_store::StateStore;

use super::{Env, SYNC};

/// A port for a child process to listen on.
///
/// A port the OS hands out for `:0` comes from the ephemeral range (32768–60999 on Linux) and
/// may be handed out again, to any socket of any test running beside, between this probe and
/// the child's bind: the child then fails with "Address already in use". These ports come from
/// below that range, where the OS hands out none by itself; they are distinct within the test
/// process (a counter, from a start that depends on the process id) and probed free.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 400 * 25;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20_000 + ((start + n) % 12_000) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
        assert!(n < 12_000, "no free port between 20000 and 32000");
    }
}

pub struct Run {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Run {
    pub fn start(config: &Path, args: &[&str]) -> Run {
        Self::start_with_log(config, args, Some("info,sqlx=warn"))
    }

    pub fn start_with_log(config: &Path, args: &[&str], rust_log: Option<&str>) -> Run {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// SIGTERM and wait for the exit; returns (success, how long it took).
    pub async fn term(mut self) -> (bool, Duration) {
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

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Poll `f` every 200 ms until it returns `Some`, for at most `secs`.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, run: Option<&mut Run>, mut f: F) -> T
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

pub async fn store_of(env: &Env) -> std::sync::Arc<dyn StateStore> {
    gc_store::open(&format!(
        "sqlite://{}",
        env.dir.path().join("graph-connector-sandbox.db").display()
    ))
    .await
    .unwrap()
}

pub fn message(subject: &str, to: &str) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        from: Some("buyer@acme-industries.example".into()),
        to: vec![to.into()],
        body_html: Some(format!("<p>{subject}</p>")),
        folder: Some(SYNC.into()),
        ..Default::default()
    }
}

/// A message in the sync folder whose owner is only in BCC (not among its recipients): not
/// filed by default, and its user is told.
pub fn bcc_only(subject: impl Into<String>) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        from: Some("sender@unknown.example".into()),
        to: vec!["someone@unknown.example".into()],
        body_text: Some("You were in BCC".into()),
        folder: Some(SYNC.into()),
        ..Default::default()
    }
}

pub fn write_toml(env: &Env, edit: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(env.config_path(), edit(text)).unwrap();
}

pub fn run_log(env: &Env) -> String {
    std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}
