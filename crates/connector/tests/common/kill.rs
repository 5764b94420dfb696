//! `sync --once` as a child process that a sandbox trip wire may SIGKILL: the crash tests'
//! one way to cut a run off at an exact request.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gc_sandbox::{Tripwire, TripwireHandle};

use super::Env;

/// `sync --once` with `config`; its log is appended to `child.log` next to the config.
pub fn sync_once(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graph-connector"));
    c.env("RUST_LOG", "gc_sync=info,warn");
    c.args(["sync", "--once", "--json", "--config"])
        .arg(config)
        .stdout(Stdio::null());
    let log = config.with_file_name("child.log");
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        Ok(f) => c.stderr(f),
        Err(_) => c.stderr(Stdio::null()),
    };
    c
}

/// One `sync --once` with `wire` armed to SIGKILL it, while the sandbox holds the request
/// (before processing it, or after and before answering); the wire is disarmed when the
/// process ends, killed or not.
pub async fn sync_once_armed(env: &Env, wire: Tripwire) -> (TripwireHandle, ExitStatus) {
    let child: Arc<Mutex<Child>> =
        Arc::new(Mutex::new(sync_once(&env.config_path()).spawn().unwrap()));
    let handle = env.demo.sandbox.arm_tripwire(wire, {
        let child = child.clone();
        move || {
            let _ = child.lock().unwrap().kill();
        }
    });
    let status = loop {
        if let Some(status) = child.lock().unwrap().try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    handle.disarm();
    (handle, status)
}
