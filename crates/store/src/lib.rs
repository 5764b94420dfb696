//! gc-store: the connector's memory of what it has synchronized.
//!
//! Everything the sync engine needs to be idempotent and crash-safe lives here: mailboxes
//! and their health, delta cursors, item links, the decision ledger, runs, and leases that
//! let several processes share one tenant. Two backends behind one trait:
//! [`SqliteStore`] (embedded default) and [`PgStore`] (shared deployments), each with its own
//! migrations (`migrations/sqlite`, `migrations/postgres`) and runtime (unchecked) queries.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gc_store::StoreError> {
//! use gc_store::{ItemCommit, Kind, LedgerAction, Link, NewLedgerEntry};
//! let store = gc_store::open("sqlite://state.db").await?;
//! let mut link = Link::new(Kind::Email, "rep-1", "AAMkAD...");
//! link.crm_id = Some(gc_store::CrmId(4_294_967_394));
//! store
//!     .commit_item(&ItemCommit {
//!         link: Some(link),
//!         ledger: vec![NewLedgerEntry::new("rep-1", Kind::Email, "AAMkAD...", LedgerAction::Created, "new e-mail")],
//!         cursor: None,
//!         fences: vec![], // the mailbox and item leases it must run under
//!         no_retry_row: false,
//!         release: vec![], // the item key lease, given up with the commit
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! See `docs/STORE.md` for the schema, the crash-safe write order, leases and retention.

mod error;
mod lease;
mod open;
mod postgres;
mod probe_reads;
mod schedule;
mod sql_backend;
mod sql_rows;
mod sql_writes;
mod sqlite;
mod store;
mod types;
mod url;
mod write;

pub use error::{StoreError, StoreErrorClass};
pub use lease::{Lease, LeaseFence, PROCESS_LEASE_PREFIX, lease_key, process_lease_key};
pub use open::{OpenOptions, open, open_with};
pub use postgres::PgStore;
pub use probe_reads::{MailboxReads, ProbeReads};
pub use schedule::{KindSchedule, ScheduleEntry};
pub use sqlite::SqliteStore;
pub use store::{
    AlertStore, CursorStore, ItemStore, LeaseStore, LedgerStore, LinkStore, MailboxStore, PENDING,
    ResolvedNameStore, Result, RunStore, StateStore, SubscriptionStore,
};
pub use types::{
    Alert, AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit, ItemRetry, Kind, KindRun,
    KindState, LedgerAction, LedgerEntry, LedgerFilter, Link, LinkState, MailboxExclusion,
    MailboxFailure, MailboxId, MailboxRecord, MailboxUpsert, NewAlert, NewLedgerEntry, Run,
    RunCounts, RunEnd, RunOutcome, SubscriptionRecord,
};
pub use url::{Backend, StoreUrl, redact_url};

/// The store's traits, to call its methods on a concrete store (`SqliteStore`, `PgStore`) or
/// to implement them: `use gc_store::prelude::*;`. Code holding `Arc<dyn StateStore>` or a
/// `T: StateStore` needs only `StateStore`.
pub mod prelude {
    pub use crate::store::{
        AlertStore, CursorStore, ItemStore, LeaseStore, LedgerStore, LinkStore, MailboxStore,
        ResolvedNameStore, RunStore, StateStore, SubscriptionStore,
    };
}
