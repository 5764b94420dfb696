//! `graph-connector confirm --mailbox ADDR --kind K`: the administrator confirms what a held
//! mailbox and kind is to do (the first-sync review, `[mailboxes] confirm_first_sync_above`;
//! the mass-delete guard, `[errors] max_delete_fraction`). The next run then goes ahead; the
//! confirmation is in the ledger with who asked. `--list` shows what waits. And the alert a
//! one-shot `sync` raises when it holds a mailbox (the service's scheduler raises its own).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gc_store::StateStore;
use gc_sync::engine::holds;
use gc_sync::{MailboxOutcome, SyncReport};

use crate::cli::ConfirmArgs;
use crate::commands::plan::parse_kind;
use crate::commands::sync::Runtime;
use crate::config::{self, Config};
use crate::daemon::alerts::Alerter;
use crate::wiring;

/// Who asked, for the ledger: the command line and the operating-system user.
pub fn cli_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("command line (user {user})")
}

/// The store id of a mailbox given by address (or by id).
pub async fn mailbox_id(store: &dyn StateStore, id: &str) -> anyhow::Result<(String, String)> {
    if let Some(m) = store.get_mailbox(id).await? {
        return Ok((m.rep_id, m.address));
    }
    store
        .list_mailboxes()
        .await?
        .into_iter()
        .find(|m| m.address.eq_ignore_ascii_case(id))
        .map(|m| (m.rep_id, m.address))
        .with_context(|| format!("no mailbox {id} in the state store"))
}

/// `confirm`.
pub async fn run(args: ConfirmArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(&args.config.config, std::env::vars())?;
    let store = wiring::store(&config).await?;
    let result = async {
        if args.list {
            return list(store.as_ref()).await;
        }
        let (Some(mailbox), Some(kind)) = (&args.mailbox, &args.kind) else {
            anyhow::bail!("name the mailbox and kind: --mailbox ADDR --kind K (or --list)");
        };
        let kind = parse_kind(kind)?;
        let (id, address) = mailbox_id(store.as_ref(), mailbox).await?;
        match holds::confirm(store.as_ref(), &id, kind, &cli_user())
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?
        {
            None => {
                println!("{address} {kind}: nothing waits for confirmation");
                Ok(ExitCode::FAILURE)
            }
            Some(h) => {
                println!(
                    "{address} {kind}: confirmed ({}: {}); the next run goes ahead",
                    h.reason.text(),
                    h.summary
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    }
    .await;
    store.close().await;
    result
}

async fn list(store: &dyn StateStore) -> anyhow::Result<ExitCode> {
    let all = holds::list(store)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let mailboxes = store.list_mailboxes().await?;
    if all.is_empty() {
        println!("nothing waits for confirmation");
    }
    for (id, kind, h) in all {
        let address = mailboxes
            .iter()
            .find(|m| m.rep_id == id)
            .map_or(id.as_str(), |m| m.address.as_str());
        let state = match &h.confirmed_by {
            None => "waiting".to_owned(),
            Some(who) => format!("confirmed by {who}"),
        };
        println!(
            "{address}  {kind}  {}  since {}  {state}\n    {}",
            h.reason.text(),
            h.since.strftime("%Y-%m-%d %H:%M:%S"),
            h.summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// After a one-shot `sync`: alert the administrator about every mailbox and kind it held
/// (the same alert, rate limit and delivery as the service's).
pub async fn alert_held(config: &Config, rt: &Runtime, report: &SyncReport) {
    let held: Vec<_> = report
        .mailboxes
        .iter()
        .filter(|m| m.outcome == MailboxOutcome::Held)
        .collect();
    if held.is_empty() {
        return;
    }
    let e = &config.errors;
    let alerter = Alerter::new(
        rt.store.clone(),
        rt.graph.clone() as Arc<dyn gc_sync::ports::Notifier>,
        config.microsoft.admin_email.clone(),
        e.notify_admin,
        Duration::from_secs(u64::from(e.alert_repeat_hours.max(1)) * 3600),
        0,
    );
    for m in held {
        let Ok((id, address)) = mailbox_id(rt.store.as_ref(), &m.mailbox).await else {
            continue;
        };
        alerter
            .held(
                &id,
                &address,
                m.kind,
                m.error.as_deref().unwrap_or_default(),
            )
            .await;
    }
}
