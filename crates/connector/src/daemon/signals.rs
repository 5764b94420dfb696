//! Signals of the service: SIGTERM or SIGINT (Ctrl-C) stop it gracefully, a second one exits
//! at once; SIGHUP reloads the configuration. On Windows, Ctrl-C and the service's Stop
//! control (see `windows.rs`) stop it.

use tokio::sync::mpsc::UnboundedSender;

/// What the service is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Stop gracefully (first SIGTERM/SIGINT, Windows service stop).
    Stop,
    /// Read the configuration again (SIGHUP).
    Reload,
}

/// Exit status after a second stop signal: the conventional 128 + SIGINT.
const FORCED_EXIT: i32 = 130;

/// Listen for signals in the background and send them to `tx`. A second stop signal ends
/// the process immediately (leases then expire by themselves; every write is crash-safe).
#[cfg(unix)]
pub fn listen(tx: UnboundedSender<Signal>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        let mut stopping = false;
        loop {
            let sig = tokio::select! {
                Some(()) = term.recv() => Signal::Stop,
                Some(()) = int.recv() => Signal::Stop,
                Some(()) = hup.recv() => Signal::Reload,
                else => return,
            };
            if sig == Signal::Stop {
                if stopping {
                    tracing::warn!("second stop signal: exiting now");
                    std::process::exit(FORCED_EXIT);
                }
                stopping = true;
            }
            if tx.send(sig).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Listen for Ctrl-C in the background (no SIGHUP outside Unix: restart to reload).
#[cfg(not(unix))]
pub fn listen(tx: UnboundedSender<Signal>) -> std::io::Result<()> {
    tokio::spawn(async move {
        let mut stopping = false;
        while tokio::signal::ctrl_c().await.is_ok() {
            if stopping {
                tracing::warn!("second stop signal: exiting now");
                std::process::exit(FORCED_EXIT);
            }
            stopping = true;
            if tx.send(Signal::Stop).is_err() {
                return;
            }
        }
    });
    Ok(())
}
