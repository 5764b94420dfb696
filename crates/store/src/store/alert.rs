//! [`AlertStore`]: the administrator's alerts and their repeat gate.

use std::time::Duration;

use async_trait::async_trait;

use super::Result;
use crate::types::{Alert, AlertDelivery, NewAlert};

/// The alerts sent to the administrator, gated per key so that processes sharing the database
/// raise each one once.
///
/// One area of [`StateStore`](crate::StateStore), which says what every area shares: the
/// database clock, the crash-safe write order, fences.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Raise an alert unless one with the same key was raised less than `repeat_after` ago
    /// (then `None`). Atomic across processes sharing the database: of two processes raising
    /// the same alert at once, one gets it. The new alert is `Pending`.
    async fn raise_alert(&self, alert: &NewAlert, repeat_after: Duration) -> Result<Option<Alert>>;

    /// Record what became of an alert. `NotFound` if the id is unknown.
    async fn set_alert_delivery(
        &self,
        id: i64,
        delivery: AlertDelivery,
        error: Option<&str>,
    ) -> Result<()>;

    /// Most recent alerts, newest first.
    async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>>;

    /// Retention for alerts: delete alerts raised more than `age` ago. Returns how many.
    async fn purge_alerts_older_than(&self, age: Duration) -> Result<u64>;
}
