//! Reprocess controls: what an administrator asks for one item or one mailbox and kind
//! (`graph-connector item resync|forget`, `graph-connector mailbox reset`, and the same
//! buttons on the admin page). Each changes only the store, never Microsoft 365 or CRM; the
//! next run does the work. Each is written to the ledger (action `reprocess`) with who asked.
//!
//! - **resync** (one item): the link stays, so the next run finds the record through it and
//!   never writes a second one; what the connector remembers of the item's *source side* is
//!   forgotten, so the next run compares the item with its record again and writes what
//!   differs. The source side is Microsoft 365 for e-mail and appointments (the link's Graph
//!   change key and hash are cleared and the Microsoft 365 cursors of the mailbox and kind
//!   dropped, so the walk meets the item again; the other items it meets are unchanged and
//!   write nothing), CRM for tasks, contacts and absences (the link's CRM stamp and hash are
//!   cleared and the CRM cursor dropped). A failed or conflicting link becomes active, and the
//!   item's retry wait is cleared. An e-mail is filed only from the sync folder: its link is
//!   marked failed ("resync requested") with its activity kept, so that the message, once in
//!   the sync folder again, is filed onto that activity (completed, not duplicated) instead of
//!   being recognised as done.
//! - **forget** (one item): the link and the retry wait are deleted; nothing else. The item is
//!   then unknown to the connector: it is left alone until a source reports it again (a
//!   change, or a walk from the start), and is then treated as new, which means adoption:
//!   found again by its key, its previous connector's id or its content, not duplicated.
//! - **reset** (a mailbox and kind): every cursor of the pair is dropped and the links kept, so
//!   the next run walks every source from the start like a first sync and adopts what exists
//!   (linked items are compared, unlinked ones adopted or created). `--from DATE` makes that
//!   walk leave alone unlinked items dated before DATE (as `[mailboxes] sync_from` does for a
//!   first sync), until the walk has completed.

use gc_store::{
    CrmId, Kind, LedgerAction, Link, LinkState, MailboxRecord, NewLedgerEntry, StateStore,
    StoreError,
};
use jiff::Timestamp;

/// The `resolved_names` entry that carries a reset's `--from` date to the next run.
pub const RESET_FROM: &str = "reset_from";

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReprocessError {
    /// No mailbox with that address (or rep id) in the store.
    #[error("no mailbox {0} in the state store (run a sync first, or check the address)")]
    NoMailbox(String),
    /// No link of the mailbox and kind has that key.
    #[error("no {kind} item {key} is linked in the mailbox {mailbox}")]
    NoItem {
        kind: Kind,
        mailbox: String,
        key: String,
    },
    /// The key names several items.
    #[error("{count} {kind} items of the mailbox {mailbox} match {key}; give the item's Graph id")]
    Ambiguous {
        kind: Kind,
        mailbox: String,
        key: String,
        count: usize,
    },
    /// A soft-deleted item is not synchronised any more.
    #[error(
        "the {kind} item {key} was deleted on one side (link soft-deleted); resync does not bring it back, forget it instead"
    )]
    Deleted { kind: Kind, key: String },
    /// An empty requester.
    #[error("who asked must be named")]
    NoRequester,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who asked, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The OS user or `--by` (CLI), the admin user (admin page).
    pub who: String,
    /// `cli` or `admin`.
    pub via: &'static str,
}

impl Requester {
    pub fn new(who: impl Into<String>, via: &'static str) -> Result<Self, ReprocessError> {
        let who = who.into().trim().to_owned();
        if who.is_empty() {
            return Err(ReprocessError::NoRequester);
        }
        Ok(Requester { who, via })
    }
}

/// What a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The mailbox (rep id).
    pub mailbox: String,
    /// The item (Graph id of the link), when one.
    pub item: Option<String>,
    /// The record it was linked to.
    pub crm_id: Option<CrmId>,
    /// Cursors dropped.
    pub cursors_dropped: u64,
    /// What happened, in words (also the ledger's reason).
    pub summary: String,
}

/// The mailbox by address (case-insensitive) or rep id.
pub async fn find_mailbox(
    store: &dyn StateStore,
    mailbox: &str,
) -> Result<MailboxRecord, ReprocessError> {
    if let Some(m) = store.get_mailbox(mailbox).await? {
        return Ok(m);
    }
    store
        .list_mailboxes()
        .await?
        .into_iter()
        .find(|m| m.address.eq_ignore_ascii_case(mailbox.trim()))
        .ok_or_else(|| ReprocessError::NoMailbox(mailbox.to_owned()))
}

/// The link `key` names in the mailbox: its Graph id, else its global key (`iCalUId`,
/// `internetMessageId`), else its CRM id.
pub async fn find_link(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    key: &str,
) -> Result<Link, ReprocessError> {
    let key = key.trim();
    if let Some(l) = store.get_link(kind, mailbox, key).await? {
        return Ok(l);
    }
    let mut found: Vec<Link> = store
        .links_by_global_key(kind, key)
        .await?
        .into_iter()
        .filter(|l| l.mailbox == mailbox)
        .collect();
    if found.is_empty()
        && let Ok(id) = key.parse::<CrmId>()
    {
        found = store
            .links_by_crm_id(kind, id)
            .await?
            .into_iter()
            .filter(|l| l.mailbox == mailbox)
            .collect();
    }
    match found.len() {
        0 => Err(ReprocessError::NoItem {
            kind,
            mailbox: mailbox.to_owned(),
            key: key.to_owned(),
        }),
        1 => Ok(found.remove(0)),
        count => Err(ReprocessError::Ambiguous {
            kind,
            mailbox: mailbox.to_owned(),
            key: key.to_owned(),
            count,
        }),
    }
}

/// Whether the kind's source side is Microsoft 365 (e-mail, appointments) or CRM.
fn source_is_microsoft365(kind: Kind) -> bool {
    matches!(kind, Kind::Email | Kind::Appointment)
}

/// The scopes of the CRM sources (`crm` of appointments and tasks); the rest are Microsoft
/// 365 sources.
fn is_crm_scope(scope: &str) -> bool {
    scope == "crm"
}

/// The link as a resync leaves it (pure; see the module documentation).
pub fn resynced(link: &Link, who: &Requester) -> Link {
    let mut l = link.clone();
    l.updated_at = None;
    if link.kind == Kind::Email {
        l.state = LinkState::Failed {
            reason: format!("resync requested by {}", who.who),
        };
        l.graph_version = None;
        l.graph_hash = None;
        return l;
    }
    if matches!(l.state, LinkState::Failed { .. } | LinkState::Conflict) {
        l.state = LinkState::Active;
    }
    if source_is_microsoft365(link.kind) {
        l.graph_version = None;
        l.graph_hash = None;
    } else {
        l.crm_version = None;
        l.crm_hash = None;
    }
    l
}

async fn record(
    store: &dyn StateStore,
    kind: Kind,
    done: &Done,
    what: &str,
    who: &Requester,
) -> Result<(), ReprocessError> {
    let mut e = NewLedgerEntry::new(
        done.mailbox.as_str(),
        kind,
        done.item.as_deref().unwrap_or("(mailbox)"),
        LedgerAction::Reprocess,
        format!(
            "{} (requested by {} via {})",
            done.summary, who.who, who.via
        ),
    );
    e.crm_id = done.crm_id;
    e.detail = Some(serde_json::json!({
        "reprocess": what,
        "requested_by": who.who,
        "via": who.via,
    }));
    store.record_ledger(&e).await?;
    Ok(())
}

/// Drop the cursors of (mailbox, kind) that `keep` does not hold on to.
async fn drop_cursors(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    drop: impl Fn(&str) -> bool,
) -> Result<u64, ReprocessError> {
    let mut n = 0;
    for c in store.list_cursors(mailbox, Some(kind)).await? {
        if drop(&c.scope) && store.clear_cursor(mailbox, kind, &c.scope, &[]).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// `item resync`.
pub async fn resync(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    key: &str,
    who: &Requester,
) -> Result<Done, ReprocessError> {
    let mb = find_mailbox(store, mailbox).await?;
    let link = find_link(store, &mb.rep_id, kind, key).await?;
    if link.state == LinkState::SoftDeleted {
        return Err(ReprocessError::Deleted {
            kind,
            key: key.to_owned(),
        });
    }
    store.upsert_links(&[resynced(&link, who)]).await?;
    store.clear_retry(kind, &mb.rep_id, &link.graph_id).await?;
    let cursors = if kind == Kind::Email {
        0
    } else if source_is_microsoft365(kind) {
        drop_cursors(store, &mb.rep_id, kind, |s| !is_crm_scope(s)).await?
    } else {
        drop_cursors(store, &mb.rep_id, kind, is_crm_scope).await?
    };
    let summary = if kind == Kind::Email {
        format!(
            "resync: the message is filed again onto its activity the next time it is in the sync folder{}",
            link.crm_id.map(|c| format!(" ({c})")).unwrap_or_default()
        )
    } else {
        format!(
            "resync: the next run compares the item with its record{} and writes what differs",
            link.crm_id.map(|c| format!(" {c}")).unwrap_or_default()
        )
    };
    let done = Done {
        mailbox: mb.rep_id,
        item: Some(link.graph_id),
        crm_id: link.crm_id,
        cursors_dropped: cursors,
        summary,
    };
    record(store, kind, &done, "resync", who).await?;
    Ok(done)
}

/// `item forget`.
pub async fn forget(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    key: &str,
    who: &Requester,
) -> Result<Done, ReprocessError> {
    let mb = find_mailbox(store, mailbox).await?;
    let link = find_link(store, &mb.rep_id, kind, key).await?;
    store.delete_link(kind, &mb.rep_id, &link.graph_id).await?;
    store.clear_retry(kind, &mb.rep_id, &link.graph_id).await?;
    let summary = format!(
        "forget: the link{} is dropped; the item is treated as new (adopted, not duplicated) when a source reports it again",
        link.crm_id.map(|c| format!(" to {c}")).unwrap_or_default()
    );
    let done = Done {
        mailbox: mb.rep_id,
        item: Some(link.graph_id),
        crm_id: link.crm_id,
        cursors_dropped: 0,
        summary,
    };
    record(store, kind, &done, "forget", who).await?;
    Ok(done)
}

/// `mailbox reset`.
pub async fn reset(
    store: &dyn StateStore,
    mailbox: &str,
    kind: Kind,
    from: Option<Timestamp>,
    who: &Requester,
) -> Result<Done, ReprocessError> {
    let mb = find_mailbox(store, mailbox).await?;
    let value = from.map(|t| t.to_string());
    store
        .put_resolved(&mb.rep_id, kind, RESET_FROM, value.as_deref())
        .await?;
    let cursors = store.clear_cursors(&mb.rep_id, Some(kind)).await?;
    let summary = match from {
        Some(t) => format!(
            "reset: {cursors} cursor(s) dropped, links kept; the next run walks from the start and leaves unlinked items dated before {t} alone"
        ),
        None => format!(
            "reset: {cursors} cursor(s) dropped, links kept; the next run walks from the start and adopts what exists"
        ),
    };
    let done = Done {
        mailbox: mb.rep_id,
        item: None,
        crm_id: None,
        cursors_dropped: cursors,
        summary,
    };
    record(store, kind, &done, "reset", who).await?;
    Ok(done)
}

/// The `--from` of the last reset of the run's mailbox and kind while its walk has not
/// completed (as the run found it, see [`Kept`](crate::engine::kept::Kept)).
pub fn reset_from(kept: &crate::engine::kept::Kept) -> Option<Timestamp> {
    kept.get(RESET_FROM).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: Kind) -> Link {
        let mut l = Link::new(kind, "7", "AAkALg1");
        l.crm_id = Some(CrmId::new(1, 2));
        l.graph_version = Some("ck".into());
        l.graph_hash = Some("gh".into());
        l.crm_version = Some("cv".into());
        l.crm_hash = Some("ch".into());
        l
    }

    #[test]
    fn resync_forgets_the_source_side_only() {
        let who = Requester::new("alice", "cli").unwrap();
        let a = resynced(&link(Kind::Appointment), &who);
        assert_eq!((a.graph_version, a.graph_hash), (None, None));
        assert_eq!(a.crm_hash.as_deref(), Some("ch"));
        assert_eq!(a.crm_id, Some(CrmId::new(1, 2)));
        assert_eq!(a.state, LinkState::Active);
        let c = resynced(&link(Kind::Contact), &who);
        assert_eq!((c.crm_version, c.crm_hash), (None, None));
        assert_eq!(c.graph_version.as_deref(), Some("ck"));
        let mut failed = link(Kind::Task);
        failed.state = LinkState::Conflict;
        assert_eq!(resynced(&failed, &who).state, LinkState::Active);
        let e = resynced(&link(Kind::Email), &who);
        assert!(matches!(e.state, LinkState::Failed { ref reason } if reason.contains("alice")));
        assert_eq!(e.crm_id, Some(CrmId::new(1, 2)));
        assert!(Requester::new("  ", "cli").is_err());
    }
}
