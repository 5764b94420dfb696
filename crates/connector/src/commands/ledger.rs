//! `graph-connector ledger`: the per-item history an administrator searches ("why was this
//! message not filed?"), exports for a support case, and trims to the configured retention.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use gc_store::{Kind, LedgerAction, LedgerEntry, LedgerFilter, StateStore};

use crate::cli::{LedgerArgs, LedgerCommand, LedgerFilterArgs};
use crate::config;
use crate::wiring;

pub async fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.command {
        LedgerCommand::Show(f) | LedgerCommand::Export(f) => &f.config.config,
        LedgerCommand::Purge(c) => &c.config,
    };
    let config = config::load(path, std::env::vars())?;
    let store = wiring::store(&config).await?;
    let result = match &args.command {
        LedgerCommand::Show(f) => show(store.as_ref(), f).await,
        LedgerCommand::Export(f) => export(store.as_ref(), f).await,
        LedgerCommand::Purge(_) => {
            let days = config.state.ledger_retention_days;
            let age = Duration::from_secs(u64::from(days) * 86_400);
            let entries = store.purge_ledger_older_than(age).await?;
            let runs = store.purge_runs_older_than(age).await?;
            println!("removed {entries} ledger entries and {runs} runs older than {days} days");
            Ok(())
        }
    };
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

/// The store filter for the command-line options; a mailbox is given by its address, the store
/// keys mailboxes by the rep's CRM id.
async fn filter(store: &dyn StateStore, f: &LedgerFilterArgs) -> anyhow::Result<LedgerFilter> {
    let mailbox = match &f.mailbox {
        None => None,
        Some(address) => {
            let mailboxes = store.list_mailboxes().await?;
            let found = mailboxes
                .iter()
                .find(|m| m.address.eq_ignore_ascii_case(address) || m.rep_id == *address)
                .with_context(|| format!("no mailbox {address} in the state store (run `sync` first, or check the address)"))?;
            Some(found.rep_id.clone())
        }
    };
    let parse_time =
        |s: &str| -> anyhow::Result<jiff::Timestamp> {
            if let Ok(ts) = s.parse::<jiff::Timestamp>() {
                return Ok(ts);
            }
            let date: jiff::civil::Date = s.parse().with_context(|| {
                format!("{s:?} is neither a date (2026-11-27) nor a time (2026-11-27T10:00:00Z)")
            })?;
            Ok(jiff::tz::TimeZone::UTC
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))?)
        };
    Ok(LedgerFilter {
        mailbox,
        kind: f
            .kind
            .as_deref()
            .map(str::parse::<Kind>)
            .transpose()
            .map_err(|_| anyhow::anyhow!("unknown kind; write one of: {}", names(Kind::ALL)))?,
        item_key: f.item.clone(),
        crm_id: f.crm_id.map(gc_store::CrmId),
        action: f
            .action
            .as_deref()
            .map(str::parse::<LedgerAction>)
            .transpose()
            .map_err(|_| {
                anyhow::anyhow!("unknown action; write one of: {}", names(LedgerAction::ALL))
            })?,
        run_id: None,
        since: f.since.as_deref().map(parse_time).transpose()?,
        until: f.until.as_deref().map(parse_time).transpose()?,
        before_id: None,
        limit: Some(f.limit),
    })
}

fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn show(store: &dyn StateStore, f: &LedgerFilterArgs) -> anyhow::Result<()> {
    let filter = filter(store, f).await?;
    let entries = store.query_ledger(&filter).await?;
    if f.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("no ledger entries match");
        return Ok(());
    }
    // The store keys mailboxes by the rep's CRM id; people know them by address.
    let addresses: std::collections::BTreeMap<String, String> = store
        .list_mailboxes()
        .await?
        .into_iter()
        .map(|m| (m.rep_id, m.address))
        .collect();
    for e in &entries {
        print_entry(e, addresses.get(&e.mailbox).unwrap_or(&e.mailbox));
    }
    Ok(())
}

/// Two lines per entry: what happened and why, then which item.
fn print_entry(e: &LedgerEntry, mailbox: &str) {
    let time = e.at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let crm = e
        .crm_id
        .map(|id| format!(" (CRM {id})"))
        .unwrap_or_default();
    println!(
        "{time} {mailbox} {} {}{crm}: {}\n    item {}",
        e.kind.as_str(),
        e.action.as_str().to_uppercase(),
        e.reason,
        e.item_key
    );
}

async fn export(store: &dyn StateStore, f: &LedgerFilterArgs) -> anyhow::Result<()> {
    let filter = filter(store, f).await?;
    let mut out = tokio::io::stdout();
    let n = store.export_ledger_jsonl(&filter, &mut out).await?;
    tokio::io::AsyncWriteExt::flush(&mut out).await?;
    eprintln!("exported {n} ledger entries");
    Ok(())
}
