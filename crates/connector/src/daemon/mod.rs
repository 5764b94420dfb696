//! `graph-connector run`: the service.
//!
//! [`serve`] builds a [`Service`] from the configuration (clients, store, scheduler, admin
//! server, housekeeping), then waits for a signal: stop (SIGTERM, SIGINT, the Windows
//! service stop) ends it gracefully within the shutdown deadline; reload (SIGHUP) reads the
//! configuration again and, when it is valid, restarts the service in-process with it
//! (an invalid file is reported and the running service goes on unchanged).

pub mod alerts;
pub mod metered_store;
pub mod notifications;
pub mod runner;
pub mod scheduler;
pub mod signals;
pub mod status;
#[cfg(windows)]
pub mod windows;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gc_store::{Kind, StateStore};
use gc_sync::adapters::CrmActivities;
use gc_sync::ports::Notifier;
use jiff::Timestamp;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::{admin, wiring};
use alerts::Alerter;
use metered_store::{DeltaReset, MeteredStore};
use runner::{
    KindRunner, LiveTenant, absence_runner, appointment_runner, contact_runner, email_runner,
    tasks_runner,
};
use scheduler::Scheduler;
pub use signals::Signal;
use status::Status;

/// How the service is started.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The configuration file (read again on reload).
    pub config_path: PathBuf,
    /// How long a graceful stop waits for running cycles before abandoning them.
    pub shutdown_timeout: Duration,
}

/// Run the service until a stop signal arrives on `signals`.
pub async fn serve(
    options: RunOptions,
    mut signals: UnboundedReceiver<Signal>,
) -> anyhow::Result<()> {
    let mut config = config::load(&options.config_path, std::env::vars())?;
    let mut service = Service::start(Arc::new(config), &options).await?;
    loop {
        let next = loop {
            match signals.recv().await {
                Some(Signal::Stop) | None => break None,
                Some(Signal::Reload) => {
                    match config::load(&options.config_path, std::env::vars()) {
                        Ok(c) => break Some(c),
                        Err(e) => tracing::error!(
                            error = %e,
                            "the configuration was not reloaded; the service goes on with the previous one"
                        ),
                    }
                }
            }
        };
        let previous = service.config.clone();
        service.stop(options.shutdown_timeout).await;
        let Some(new) = next else {
            tracing::info!("stopped");
            return Ok(());
        };
        config = new;
        service = match Service::start(Arc::new(config), &options).await {
            Ok(s) => {
                tracing::info!("configuration reloaded");
                s
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the reloaded configuration cannot start; going on with the previous one");
                Service::start(previous, &options).await?
            }
        };
    }
}

/// A running service.
pub struct Service {
    config: Arc<Config>,
    store: Arc<dyn StateStore>,
    holder: String,
    shutdown: CancellationToken,
    scheduler: JoinHandle<()>,
    admin: Option<JoinHandle<()>>,
    /// The notification endpoint and the subscription manager (`[notifications]`).
    notifications: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Service {
    /// Build everything from the configuration and start it.
    pub async fn start(config: Arc<Config>, options: &RunOptions) -> anyhow::Result<Service> {
        let (resets_tx, resets_rx) = unbounded_channel();
        let store: Arc<dyn StateStore> = Arc::new(MeteredStore::new(
            wiring::store(&config).await?,
            Some(resets_tx),
        ));
        let graph_client = gc_graph::GraphClient::new(wiring::graph_options(&config)?)
            .context("building the Microsoft Graph client")?;
        let certificate_expiry = graph_client.options().credential.not_after();
        let crm = gc_crm::CrmClient::new(wiring::crm_config(&config)?)
            .context("building the CRM.interface client")?;
        let forms = wiring::forms(&config)?;
        let rules = wiring::email_rules(&config, forms.as_ref());
        let appointment_rules = wiring::appointment_rules(&config, forms.as_ref());
        // The service never waits for a mailbox another process works: it is due again later.
        let policy = gc_sync::RunPolicy {
            mailbox_wait: Duration::ZERO,
            ..wiring::run_policy(&config)
        };
        let admin_email = config.microsoft.admin_email.clone();
        let backlog = Arc::new(graph_client.clone());
        let graph = Arc::new(wiring::graph_mail(&config, graph_client));
        let crm = Arc::new(CrmActivities::new(crm, rules.activity_type.clone()));
        let holder = crate::commands::sync::holder(&config);
        let policy_ttl = policy.lease_ttl;
        let engine =
            gc_sync::Engine::new(store.clone(), policy, holder.clone()).with_backlog_hint(backlog);
        let status = Status::new();
        let e = &config.errors;
        let alerter = Arc::new(Alerter::new(
            store.clone(),
            graph.clone() as Arc<dyn Notifier>,
            admin_email,
            e.notify_admin,
            Duration::from_secs(u64::from(e.alert_repeat_hours.max(1)) * 3600),
            e.delta_resets_alert,
        ));
        let tenant = Arc::new(
            LiveTenant::new(
                graph.clone(),
                crm.clone(),
                store.clone(),
                rules.managed_domains.clone(),
                config.mailboxes.include.clone(),
                config.mailboxes.exclude.clone(),
            )
            .with_overrides(wiring::rep_overrides(&config)),
        );
        let mut runners: Vec<Arc<dyn KindRunner>> = Vec::new();
        if config.emails.enabled {
            runners.push(Arc::new(email_runner(
                engine.clone(),
                graph.clone(),
                crm.clone(),
                rules,
                config.adoption.settings(),
            )));
        }
        if config.absences.enabled {
            let zone = crm.client().time_zone().clone();
            runners.push(Arc::new(absence_runner(
                engine.clone(),
                graph.clone(),
                crm.clone(),
                wiring::absence_rules(&config, zone),
                config.adoption.settings(),
            )));
        }
        if config.appointments.enabled {
            runners.push(Arc::new(appointment_runner(
                engine.clone(),
                graph.clone(),
                crm.clone(),
                appointment_rules,
                config.adoption.settings(),
            )));
        }
        if config.tasks.enabled {
            runners.push(Arc::new(tasks_runner(
                engine.clone(),
                graph.clone(),
                crm.clone(),
                crate::wiring::task_rules(&config),
                config.adoption.settings(),
            )));
        }
        if config.contacts.enabled {
            runners.push(Arc::new(contact_runner(
                engine.clone(),
                graph.clone(),
                crm.clone(),
                wiring::contact_rules(&config),
                config.adoption.settings(),
            )));
        }
        if runners.is_empty() {
            tracing::warn!("no kind is enabled: the service only refreshes the mailbox list");
        }
        let shutdown = CancellationToken::new();
        let notifications = start_notifications(
            &config,
            &store,
            &status,
            graph.client(),
            &runners,
            &holder,
            &shutdown,
        )
        .await?;
        let scheduler = Scheduler::new(
            tenant,
            runners,
            store.clone(),
            status.clone(),
            Some(alerter.clone()),
            scheduler_settings(&config),
        );
        let admin = if config.admin.enabled {
            let addr: std::net::SocketAddr = config
                .admin
                .listen
                .parse()
                .context("[admin] listen is not an address with a port")?;
            if !addr.ip().is_loopback() && config.admin.token.is_none() {
                anyhow::bail!(
                    "[admin] listen = {addr} is reachable from other machines but no [admin] token is set: set token or token_file, or listen on 127.0.0.1"
                );
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} ([admin] listen)"))?;
            tracing::info!(url = %format!("http://{addr}/"), "admin page");
            Some(admin::serve(
                Arc::new(
                    admin::AdminState::new(
                        config.clone(),
                        store.clone(),
                        status.clone(),
                        graph.clone(),
                    )
                    .with_holder(holder.clone()),
                ),
                listener,
                shutdown.clone(),
            ))
        } else {
            None
        };
        let sched_task = tokio::spawn(scheduler.run(shutdown.clone(), options.shutdown_timeout));
        let background = vec![
            tokio::spawn(housekeeping(
                config.clone(),
                store.clone(),
                alerter.clone(),
                certificate_expiry,
            )),
            tokio::spawn(delta_resets(store.clone(), alerter, resets_rx)),
            tokio::spawn(presence(store.clone(), holder.clone(), policy_ttl)),
        ];
        metrics::gauge!("graph_connector_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => crate::GIT_COMMIT).set(1.0);
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            commit = crate::GIT_COMMIT,
            state = %config.state.url,
            holder,
            "service started"
        );
        Ok(Service {
            config,
            store,
            holder,
            shutdown,
            scheduler: sched_task,
            admin,
            notifications,
            background,
        })
    }

    /// Stop gracefully: no new runs, running cycles get `deadline` to finish, then leases are
    /// released and the store is closed.
    pub async fn stop(self, deadline: Duration) {
        tracing::info!(deadline_s = deadline.as_secs_f64(), "stopping: no new runs");
        self.shutdown.cancel();
        let _ = self.scheduler.await;
        for task in &self.background {
            task.abort();
        }
        if let Some(admin) = self.admin {
            let _ = tokio::time::timeout(Duration::from_secs(2), admin).await;
        }
        for task in self.notifications {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        match self.store.release_leases(&self.holder).await {
            Ok(n) if n > 0 => tracing::info!(leases = n, "leases released"),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot release leases (they expire by themselves)")
            }
        }
        self.store.close().await;
    }
}

/// Scheduler settings from the configuration.
pub fn scheduler_settings(config: &Config) -> scheduler::Settings {
    let minutes = |m: u32| Duration::from_secs(u64::from(m) * 60);
    let mut intervals = BTreeMap::new();
    intervals.insert(Kind::Email, minutes(config.emails.interval_minutes));
    intervals.insert(
        Kind::Appointment,
        minutes(config.appointments.interval_minutes),
    );
    intervals.insert(Kind::Task, minutes(config.tasks.interval_minutes));
    intervals.insert(Kind::Contact, minutes(config.contacts.interval_minutes));
    intervals.insert(Kind::Absence, minutes(config.absences.interval_minutes));
    let refresh = config.mailboxes.refresh_interval_minutes;
    scheduler::Settings {
        // "auto": the scheduler starts only what is due, so the cap is the whole bound.
        parallel: config
            .mailboxes
            .parallel
            .resolve(usize::MAX, config.microsoft.requests_per_second),
        intervals,
        refresh_every: (refresh > 0).then(|| minutes(refresh)),
        safety_net: config
            .notifications
            .enabled
            .then(|| minutes(config.notifications.safety_net_minutes)),
        gather: Duration::from_millis(u64::from(config.notifications.gather_ms)),
        ..scheduler::Settings::default()
    }
}

/// With `[notifications] enabled`: the endpoint's listener and the subscription manager.
/// Without: a one-off clean-up of subscriptions an earlier configuration left.
async fn start_notifications(
    config: &Config,
    store: &Arc<dyn StateStore>,
    status: &Arc<Status>,
    graph: &gc_graph::GraphClient,
    runners: &[Arc<dyn KindRunner>],
    holder: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let n = &config.notifications;
    if !n.enabled {
        return Ok(vec![tokio::spawn(notifications::manager::remove_all(
            graph.clone(),
            store.clone(),
        ))]);
    }
    let addr: std::net::SocketAddr = n
        .listen
        .parse()
        .context("[notifications] listen is not an address with a port")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} ([notifications] listen)"))?;
    tracing::info!(listen = %addr, url = n.notification_url, "change-notification endpoint");
    let (tx, rx) = unbounded_channel();
    let hub = notifications::Hub::new(store.clone(), status.clone(), tx);
    let endpoint = notifications::endpoint::serve(hub.clone(), listener, shutdown.clone());
    let manager = notifications::manager::Manager::new(
        hub,
        graph.clone(),
        store.clone(),
        status.clone(),
        runners.to_vec(),
        notifications::manager::Settings {
            notification_url: n.notification_url.clone(),
            renew_before: jiff::SignedDuration::from_mins(i64::from(n.renew_before_minutes)),
            sync_folder: config.emails.sync_folder.clone(),
            task_list: config.tasks.list_name.clone(),
            contacts: match config.contacts.target {
                crate::config::model::ContactTarget::Folder => {
                    notifications::manager::ContactsWatch::Folder(
                        config.contacts.folder_name.clone(),
                    )
                }
                crate::config::model::ContactTarget::Category => {
                    notifications::manager::ContactsWatch::Mailbox
                }
            },
        },
        holder.to_owned(),
    );
    let manager = tokio::spawn(manager.run(rx, shutdown.clone()));
    Ok(vec![endpoint, manager])
}

/// Hourly: credential expiry (metric and alert); daily: retention of ledger, runs and alerts.
async fn housekeeping(
    config: Arc<Config>,
    store: Arc<dyn StateStore>,
    alerts: Arc<Alerter>,
    certificate: Option<Timestamp>,
) {
    let secret = config
        .microsoft
        .client_secret
        .as_ref()
        .and(config.microsoft.client_secret_expires)
        .and_then(|d| {
            jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        });
    let warn_days = i64::from(config.errors.expiry_warning_days);
    let retention = Duration::from_secs(u64::from(config.state.ledger_retention_days) * 86_400);
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    let mut hours = 0u64;
    loop {
        tick.tick().await;
        for (name, label, expires) in [
            ("client secret", "client_secret", secret),
            ("certificate", "certificate", certificate),
        ] {
            let Some(expires) = expires else { continue };
            metrics::gauge!("graph_connector_credential_expiry_timestamp_seconds", "credential" => label)
                .set(expires.as_second() as f64);
            let days_left = Timestamp::now()
                .duration_until(expires)
                .as_hours()
                .div_euclid(24);
            if days_left <= warn_days {
                alerts.credential_expiry(name, expires, days_left).await;
            }
        }
        if hours.is_multiple_of(24) && config.state.ledger_retention_days > 0 {
            let purged = (
                store.purge_ledger_older_than(retention).await,
                store.purge_runs_older_than(retention).await,
                store.purge_alerts_older_than(retention).await,
            );
            match purged {
                (Ok(l), Ok(r), Ok(a)) if l + r + a > 0 => tracing::info!(
                    ledger = l,
                    runs = r,
                    alerts = a,
                    days = config.state.ledger_retention_days,
                    "history older than the retention removed"
                ),
                (Ok(_), Ok(_), Ok(_)) => {}
                _ => tracing::warn!("cannot trim the history to [state] ledger_retention_days"),
            }
        }
        hours += 1;
    }
}

/// This process's presence: the lease `process/{holder}`, taken at once and then renewed (or
/// taken again, should the store have been unreachable past its expiry) at a third of the
/// lease time, for as long as the service runs. The admin pages of every process sharing the
/// store list the unexpired ones as the live processes; `stop` releases it with the mailbox
/// leases, and a killed process's entry expires with them.
async fn presence(store: Arc<dyn StateStore>, holder: String, ttl: Duration) {
    let key = gc_store::process_lease_key(&holder);
    let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(100)));
    loop {
        tick.tick().await;
        match store.try_acquire_lease(&key, &holder, ttl).await {
            Ok(Some(_)) => {}
            // The holder is unique to this process: nobody else can hold its key.
            Ok(None) => tracing::warn!(holder, "the presence lease is held by another process"),
            Err(e) => tracing::warn!(error = %e, "cannot renew this process's presence lease"),
        }
    }
}

/// Delta resets noticed by the metered store: alert when one mailbox keeps resetting.
async fn delta_resets(
    store: Arc<dyn StateStore>,
    alerts: Arc<Alerter>,
    mut rx: UnboundedReceiver<DeltaReset>,
) {
    while let Some((mailbox, kind)) = rx.recv().await {
        let address = store
            .get_mailbox(&mailbox)
            .await
            .ok()
            .flatten()
            .map(|m| m.address)
            .unwrap_or_else(|| mailbox.clone());
        alerts.delta_reset(&mailbox, &address, kind).await;
    }
}
