//! Running as a Windows service (`graph-connector run --windows-service`), through the
//! `windows-service` crate: the Service Control Manager's Stop and Shutdown controls become a
//! graceful stop, exactly like SIGTERM on Unix.
//!
//! Not built or tested in this project's CI (no Windows target there); see docs/DEPLOY.md.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::mpsc::unbounded_channel;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use super::{RunOptions, Signal};

/// The service name registered with `sc.exe create`.
pub const SERVICE_NAME: &str = "graph-connector";

static OPTIONS: OnceLock<(RunOptions, Option<String>)> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hand the process over to the Service Control Manager; returns when the service stopped.
pub fn run_as_service(options: RunOptions, log_level: Option<String>) -> anyhow::Result<()> {
    let _ = OPTIONS.set((options, log_level));
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)?;
    Ok(())
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = run_service() {
        tracing::error!(error = %format!("{e:#}"), "the service failed");
    }
}

fn status(state: ServiceState, accept: ServiceControlAccept) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code: ServiceExitCode::Win32(0),
        checkpoint: 0,
        wait_hint: Duration::from_secs(30),
        process_id: None,
    }
}

fn run_service() -> anyhow::Result<()> {
    let (options, level) = OPTIONS
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("service options missing"))?;
    let (tx, rx) = unbounded_channel();
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = tx.send(Signal::Stop);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(SERVICE_NAME, handler)?;
    handle.set_service_status(status(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
    ))?;
    let rt = crate::runtime::build(crate::runtime::worker_threads_of(&options.config_path))?;
    let result = rt.block_on(async move {
        let config = crate::config::load(&options.config_path, std::env::vars())?;
        crate::logging::init(
            level.as_deref().unwrap_or(&config.logging.level),
            config.logging.format,
        );
        crate::telemetry::install();
        super::serve(options, rx).await
    });
    handle.set_service_status(status(ServiceState::Stopped, ServiceControlAccept::empty()))?;
    result
}
