//! What a kind's calls can see: the mailbox run ([`RunCx`]) and the item ([`ItemCx`]), with
//! the few store writes a kind makes itself (the intent before a CRM write, a ledger line
//! after a Graph move), so that every store write of the engine goes through one place.

use std::sync::Arc;

use gc_store::{
    CrmId, Kind, LeaseFence, LedgerAction, Link, LinkState, NewLedgerEntry, StateStore,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::engine::mailbox::MailboxTarget;
use crate::engine::policy::RunPolicy;
use crate::error::{ErrorClass, PortError, store_error};

/// Whether the link records an interrupted write ([`LinkState::Interrupted`]: a process killed,
/// or a transient error, in the middle of a write): the next attempt must look for what it
/// may have written without its external key, and complete it.
pub fn is_interrupted(link: Option<&Link>) -> bool {
    link.is_some_and(|l| l.state == LinkState::Interrupted)
}

/// One mailbox run of one kind.
#[derive(Clone, Copy)]
pub struct RunCx<'a> {
    /// The mailbox.
    pub target: &'a MailboxTarget,
    /// The kind being run.
    pub kind: Kind,
    /// The run record's id (ledger entries refer to it).
    pub run_id: Uuid,
    /// The state store.
    pub store: &'a Arc<dyn StateStore>,
    /// The run policy.
    pub policy: &'a RunPolicy,
    /// This process's identity in leases.
    pub holder: &'a str,
    /// Tripped on shutdown, on a tenant-level stop, or when the mailbox lease is lost: no new
    /// item starts and no further CRM write is made under it.
    pub cancel: &'a CancellationToken,
    /// The mailbox lease: every store write of the run is fenced by it, so a process that lost
    /// the mailbox (paused past the lease time) can no longer commit anything.
    pub fence: &'a LeaseFence,
    /// This process's in-process locks per global key.
    pub key_locks: &'a Arc<crate::lease::KeyLocks>,
    /// The process's byte budget for item content (see [`super::MemoryBudget`]).
    pub budget: &'a super::MemoryBudget,
    /// A planning walk (`graph-connector plan`, the first-sync review): reads only. A kind's
    /// `prepare` and `page` must then write nothing (no folder or list created, nothing kept
    /// in the store); `apply` and `finish` are never called.
    pub planning: bool,
    /// The mass-delete guard of this run (`None`: off, or a planning walk).
    pub guard: Option<&'a super::guard::DeleteGuard>,
    /// What the store kept for the mailbox and kind when the run started (folder and list
    /// ids, see [`super::kept`]): a kind reads a kept name here, not from the store.
    pub kept: &'a super::kept::Kept,
}

impl std::fmt::Debug for RunCx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCx")
            .field("mailbox", &self.target.owner.email)
            .field("kind", &self.kind)
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl RunCx<'_> {
    /// The store's mailbox id (rep id).
    pub fn mailbox(&self) -> &str {
        self.target.mailbox()
    }

    /// The rep's address (CRM impersonation).
    pub fn rep(&self) -> &str {
        self.target.rep()
    }

    /// The Graph user (`/users/{…}`).
    pub fn user(&self) -> &str {
        &self.target.graph_user
    }

    /// The rep who owns the mailbox (flags, language, per-rep settings).
    pub fn owner(&self) -> &super::Owner {
        &self.target.owner
    }

    /// `Err` (class [`ErrorClass::Cancelled`]) once the run was called off: call it before
    /// every write, so nothing is written under a lease that is gone or after a stop.
    pub fn check_run(&self) -> Result<(), PortError> {
        if self.cancel.is_cancelled() {
            Err(PortError::new(
                ErrorClass::Cancelled,
                "the run was called off (shutdown, stop, or the mailbox lease was lost)",
            ))
        } else {
            Ok(())
        }
    }

    /// A ledger entry of this run.
    pub fn entry(
        &self,
        item: &str,
        crm_id: Option<CrmId>,
        action: LedgerAction,
        reason: &str,
    ) -> NewLedgerEntry {
        let mut e = NewLedgerEntry::new(self.mailbox(), self.kind, item, action, reason);
        e.run_id = Some(self.run_id);
        e.crm_id = crm_id;
        e
    }

    /// Append a ledger entry on its own (a fact after the commit, like a message move). A
    /// failure is logged, not raised: the decision itself is already committed.
    pub async fn record(&self, entry: &NewLedgerEntry) {
        if let Err(e) = self.store.record_ledger(entry).await {
            tracing::warn!(mailbox = self.mailbox(), kind = %self.kind, error = %e, "cannot record a ledger entry");
        }
    }
}

/// One item of a mailbox run.
#[derive(Debug, Clone, Copy)]
pub struct ItemCx<'a> {
    /// The run.
    pub run: &'a RunCx<'a>,
    /// The item's link key.
    pub item: &'a str,
    /// The item's tenant-wide key.
    pub global_key: Option<&'a str>,
    /// The item's link as it was when the item started.
    pub link: Option<&'a Link>,
    /// Whether the item may have a retry row (a transient failure waiting): `false` only
    /// when its retry state was read at the item's start, under its item lock, and there was
    /// none, so its commit need not delete one (see `ItemCommit::no_retry_row`).
    pub may_have_retry: bool,
    /// The item's global-key lease while it is held (gather, decide, apply, commit).
    pub key: Option<&'a crate::lease::LeaseGuard>,
}

impl<'a> std::ops::Deref for ItemCx<'a> {
    type Target = RunCx<'a>;

    fn deref(&self) -> &RunCx<'a> {
        self.run
    }
}

impl ItemCx<'_> {
    /// `Err` (class [`ErrorClass::Cancelled`]) once the run was called off or the item's
    /// global-key lease was lost: call it before every write.
    pub fn check(&self) -> Result<(), PortError> {
        self.run.check_run()?;
        match self.key {
            Some(k) if k.is_lost() => Err(PortError::new(
                ErrorClass::Cancelled,
                "the lease on this item's global key was lost",
            )),
            _ => Ok(()),
        }
    }

    /// The leases the item's writes are fenced by: the mailbox's, and the global key's while
    /// it is held.
    pub fn fences(&self) -> Vec<LeaseFence> {
        let mut f = vec![self.run.fence.clone()];
        if let Some(k) = self.key {
            f.push(k.fence().clone());
        }
        f
    }

    /// The item's link as it is, or a new one, with the item's global key.
    pub fn link_or_new(&self) -> Link {
        let mut l = self
            .link
            .cloned()
            .unwrap_or_else(|| Link::new(self.run.kind, self.run.mailbox(), self.item));
        if l.global_key.is_none() {
            l.global_key = self.global_key.map(str::to_owned);
        }
        l
    }

    /// A new active link to `crm_id` with the item's identity.
    pub fn active_link(&self, crm_id: CrmId) -> Link {
        let mut l = Link::new(self.run.kind, self.run.mailbox(), self.item);
        l.global_key = self.global_key.map(str::to_owned);
        l.crm_id = Some(crm_id);
        l
    }

    /// A failed link keeping what is known (global key, CRM id).
    pub fn failed_link(&self, reason: &str, crm_id: Option<CrmId>) -> Link {
        let mut l = self.link_or_new();
        l.crm_id = crm_id.or(l.crm_id);
        l.state = LinkState::Failed {
            reason: reason.to_owned(),
        };
        l
    }

    /// Before a write that must be found again after a crash: store "a write for this item is
    /// under way" (with the CRM id once known), so that the next attempt looks for it instead
    /// of writing again.
    pub async fn intent(&self, crm_id: Option<CrmId>) -> Result<(), PortError> {
        self.intent_writing(crm_id, None).await
    }

    /// [`Self::intent`], keeping in it the CRM side's content hash of what the write is
    /// about to write (`crm_hash`): the attempt that finds the record again knows whether CRM
    /// changed it since, instead of taking an edit made in between for what was written.
    pub async fn intent_writing(
        &self,
        crm_id: Option<CrmId>,
        crm_hash: Option<&str>,
    ) -> Result<(), PortError> {
        self.check()?;
        let mut l = self.link_or_new();
        l.crm_id = crm_id.or(l.crm_id);
        l.state = LinkState::Interrupted;
        if let Some(h) = crm_hash {
            l.crm_hash = Some(h.to_owned());
        }
        self.run
            .store
            .upsert_link(&l, &self.fences())
            .await
            .map_err(store_error)
    }

    /// A ledger entry about this item.
    pub fn entry(
        &self,
        crm_id: Option<CrmId>,
        action: LedgerAction,
        reason: &str,
    ) -> NewLedgerEntry {
        self.run.entry(self.item, crm_id, action, reason)
    }
}
