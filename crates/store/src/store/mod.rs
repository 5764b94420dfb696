//! The [`StateStore`] trait: everything the sync engine persists, as one sub-trait per area
//! (one file each) and `StateStore`, their sum, which adds what belongs to no area.
//!
//! Split by area so that each backend's SQL can be split the same way
//! ([`sql_backend`](crate::sql_backend)): `#[async_trait]` rewrites only the methods written
//! inside the impl it annotates, not those an inner macro would generate, so the SQL of an
//! area can live in its own macro file only as an impl of its own trait.

mod alert;
mod cursor;
mod item;
mod lease;
mod ledger;
mod link;
mod mailbox;
mod resolved;
mod run;
mod subscription;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::StoreError;
use crate::url::Backend;

pub use alert::AlertStore;
pub use cursor::CursorStore;
pub use item::ItemStore;
pub use lease::LeaseStore;
pub use ledger::LedgerStore;
pub use link::LinkStore;
pub use mailbox::MailboxStore;
pub use resolved::ResolvedNameStore;
pub use run::RunStore;
pub use subscription::SubscriptionStore;

/// Kept names that start with this mark work a run left to do (a notice to the user not sent
/// yet): [`MailboxStore::needing_runs`] runs their mailbox whatever a change probe says, so an
/// idle mailbox does not sit on them.
pub const PENDING: &str = "pending:";

/// Result alias of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The connector's memory of what it has synchronized.
///
/// Object safe: callers hold an `Arc<dyn StateStore>` from [`crate::open()`]. Both backends
/// pass the same conformance suite (`tests/conformance.rs`). Every timestamp the store writes
/// comes from the database clock, so several processes sharing one PostgreSQL database agree
/// on lease expiry, exclusion ends and ledger times.
///
/// Crash safety (see `docs/STORE.md`): store the intent link ([`crate::LinkState::Interrupted`])
/// under the item's fences, write the CRM record (findable again by external key / global
/// key, so a repeat becomes an adoption), then call [`ItemStore::commit_item`] with the
/// link, ledger entries, cursor advance and fences (one transaction), and only after that
/// move the Graph message to its success/failure folder.
///
/// Fenced writes (`fences` arguments, [`ItemCommit::fences`](crate::ItemCommit::fences)) check
/// in their own transaction that every [`LeaseFence`](crate::LeaseFence) is still held (key,
/// holder, generation, not expired by the database clock) and fail with
/// [`StoreError::LeaseLost`], writing nothing, when one is not. An empty list means unfenced.
///
/// The methods live in one sub-trait per area ([`MailboxStore`], [`CursorStore`],
/// [`ResolvedNameStore`], [`SubscriptionStore`], [`LinkStore`], [`ItemStore`],
/// [`LedgerStore`], [`RunStore`], [`AlertStore`], [`LeaseStore`]); this trait keeps what
/// belongs to none. They are called on `dyn StateStore` and on `T: StateStore` without
/// importing the sub-traits; a concrete store needs them in scope ([`crate::prelude`]).
#[async_trait]
pub trait StateStore:
    MailboxStore
    + CursorStore
    + ResolvedNameStore
    + SubscriptionStore
    + LinkStore
    + ItemStore
    + LedgerStore
    + RunStore
    + AlertStore
    + LeaseStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The database clock.
    async fn now(&self) -> Result<Timestamp>;

    /// Close the connection pool (waits for checked-out connections).
    async fn close(&self);
}
