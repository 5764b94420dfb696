//! Sending a notification: the drop and delay switches of the control API, then the POST with
//! its retries and the counters. Shared by change notifications and lifecycle events, which
//! skip the switches.

use super::Subscriptions;
use serde_json::Value;
use std::time::Duration;

/// One notification to send.
pub(super) struct Outgoing {
    pub(super) url: String,
    pub(super) body: Value,
}

impl Subscriptions {
    /// Drop, delay, then POST one notification (retried twice, as Graph retries a failing
    /// endpoint, only more briefly).
    pub(super) async fn deliver(&self, o: Outgoing) {
        let delay = {
            let mut s = self.lock();
            if s.knobs.drop_next > 0 {
                s.knobs.drop_next -= 1;
                s.knobs.dropped += 1;
                return;
            }
            s.knobs.delay_ms
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.send(o).await;
    }

    pub(super) async fn send(&self, o: Outgoing) {
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            let sent = self
                .http
                .post(&o.url)
                .json(&o.body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                self.lock().knobs.delivered += 1;
                return;
            }
        }
        self.lock().knobs.failed += 1;
        tracing::warn!(url = %o.url, "sandbox: the notification endpoint did not accept a notification");
    }
}
