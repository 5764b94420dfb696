//! Telling the Graph side how much a mailbox run still has to do.
//!
//! Graph's tenant-wide request budget is shared by every mailbox being worked; in a first sync
//! of a tenant it is the limit, and the cycle ends when its largest mailbox is through. A
//! run that says how many items it has left lets the budget serve the runs with the most
//! left first (`gc_graph::tenant_line`), so the largest mailboxes do not end the cycle working
//! alone on a budget the others no longer use.

/// Receives each mailbox run's items left.
pub trait BacklogHint: Send + Sync {
    /// The run of the Graph user `user` (`/users/{user}`) has `items` left to work; `None`
    /// when it ended (or stopped).
    fn set(&self, user: &str, items: Option<u64>);
}
