//! The sync engine: everything that is the same for every kind.
//!
//! A kind (see [`SyncKind`]) brings its types, its pure rules (`triage`, `decide`) and the
//! calls that read and write its two sides; the engine runs it for a mailbox: lease, run
//! record, the walk of its sources with a cursor per scope, the retry gate and backoff, the
//! global-key lease, the commit of link and ledger, the error classes, cancellation and
//! progress. docs/SYNC.md describes the write order that makes this crash-safe.
//!
//! - [`kind`]: the trait a kind implements, and what it returns;
//! - [`cx`]: what a kind's calls see (the run, the item) and its few store writes;
//! - [`kept`]: the names the store keeps for a mailbox and kind, read once per run;
//! - [`runner`]: a mailbox run from lease to health, several mailboxes, tenant stops;
//! - [`idle`]: the pre-pass that leaves out mailboxes whose probes say nothing changed;
//! - [`walk`]: a source page by page, checkpoints, re-enumeration, reconciliation;
//! - [`item`]: one item from identify to finish, and its errors;
//! - [`commit`]: the store writes of items and cursors;
//! - [`planner`]: what the next run would do, without doing it (`graph-connector plan`);
//! - [`review`]: a first sync planned before it runs, and held when it would write too much;
//! - [`guard`], [`holds`]: the mass-delete guard, and the mailboxes and kinds it or the
//!   first-sync review holds for the administrator's confirmation;
//! - [`mailbox`], [`policy`], [`progress`], [`report`]: what a run is given and gives back;
//! - [`budget`], [`spool`]: the process's byte budget, and content parked on its way.

pub(crate) mod backlog;
pub mod batch;
pub mod budget;
pub mod commit;
pub mod cx;
pub mod flight;
pub mod guard;
pub mod held;
pub mod holds;
pub mod idle;
pub mod item;
pub mod kept;
pub mod kind;
pub mod mailbox;
pub mod planner;
pub mod policy;
pub mod progress;
pub mod report;
pub mod review;
mod run_end;
pub mod runner;
pub mod spool;
#[cfg(test)]
pub(crate) mod testkit;
pub mod walk;

use std::sync::Arc;

use gc_store::StateStore;

use crate::lease::KeyLocks;
use crate::ports::BacklogHint;

pub use budget::MemoryBudget;
pub use cx::{ItemCx, RunCx};
pub use guard::{DeleteGuard, GuardLimits};
pub use holds::{Hold, HoldReason};
pub use kind::{Applied, Identity, Page, Prepared, Source, SyncKind};
pub use mailbox::{MailboxTarget, Owner, RepKinds};
pub use planner::PlannedKeys;
pub use policy::RunPolicy;
pub use progress::{ItemOutcome, NoProgress, Progress};
pub use report::{MailboxOutcome, MailboxReport, SyncReport};
pub use runner::KindRunner;
pub use spool::Spool;

/// The engine of one process: the store, the run policy and this process's identity in
/// leases. Cheap to clone; kinds are passed to its calls.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn StateStore>,
    policy: Arc<RunPolicy>,
    holder: String,
    /// Global keys being worked by a task of this process (see [`KeyLocks`]).
    key_locks: Arc<KeyLocks>,
    /// Bytes of item content held at once by this process (see [`MemoryBudget`]).
    budget: MemoryBudget,
    /// Where runs tell how many items they have left (see [`crate::ports::BacklogHint`]).
    backlog: Option<Arc<dyn BacklogHint>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("holder", &self.holder)
            .finish()
    }
}

impl Engine {
    /// An engine. `holder` identifies this process in leases (unique per process).
    pub fn new(store: Arc<dyn StateStore>, policy: RunPolicy, holder: impl Into<String>) -> Self {
        let policy_budget = policy.memory_budget;
        Engine {
            store,
            holder: holder.into(),
            key_locks: Arc::new(KeyLocks::default()),
            budget: MemoryBudget::new(policy_budget),
            policy: Arc::new(policy),
            backlog: None,
        }
    }

    /// Tell `hint` how many items each mailbox run has left (the Graph client orders the
    /// tenant budget's waiting requests by it).
    pub fn with_backlog_hint(mut self, hint: Arc<dyn BacklogHint>) -> Self {
        self.backlog = Some(hint);
        self
    }

    /// The process's byte budget.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The run policy.
    pub fn policy(&self) -> &RunPolicy {
        &self.policy
    }

    /// This process's identity in leases.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}
