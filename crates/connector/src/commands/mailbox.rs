//! `graph-connector mailbox pause|resume|list`: local pauses, written to the state store. A
//! running service sees them at its next look at the schedule (at most half a minute later)
//! and asks a run in progress to stop taking new items; the mailbox list refresh from CRM
//! never undoes a pause.

use std::process::ExitCode;

use anyhow::Context;
use gc_store::{Kind, MailboxRecord, StateStore};

use crate::cli::{MailboxArgs, MailboxCommand, MailboxListArgs};
use crate::config;
use crate::daemon::scheduler::mailbox_state;
use crate::wiring;

pub async fn run(command: MailboxCommand) -> anyhow::Result<ExitCode> {
    match command {
        MailboxCommand::Pause(a) => set(a, true).await,
        MailboxCommand::Resume(a) => set(a, false).await,
        MailboxCommand::List(a) => list(a).await,
        MailboxCommand::Reset(a) => crate::commands::reprocess::reset(a).await,
    }
}

async fn find(store: &dyn StateStore, id: &str) -> anyhow::Result<MailboxRecord> {
    if let Some(m) = store.get_mailbox(id).await? {
        return Ok(m);
    }
    store
        .list_mailboxes()
        .await?
        .into_iter()
        .find(|m| m.address.eq_ignore_ascii_case(id))
        .with_context(|| {
            format!("no mailbox {id} in the state store (the service or `sync --once` adds mailboxes when it reads the list from CRM)")
        })
}

async fn set(a: MailboxArgs, paused: bool) -> anyhow::Result<ExitCode> {
    let kind = a
        .kind
        .as_deref()
        .map(|k| {
            k.parse::<Kind>().map_err(|_| {
                anyhow::anyhow!(
                    "unknown kind {k:?}: write email, appointment, task, contact or absence"
                )
            })
        })
        .transpose()?;
    let config = config::load(&a.config.config, std::env::vars())?;
    let store = wiring::store(&config).await?;
    let result = async {
        let m = find(store.as_ref(), &a.mailbox).await?;
        store.set_paused(&m.rep_id, kind, paused).await?;
        let what = kind.map_or_else(|| "every kind".to_owned(), |k| k.to_string());
        println!(
            "{} {} ({what})",
            if paused { "paused" } else { "resumed" },
            m.address
        );
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn list(a: MailboxListArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(&a.config.config, std::env::vars())?;
    let store = wiring::store(&config).await?;
    let result = async {
        let all = store.list_mailboxes().await?;
        let now = store.now().await?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&all)?);
            return anyhow::Ok(());
        }
        let w = all
            .iter()
            .map(|m| m.address.len())
            .max()
            .unwrap_or(7)
            .max(7);
        println!(
            "{:<w$}  {:<9}  {:<20}  next due",
            "mailbox", "state", "paused kinds"
        );
        for m in &all {
            let paused: Vec<&str> = m
                .kinds
                .iter()
                .filter(|(_, k)| k.paused_at.is_some())
                .map(|(k, _)| k.as_str())
                .collect();
            let due: Vec<String> = m
                .next_due
                .iter()
                .map(|(k, t)| format!("{k} {}", t.strftime("%Y-%m-%d %H:%M:%S")))
                .collect();
            println!(
                "{:<w$}  {:<9}  {:<20}  {}",
                m.address,
                mailbox_state(m, false, now),
                paused.join(","),
                due.join(", ")
            );
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}
