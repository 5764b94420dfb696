//! [`RunStore`]: the record of each mailbox run.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::Result;
use crate::types::{Kind, Run, RunEnd};

/// The runs: one row per run of a mailbox and kind, with its counts and outcome.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Record the start of a run; the id is a fresh UUID v7.
    async fn start_run(&self, mailbox: &str, kind: Kind) -> Result<Run>;

    /// Record the end of a run and, with it in one transaction, the mailbox's success and the
    /// release of its lease (see [`RunEnd`]). `NotFound` if the id is unknown, and then nothing is
    /// written. A mailbox removed meanwhile, or a lease another holder has taken since, is
    /// left as it is.
    async fn end_run(&self, end: &RunEnd) -> Result<Run>;

    /// One run.
    async fn get_run(&self, id: Uuid) -> Result<Option<Run>>;

    /// Most recent runs (of one mailbox, or all), newest first.
    async fn list_runs(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<Run>>;

    /// Retention for runs: delete runs started more than `age` ago. Returns how many.
    async fn purge_runs_older_than(&self, age: Duration) -> Result<u64>;
}
