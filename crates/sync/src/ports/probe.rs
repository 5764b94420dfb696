//! Asking, for many mailboxes at once, whether anything changed since their last complete
//! round: what makes an idle cycle cost a fraction of a request per mailbox.

use async_trait::async_trait;

/// One question: a stored delta link of one mailbox's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The Graph user the link belongs to (for logs).
    pub user: String,
    /// The stored `@odata.deltaLink`.
    pub link: String,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// Nothing changed behind the link.
    Unchanged,
    /// Something changed (or more pages follow).
    Changed,
    /// No answer (the link expired, the folder is gone, the request failed): the mailbox is
    /// run, and its run finds out what is wrong.
    Unknown(String),
}

/// Answers many probes in few requests.
#[async_trait]
pub trait Prober: Send + Sync {
    /// One answer per probe, in order. Never fails as a whole: a request that failed is
    /// [`ProbeAnswer::Unknown`] for each of its probes.
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer>;
}
