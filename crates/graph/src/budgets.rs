//! The request budgets: a tenant-wide one and one per mailbox (`[microsoft]
//! requests_per_second`, Graph's per-mailbox limit), each a GCRA cell counter from `governor`.
//!
//! Waiting for the tenant budget is done in [`crate::tenant_line`] rather than with
//! `governor`'s `until_ready`: that one lets every waiting request sleep on its own timer
//! until the earliest moment a cell frees, so with hundreds of requests waiting for the tenant
//! budget (the first round of a large tenant runs at it) all of them wake for each cell, one
//! gets it and the rest sleep again, and each of those sleeps goes through `futures-timer`'s
//! own thread. There the waiters queue and only one task sleeps, on tokio's timer: one
//! wake-up per request, the mailboxes with the most work left first.

use std::num::NonZeroU32;
use std::time::Duration;

use std::sync::Arc;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::options::Budget;
use crate::tenant_line::{HeadStart, TenantLine};

/// The budgets of one client.
pub(crate) struct Budgets {
    tenant: Option<Arc<TenantLine>>,
    mailbox: Option<DefaultKeyedRateLimiter<String>>,
}

impl Budgets {
    pub(crate) fn new(
        tenant: Option<Budget>,
        mailbox: Option<Budget>,
        head_start: HeadStart,
    ) -> Self {
        Budgets {
            tenant: tenant
                .and_then(quota)
                .map(|q| Arc::new(TenantLine::new(RateLimiter::direct(q), head_start))),
            mailbox: mailbox.and_then(quota).map(RateLimiter::keyed),
        }
    }

    /// Record how many items the run of `mailbox` still has (`None`: the run ended), for the
    /// tenant budget's order ([`crate::tenant_line`]).
    pub(crate) fn set_backlog(&self, mailbox: &str, items: Option<u64>) {
        if let Some(line) = &self.tenant {
            line.set_backlog(mailbox, items);
        }
    }

    /// Wait until one more request fits the tenant budget and, with `mailbox`, that
    /// mailbox's budget; the request is counted against both.
    pub(crate) async fn take(&self, mailbox: Option<&str>) {
        if let Some(line) = &self.tenant {
            line.take(mailbox).await;
        }
        if let (Some(l), Some(m)) = (&self.mailbox, mailbox) {
            // A handful of requests of one mailbox at most wait here at once (its slots):
            // no queue needed.
            let key = m.to_ascii_lowercase();
            while let Err(not_until) = l.check_key(&key) {
                tokio::time::sleep(not_until.wait_time_from(l.clock().now())).await;
            }
        }
    }
}

/// A budget as a GCRA quota: `requests` spread evenly over `per`, all of them at once allowed
/// (`None` for a budget of no requests, i.e. none set).
fn quota(b: Budget) -> Option<Quota> {
    let n = NonZeroU32::new(b.requests)?;
    let period = b.per.checked_div(b.requests)?;
    Some(Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn budget_to_quota() {
        assert!(
            quota(Budget {
                requests: 0,
                per: Duration::from_secs(1)
            })
            .is_none()
        );
        let q = quota(Budget {
            requests: 10_000,
            per: Duration::from_secs(600),
        })
        .unwrap();
        assert_eq!(q.burst_size().get(), 10_000);
        assert_eq!(q.replenish_interval(), Duration::from_millis(60));
    }

    /// 40 requests racing for a budget of 10 per 100 ms: after the burst of 10, the other 30
    /// are spread over about 300 ms, none earlier than its cell allows, and all get through.
    /// (Only lower bounds are exact: a loaded machine may run any of them later.)
    #[tokio::test]
    async fn many_waiters_are_paced_by_the_tenant_budget() {
        let budgets = Arc::new(Budgets::new(
            Some(Budget {
                requests: 10,
                per: Duration::from_millis(100),
            }),
            None,
            HeadStart::default(),
        ));
        let began = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let b = budgets.clone();
            tasks.spawn(async move {
                b.take(Some("a@example.com")).await;
                began.elapsed()
            });
        }
        let mut at: Vec<Duration> = tasks.join_all().await;
        at.sort();
        // Cell n (0-based, after the burst of 10) is free at (n - 9) × 10 ms.
        for (n, t) in at.iter().enumerate().skip(10) {
            let earliest = Duration::from_millis(10 * (n as u64 - 9));
            assert!(
                *t + Duration::from_millis(2) >= earliest,
                "request {n} passed at {t:?}, before {earliest:?}"
            );
        }
        assert!(at[39] < Duration::from_secs(10), "too slow: {at:?}");
    }

    /// The mailbox budget is per mailbox: one mailbox at its limit does not hold up another.
    #[tokio::test]
    async fn mailbox_budgets_are_separate() {
        let budgets = Budgets::new(
            None,
            Some(Budget {
                requests: 2,
                per: Duration::from_secs(10),
            }),
            HeadStart::default(),
        );
        budgets.take(Some("a@example.com")).await;
        budgets.take(Some("A@example.com")).await;
        let other = tokio::time::timeout(
            Duration::from_millis(100),
            budgets.take(Some("b@example.com")),
        );
        assert!(other.await.is_ok(), "another mailbox was held up");
        let third = tokio::time::timeout(
            Duration::from_millis(100),
            budgets.take(Some("a@example.com")),
        );
        assert!(
            third.await.is_err(),
            "a third request of a passed its budget"
        );
    }
}
