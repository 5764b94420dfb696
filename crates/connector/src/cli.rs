//! The command line. Every command and option explains itself in `--help`; only commands that
//! work are listed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keeps the Microsoft 365 mailboxes of a whole tenant (e-mails, appointments, To Do tasks,
/// contacts) in sync with Aurea CRM, through Microsoft Graph and CRM.interface.
///
/// Start with `graph-connector config example > graph-connector.toml`, fill in the tenant and
/// CRM settings, then `graph-connector config validate --config graph-connector.toml`.
#[derive(Debug, Parser)]
#[command(name = "graph-connector", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace). Overrides `[logging] level` (which only
    /// `run` reads; the one-shot commands log warnings only by default); RUST_LOG overrides
    /// both.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an example configuration, or check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the validation checklist: the token can be acquired, every required permission is
    /// granted, CRM.interface answers and the master user can impersonate, the catalog values
    /// and the forms.xml entry exist, every enabled rep has an Exchange mailbox. Each failure
    /// names its cause and its fix. Exit status 0 only when everything passes.
    Check(CheckArgs),
    /// Synchronize: refresh the mailbox list, then one full cycle of every enabled kind
    /// (e-mails, appointments, tasks, contacts, absences) for every mailbox whose rep has the
    /// kind's flag. A progress bar per mailbox on a terminal, a
    /// summary table at the end. Exit status 1 when a mailbox failed as a whole.
    Sync(SyncArgs),
    /// Show what the next `sync` would do, per mailbox and kind: how many records it would
    /// create, adopt, update and delete on each side, skip, with examples and reasons.
    /// Writes nothing to Microsoft 365, CRM or the state store.
    Plan(PlanArgs),
    /// Confirm what a held mailbox and kind is to do: its first sync waiting for review
    /// (`[mailboxes] confirm_first_sync_above`) or the deletions the mass-delete guard held
    /// (`[errors] max_delete_fraction`). The next run goes ahead. `--list` shows what waits.
    Confirm(ConfirmArgs),
    /// Run the service: synchronize every mailbox on its schedule (`interval_minutes` of each
    /// kind), serve the admin page, JSON API and Prometheus metrics (`[admin] listen`), and
    /// alert the administrator. SIGTERM or Ctrl-C stops it gracefully (a second one at once);
    /// SIGHUP reloads the configuration.
    Run(RunArgs),
    /// Pause or resume a mailbox (or one kind of it) locally, list mailboxes with their
    /// state, or reset a kind of a mailbox (walk it again from the start). A running service
    /// picks the change up at its next look at the schedule; the refresh of the mailbox list
    /// from CRM never undoes a pause.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Try the product without Microsoft 365 or CRM: start the built-in sandbox tenant, file
    /// some messages into the users' sync folders, synchronize them, and show what landed in
    /// CRM. The sandbox keeps running (until Ctrl-C) so you can try more.
    Demo(DemoArgs),
    /// Serve the built-in sandbox tenant (Microsoft Graph, token endpoint, CRM.interface,
    /// control API) until Ctrl-C and write a configuration pointing at it.
    Sandbox(crate::commands::sandbox::SandboxArgs),
    /// Search the per-item history (every decision with its reason), export it as JSON lines
    /// for a support case, or trim it to the configured retention.
    Ledger(LedgerArgs),
    /// Process one item again at the next run (`resync`), or make the connector forget it
    /// (`forget`). Written to the ledger with who asked.
    #[command(subcommand)]
    Item(crate::commands::reprocess::ItemCommand),
}

/// Options of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run one cycle and exit (required: the service that keeps synchronizing is `run`).
    #[arg(long)]
    pub once: bool,
    /// Only this mailbox (the rep's e-mail address).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
    /// Print the summary as JSON (no progress bars).
    #[arg(long)]
    pub json: bool,
}

/// Options of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this mailbox (the rep's e-mail address).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
    /// Only this kind: email, appointment, task, contact, absence.
    #[arg(long)]
    pub kind: Option<String>,
    /// Print `{"plans": [...]}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `confirm`.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The mailbox (the rep's e-mail address).
    #[arg(long, value_name = "ADDRESS", required_unless_present = "list")]
    pub mailbox: Option<String>,
    /// The kind: email, appointment, task, contact, absence.
    #[arg(long, required_unless_present = "list")]
    pub kind: Option<String>,
    /// List what waits for confirmation instead.
    #[arg(long)]
    pub list: bool,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// On SIGTERM/SIGINT, how long running cycles may take to finish before they are
    /// abandoned (safe: their items are picked up by the next start).
    #[arg(long, default_value_t = 8, value_name = "SECONDS")]
    pub shutdown_timeout: u64,
    /// Run under the Windows Service Control Manager (see docs/DEPLOY.md).
    #[cfg(windows)]
    #[arg(long)]
    pub windows_service: bool,
}

/// `mailbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Stop synchronizing a mailbox (all kinds, or one) until `resume`.
    Pause(MailboxArgs),
    /// Synchronize a paused mailbox (or kind) again.
    Resume(MailboxArgs),
    /// List the mailboxes in the state store with their state, pauses and next due times.
    List(MailboxListArgs),
    /// Walk one kind of a mailbox again from the start at the next run, adopting what exists:
    /// its cursors are dropped, its links kept. Written to the ledger with who asked.
    Reset(crate::commands::reprocess::ResetArgs),
}

/// Which mailbox.
#[derive(Debug, Args)]
pub struct MailboxArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The mailbox's address (or its store id, the rep's CRM id).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: String,
    /// Only this kind: email, appointment, task, contact, absence.
    #[arg(long)]
    pub kind: Option<String>,
}

/// Options of `mailbox list`.
#[derive(Debug, Args)]
pub struct MailboxListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Exit after the demo instead of keeping the sandbox running (for scripts and CI).
    #[arg(long)]
    pub exit: bool,
    /// Seed of the generated tenant.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Messages filed per user.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub messages: usize,
    /// Port of the sandbox (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Add missing values to the CRM catalogs ("Content Type (groupware)", "Ext. System (Rep)")
    /// before checking.
    #[arg(long)]
    pub fix_catalogs: bool,
    /// Mailbox to probe on the Microsoft side (default: the first enabled rep's).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
}

/// Options of `ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Show the history of items, newest first: what was created, adopted, skipped, failed,
    /// and why.
    Show(LedgerFilterArgs),
    /// Write the matching history as JSON lines to stdout, oldest first, for a support case.
    Export(LedgerFilterArgs),
    /// Remove history older than `[state] ledger_retention_days`.
    Purge(ConfigArgs),
}

/// Which ledger entries.
#[derive(Debug, Args)]
pub struct LedgerFilterArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this mailbox (its address).
    #[arg(long, value_name = "ADDRESS")]
    pub mailbox: Option<String>,
    /// Only this kind: email, appointment, task, contact, absence.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this item (a Graph id or a global key such as an internetMessageId).
    #[arg(long, value_name = "KEY")]
    pub item: Option<String>,
    /// Only this CRM record id.
    #[arg(long, value_name = "ID")]
    pub crm_id: Option<u64>,
    /// Only this action: created, updated, adopted, skipped, deleted, conflict, failed,
    /// warning, moved.
    #[arg(long)]
    pub action: Option<String>,
    /// Entries at or after this date or time (2026-11-27 or 2026-11-27T10:00:00Z).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Entries before this date or time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// At most this many entries (show only).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of a table (show only).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a complete, commented configuration with every setting and its default.
    ///
    /// Save it, fill in `[microsoft]` and `[crm]`, and keep secrets out of the file with
    /// `*_file` keys or GRAPH_CONNECTOR__SECTION__KEY environment variables.
    Example,
    /// Check a configuration file and report every problem at once, each with the file, the
    /// line, the key and what to write instead. Exits with status 1 when there is any.
    /// Warnings (e.g. CRM.interface over plain http) do not change the exit status.
    Validate(ConfigArgs),
    /// Print the CRM.interface dialect in use (the built-in table and field names overridden
    /// by `[crm.dialect]`) as TOML, marking the keys that differ from the defaults.
    Dialect(ConfigArgs),
}

/// Where the configuration file is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The configuration file (TOML). Environment variables GRAPH_CONNECTOR__SECTION__KEY
    /// override its keys.
    #[arg(
        long,
        short,
        env = "GRAPH_CONNECTOR_CONFIG",
        default_value = "graph-connector.toml"
    )]
    pub config: PathBuf,
}
