//! `graph-connector item resync|forget` and `graph-connector mailbox reset`: the reprocess
//! controls (see `gc_sync::reprocess` for exactly what each does). They change only the state
//! store; the next run (of `sync --once` or the service) does the work. Each is written to the
//! ledger with who asked: `--by`, else the operating-system user.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use gc_store::Kind;
use gc_sync::reprocess::{self, Done, Requester};

use crate::cli::ConfigArgs;
use crate::config;
use crate::wiring;

/// `item` subcommands.
#[derive(Debug, Subcommand)]
pub enum ItemCommand {
    /// Process one item again at the next run: the link is kept (its record is found through
    /// it, never written twice) and what the connector remembers of the item's source side
    /// is forgotten, so the next run compares the item with its record and writes what
    /// differs. An e-mail is filed again onto its activity the next time it is in the sync
    /// folder.
    Resync(ItemArgs),
    /// Drop one item's link (nothing is written to either side): the connector no longer
    /// knows the item; when a source reports it again it is treated as new, i.e. adopted
    /// (found again by its key or content), not duplicated.
    Forget(ItemArgs),
}

/// Which item.
#[derive(Debug, Args)]
pub struct ItemArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The mailbox's address (or its store id, the rep's CRM id).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: String,
    /// The kind: email, appointment, task, contact, absence.
    #[arg(long)]
    pub kind: String,
    /// The item: its Graph id (the ledger's item key), its iCalUId or internetMessageId, or
    /// the CRM id of its record.
    #[arg(long, value_name = "KEY")]
    pub item: String,
    /// Who asks (the ledger records it); default: the operating-system user.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

/// Options of `mailbox reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The mailbox's address (or its store id, the rep's CRM id).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: String,
    /// The kind: email, appointment, task, contact, absence.
    #[arg(long)]
    pub kind: String,
    /// Leave unlinked items dated before this day (YYYY-MM-DD, CRM's time zone) alone in the
    /// walk from the start, as `[mailboxes] sync_from` does for a first sync.
    #[arg(long, value_name = "DATE")]
    pub from: Option<jiff::civil::Date>,
    /// Who asks (the ledger records it); default: the operating-system user.
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
}

/// The kind named on the command line.
pub fn parse_kind(k: &str) -> anyhow::Result<Kind> {
    k.trim().parse::<Kind>().map_err(|_| {
        anyhow::anyhow!("unknown kind {k:?}: write email, appointment, task, contact or absence")
    })
}

/// `--by`, else the operating-system user.
fn requester(by: Option<&str>) -> anyhow::Result<Requester> {
    let who = by
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_default();
    Requester::new(who, "cli")
        .map_err(|_| anyhow::anyhow!("cannot tell who asks (no USER or USERNAME): give --by NAME"))
}

fn print(done: &Done) {
    println!("{}", done.summary);
    if let Some(item) = &done.item {
        println!("item: {item}");
    }
    if done.cursors_dropped > 0 {
        println!("cursors dropped: {}", done.cursors_dropped);
    }
}

/// `item resync|forget`.
pub async fn item(command: ItemCommand) -> anyhow::Result<ExitCode> {
    let (a, forget) = match command {
        ItemCommand::Resync(a) => (a, false),
        ItemCommand::Forget(a) => (a, true),
    };
    let kind = parse_kind(&a.kind)?;
    let who = requester(a.by.as_deref())?;
    let config = config::load(&a.config.config, std::env::vars())?;
    let store = wiring::store(&config).await?;
    let result = if forget {
        reprocess::forget(store.as_ref(), &a.mailbox, kind, &a.item, &who).await
    } else {
        reprocess::resync(store.as_ref(), &a.mailbox, kind, &a.item, &who).await
    };
    store.close().await;
    print(&result?);
    Ok(ExitCode::SUCCESS)
}

/// `mailbox reset`.
pub async fn reset(a: ResetArgs) -> anyhow::Result<ExitCode> {
    let kind = parse_kind(&a.kind)?;
    let who = requester(a.by.as_deref())?;
    let config = config::load(&a.config.config, std::env::vars())?;
    let from = match a.from {
        Some(day) => {
            let tz = wiring::time_zone(&config)?;
            Some(day.to_zoned_datetime(tz)?.timestamp())
        }
        None => None,
    };
    let store = wiring::store(&config).await?;
    let result = reprocess::reset(store.as_ref(), &a.mailbox, kind, from, &who).await;
    store.close().await;
    print(&result?);
    Ok(ExitCode::SUCCESS)
}
