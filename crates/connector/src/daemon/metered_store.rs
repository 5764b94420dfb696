//! A [`StateStore`] decorator for the service: times every operation
//! (`graph_connector_store_operation_duration_seconds{operation}`), counts failures, and
//! notices delta resets (the engine clears a cursor when Graph says its delta checkpoint
//! expired) so that repeated resets can raise an alert, without any change to the engine.
//!
//! Every method forwards to the inner store, one impl per area trait of [`StateStore`] in the
//! order of its declarations; a method added to one must be forwarded here too (the compiler
//! says so).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gc_store::prelude::*;
use gc_store::{
    Alert, AlertDelivery, Backend, CrmId, Cursor, ExclusionPolicy, ItemCommit, ItemRetry, Kind,
    KindRun, Lease, LeaseFence, LedgerEntry, LedgerFilter, Link, MailboxExclusion, MailboxFailure,
    MailboxRecord, MailboxUpsert, NewAlert, NewLedgerEntry, ProbeReads, Result, Run, RunEnd,
    ScheduleEntry, SubscriptionRecord,
};
use jiff::Timestamp;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

/// A delta checkpoint that expired: (mailbox, kind).
pub type DeltaReset = (String, Kind);

/// The decorator.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn StateStore>,
    resets: Option<UnboundedSender<DeltaReset>>,
}

impl MeteredStore {
    /// Wrap `inner`; delta resets are sent to `resets`.
    pub fn new(inner: Arc<dyn StateStore>, resets: Option<UnboundedSender<DeltaReset>>) -> Self {
        MeteredStore { inner, resets }
    }

    async fn timed<T>(&self, op: &'static str, f: impl Future<Output = Result<T>>) -> Result<T> {
        let start = Instant::now();
        let r = f.await;
        metrics::histogram!("graph_connector_store_operation_duration_seconds", "operation" => op)
            .record(start.elapsed().as_secs_f64());
        if r.is_err() {
            metrics::counter!("graph_connector_store_errors_total", "operation" => op).increment(1);
        }
        r
    }
}

#[async_trait]
impl StateStore for MeteredStore {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn now(&self) -> Result<Timestamp> {
        self.timed("now", self.inner.now()).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

#[async_trait]
impl MailboxStore for MeteredStore {
    async fn upsert_mailbox(&self, m: &MailboxUpsert) -> Result<MailboxRecord> {
        self.timed("upsert_mailbox", self.inner.upsert_mailbox(m))
            .await
    }
    async fn get_mailbox(&self, rep_id: &str) -> Result<Option<MailboxRecord>> {
        self.timed("get_mailbox", self.inner.get_mailbox(rep_id))
            .await
    }
    async fn exclusion(&self, rep_id: &str) -> Result<Option<MailboxExclusion>> {
        self.timed("exclusion", self.inner.exclusion(rep_id)).await
    }
    async fn list_mailboxes(&self) -> Result<Vec<MailboxRecord>> {
        self.timed("list_mailboxes", self.inner.list_mailboxes())
            .await
    }
    async fn schedule(&self) -> Result<Vec<ScheduleEntry>> {
        self.timed("schedule", self.inner.schedule()).await
    }
    async fn schedule_of(&self, rep_ids: &[String]) -> Result<Vec<ScheduleEntry>> {
        self.timed("schedule_of", self.inner.schedule_of(rep_ids))
            .await
    }
    async fn set_enabled(&self, rep_id: &str, enabled: bool) -> Result<()> {
        self.timed("set_enabled", self.inner.set_enabled(rep_id, enabled))
            .await
    }
    async fn set_graph_user_id(&self, rep_id: &str, id: Option<&str>) -> Result<()> {
        self.timed(
            "set_graph_user_id",
            self.inner.set_graph_user_id(rep_id, id),
        )
        .await
    }
    async fn record_success(&self, rep_id: &str) -> Result<()> {
        self.timed("record_success", self.inner.record_success(rep_id))
            .await
    }
    async fn record_failure(
        &self,
        rep_id: &str,
        failure: &MailboxFailure,
        exclusion: Option<ExclusionPolicy>,
    ) -> Result<MailboxRecord> {
        self.timed(
            "record_failure",
            self.inner.record_failure(rep_id, failure, exclusion),
        )
        .await
    }
    async fn clear_exclusion(&self, rep_id: &str) -> Result<()> {
        self.timed("clear_exclusion", self.inner.clear_exclusion(rep_id))
            .await
    }
    async fn set_next_due(&self, rep_id: &str, kind: Kind, at: Timestamp) -> Result<()> {
        self.timed("set_next_due", self.inner.set_next_due(rep_id, kind, at))
            .await
    }
    async fn set_due_in(&self, rep_id: &str, kind: Kind, after: std::time::Duration) -> Result<()> {
        self.timed("set_due_in", self.inner.set_due_in(rep_id, kind, after))
            .await
    }
    async fn due_mailboxes(&self, kind: Kind, limit: u32) -> Result<Vec<MailboxRecord>> {
        self.timed("due_mailboxes", self.inner.due_mailboxes(kind, limit))
            .await
    }
    async fn set_paused(&self, rep_id: &str, kind: Option<Kind>, paused: bool) -> Result<()> {
        self.timed("set_paused", self.inner.set_paused(rep_id, kind, paused))
            .await
    }
    async fn record_kind_run(&self, rep_id: &str, kind: Kind, run: &KindRun) -> Result<()> {
        self.timed(
            "record_kind_run",
            self.inner.record_kind_run(rep_id, kind, run),
        )
        .await
    }
    async fn record_idle_runs(&self, kind: Kind, idle: &[(String, Timestamp)]) -> Result<()> {
        self.timed("record_idle_runs", self.inner.record_idle_runs(kind, idle))
            .await
    }
    async fn needing_runs(
        &self,
        kind: Kind,
        mailboxes: &[String],
        at: Timestamp,
    ) -> Result<Vec<String>> {
        self.timed("needing_runs", self.inner.needing_runs(kind, mailboxes, at))
            .await
    }
    async fn probe_reads(&self, kind: Kind, mailboxes: &[String]) -> Result<ProbeReads> {
        self.timed("probe_reads", self.inner.probe_reads(kind, mailboxes))
            .await
    }
}

#[async_trait]
impl CursorStore for MeteredStore {
    async fn get_cursor(&self, mailbox: &str, kind: Kind, scope: &str) -> Result<Option<Cursor>> {
        self.timed("get_cursor", self.inner.get_cursor(mailbox, kind, scope))
            .await
    }
    async fn list_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<Vec<Cursor>> {
        self.timed("list_cursors", self.inner.list_cursors(mailbox, kind))
            .await
    }
    async fn put_cursor(&self, cursor: &Cursor, fences: &[LeaseFence]) -> Result<()> {
        self.timed("put_cursor", self.inner.put_cursor(cursor, fences))
            .await
    }
    async fn clear_cursor(
        &self,
        mailbox: &str,
        kind: Kind,
        scope: &str,
        fences: &[LeaseFence],
    ) -> Result<bool> {
        let cleared = self
            .timed(
                "clear_cursor",
                self.inner.clear_cursor(mailbox, kind, scope, fences),
            )
            .await?;
        // The engine clears a single cursor only when Graph said the checkpoint expired.
        metrics::counter!("graph_connector_delta_resets_total", "kind" => kind.as_str())
            .increment(1);
        if let Some(tx) = &self.resets {
            let _ = tx.send((mailbox.to_owned(), kind));
        }
        Ok(cleared)
    }
    async fn clear_cursors(&self, mailbox: &str, kind: Option<Kind>) -> Result<u64> {
        self.timed("clear_cursors", self.inner.clear_cursors(mailbox, kind))
            .await
    }
}

#[async_trait]
impl ResolvedNameStore for MeteredStore {
    async fn get_resolved(&self, mailbox: &str, kind: Kind, name: &str) -> Result<Option<String>> {
        self.timed("get_resolved", self.inner.get_resolved(mailbox, kind, name))
            .await
    }
    async fn resolved_of(&self, mailbox: &str, kind: Kind) -> Result<Vec<(String, String)>> {
        self.timed("resolved_of", self.inner.resolved_of(mailbox, kind))
            .await
    }
    async fn list_resolved(&self, name: &str) -> Result<Vec<(String, Kind, String)>> {
        self.timed("list_resolved", self.inner.list_resolved(name))
            .await
    }
    async fn put_resolved(
        &self,
        mailbox: &str,
        kind: Kind,
        name: &str,
        value: Option<&str>,
    ) -> Result<()> {
        self.timed(
            "put_resolved",
            self.inner.put_resolved(mailbox, kind, name, value),
        )
        .await
    }
    async fn clear_resolved_prefix(&self, mailbox: &str, kind: Kind, prefix: &str) -> Result<u64> {
        self.timed(
            "clear_resolved_prefix",
            self.inner.clear_resolved_prefix(mailbox, kind, prefix),
        )
        .await
    }
}

#[async_trait]
impl SubscriptionStore for MeteredStore {
    async fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        self.timed("list_subscriptions", self.inner.list_subscriptions())
            .await
    }
    async fn get_subscription(&self, subscription_id: &str) -> Result<Option<SubscriptionRecord>> {
        self.timed(
            "get_subscription",
            self.inner.get_subscription(subscription_id),
        )
        .await
    }
    async fn put_subscription(&self, s: &SubscriptionRecord) -> Result<()> {
        self.timed("put_subscription", self.inner.put_subscription(s))
            .await
    }
    async fn delete_subscription(&self, subscription_id: &str) -> Result<bool> {
        self.timed(
            "delete_subscription",
            self.inner.delete_subscription(subscription_id),
        )
        .await
    }
}

#[async_trait]
impl LinkStore for MeteredStore {
    async fn get_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<Option<Link>> {
        self.timed("get_link", self.inner.get_link(kind, mailbox, graph_id))
            .await
    }
    async fn links_by_global_key(&self, kind: Kind, key: &str) -> Result<Vec<Link>> {
        self.timed(
            "links_by_global_key",
            self.inner.links_by_global_key(kind, key),
        )
        .await
    }
    async fn links_by_crm_id(&self, kind: Kind, crm_id: CrmId) -> Result<Vec<Link>> {
        self.timed("links_by_crm_id", self.inner.links_by_crm_id(kind, crm_id))
            .await
    }
    async fn list_links(
        &self,
        mailbox: &str,
        kind: Kind,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>> {
        self.timed(
            "list_links",
            self.inner.list_links(mailbox, kind, after, limit),
        )
        .await
    }
    async fn unsettled_links(
        &self,
        mailbox: &str,
        kind: Kind,
        since: Option<Timestamp>,
    ) -> Result<Vec<Link>> {
        self.timed(
            "unsettled_links",
            self.inner.unsettled_links(mailbox, kind, since),
        )
        .await
    }
    async fn upsert_link(&self, link: &Link, fences: &[LeaseFence]) -> Result<()> {
        self.timed("upsert_link", self.inner.upsert_link(link, fences))
            .await
    }
    async fn upsert_links(&self, links: &[Link]) -> Result<()> {
        self.timed("upsert_links", self.inner.upsert_links(links))
            .await
    }
    async fn delete_link(&self, kind: Kind, mailbox: &str, graph_id: &str) -> Result<bool> {
        self.timed(
            "delete_link",
            self.inner.delete_link(kind, mailbox, graph_id),
        )
        .await
    }
}

#[async_trait]
impl ItemStore for MeteredStore {
    async fn commit_item(&self, commit: &ItemCommit) -> Result<Vec<i64>> {
        self.timed("commit_item", self.inner.commit_item(commit))
            .await
    }
    async fn link_and_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
    ) -> Result<(Option<Link>, Option<ItemRetry>)> {
        self.timed(
            "link_and_retry",
            self.inner.link_and_retry(kind, mailbox, item_key),
        )
        .await
    }
    async fn get_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
    ) -> Result<Option<ItemRetry>> {
        self.timed("get_retry", self.inner.get_retry(kind, mailbox, item_key))
            .await
    }
    async fn record_retry(
        &self,
        kind: Kind,
        mailbox: &str,
        item_key: &str,
        error: &str,
        delay: Duration,
    ) -> Result<ItemRetry> {
        self.timed(
            "record_retry",
            self.inner
                .record_retry(kind, mailbox, item_key, error, delay),
        )
        .await
    }
    async fn clear_retry(&self, kind: Kind, mailbox: &str, item_key: &str) -> Result<bool> {
        self.timed(
            "clear_retry",
            self.inner.clear_retry(kind, mailbox, item_key),
        )
        .await
    }
    async fn list_retries(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<ItemRetry>> {
        self.timed("list_retries", self.inner.list_retries(mailbox, limit))
            .await
    }
}

#[async_trait]
impl LedgerStore for MeteredStore {
    async fn record_ledger(&self, entry: &NewLedgerEntry) -> Result<i64> {
        self.timed("record_ledger", self.inner.record_ledger(entry))
            .await
    }
    async fn query_ledger(&self, filter: &LedgerFilter) -> Result<Vec<LedgerEntry>> {
        self.timed("query_ledger", self.inner.query_ledger(filter))
            .await
    }
    async fn purge_ledger_older_than(&self, age: Duration) -> Result<u64> {
        self.timed("purge_ledger", self.inner.purge_ledger_older_than(age))
            .await
    }
    async fn export_ledger_jsonl(
        &self,
        filter: &LedgerFilter,
        out: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<u64> {
        self.timed("export_ledger", self.inner.export_ledger_jsonl(filter, out))
            .await
    }
}

#[async_trait]
impl RunStore for MeteredStore {
    async fn start_run(&self, mailbox: &str, kind: Kind) -> Result<Run> {
        self.timed("start_run", self.inner.start_run(mailbox, kind))
            .await
    }
    async fn end_run(&self, end: &RunEnd) -> Result<Run> {
        self.timed("end_run", self.inner.end_run(end)).await
    }
    async fn get_run(&self, id: Uuid) -> Result<Option<Run>> {
        self.timed("get_run", self.inner.get_run(id)).await
    }
    async fn list_runs(&self, mailbox: Option<&str>, limit: u32) -> Result<Vec<Run>> {
        self.timed("list_runs", self.inner.list_runs(mailbox, limit))
            .await
    }
    async fn purge_runs_older_than(&self, age: Duration) -> Result<u64> {
        self.timed("purge_runs", self.inner.purge_runs_older_than(age))
            .await
    }
}

#[async_trait]
impl AlertStore for MeteredStore {
    async fn raise_alert(&self, alert: &NewAlert, repeat_after: Duration) -> Result<Option<Alert>> {
        self.timed("raise_alert", self.inner.raise_alert(alert, repeat_after))
            .await
    }
    async fn set_alert_delivery(
        &self,
        id: i64,
        delivery: AlertDelivery,
        error: Option<&str>,
    ) -> Result<()> {
        self.timed(
            "set_alert_delivery",
            self.inner.set_alert_delivery(id, delivery, error),
        )
        .await
    }
    async fn list_alerts(&self, limit: u32) -> Result<Vec<Alert>> {
        self.timed("list_alerts", self.inner.list_alerts(limit))
            .await
    }
    async fn purge_alerts_older_than(&self, age: Duration) -> Result<u64> {
        self.timed("purge_alerts", self.inner.purge_alerts_older_than(age))
            .await
    }
}

#[async_trait]
impl LeaseStore for MeteredStore {
    async fn try_acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseFence>> {
        self.timed(
            "try_acquire_lease",
            self.inner.try_acquire_lease(key, holder, ttl),
        )
        .await
    }
    async fn renew_lease(&self, fence: &LeaseFence, ttl: Duration) -> Result<bool> {
        self.timed("renew_lease", self.inner.renew_lease(fence, ttl))
            .await
    }
    async fn release_lease(&self, fence: &LeaseFence) -> Result<bool> {
        self.timed("release_lease", self.inner.release_lease(fence))
            .await
    }
    async fn lease(&self, key: &str) -> Result<Option<Lease>> {
        self.timed("lease", self.inner.lease(key)).await
    }
    async fn acquire_leases(
        &self,
        holder: &str,
        candidates: &[String],
        limit: usize,
        ttl: Duration,
    ) -> Result<Vec<LeaseFence>> {
        self.timed(
            "acquire_leases",
            self.inner.acquire_leases(holder, candidates, limit, ttl),
        )
        .await
    }
    async fn renew_leases(&self, holder: &str, ttl: Duration) -> Result<Vec<LeaseFence>> {
        self.timed("renew_leases", self.inner.renew_leases(holder, ttl))
            .await
    }
    async fn release_leases(&self, holder: &str) -> Result<u64> {
        self.timed("release_leases", self.inner.release_leases(holder))
            .await
    }
    async fn list_leases(&self) -> Result<Vec<Lease>> {
        self.timed("list_leases", self.inner.list_leases()).await
    }
}
