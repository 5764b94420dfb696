//! The line of requests waiting for the tenant-wide budget, served with a head start for the
//! mailboxes with the most work left.
//!
//! In a first sync of a tenant the budget (`[microsoft] requests_per_second`) is the limit,
//! not the mailboxes' own four slots: every mailbox has requests waiting, and a line in the
//! order of asking gives each the same share. The cycle then ends with the largest mailboxes
//! working alone, each held to its four slots while most of the budget goes unused (measured:
//! 20 mailboxes of 100 messages each shared the budget evenly for 5 s, then the three largest
//! ran alone for 4.5 s at under half of it; docs/PERFORMANCE.md). Whoever has the most left
//! to do should go first, as in any "longest job first" schedule: a mailbox run tells its
//! backlog ([`crate::GraphClient::set_backlog`]) and its requests queue as if they had asked
//! earlier by a head start that grows with the backlog, up to a cap. The cap bounds the
//! unfairness: no request waits behind one that asked more than the cap later, so a small
//! mailbox is never starved by a large one (which also has only its four slots to use).
//!
//! One task at a time paces the line (spawned when the first request has to wait, gone when
//! the line is empty): it sleeps until the budget frees a cell and hands it to the first
//! waiter, one wake-up per request. A waiter that gave up (its request was dropped) is
//! skipped without spending a cell.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use governor::clock::Clock;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How much earlier than it asked a request of a mailbox with work left queues: `per_item`
/// for each item its run still has, at most `max`. A zero `max` keeps the plain order of
/// asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadStart {
    /// Head start per item left.
    pub per_item: Duration,
    /// The most any request gets: no request waits behind one that asked later than this.
    pub max: Duration,
}

impl Default for HeadStart {
    /// 10 ms per item, at most 5 s: a run with 500 items or more left gets the whole head
    /// start; 5 s is well under any mailbox's interval, so a small mailbox waits at most that
    /// much longer than it would in the plain order.
    fn default() -> Self {
        HeadStart {
            per_item: Duration::from_millis(10),
            max: Duration::from_secs(5),
        }
    }
}

impl HeadStart {
    fn for_backlog(&self, items: u64) -> Duration {
        let items = u32::try_from(items).unwrap_or(u32::MAX);
        self.per_item.saturating_mul(items).min(self.max)
    }
}

/// The tenant budget and the requests waiting for it.
pub(crate) struct TenantLine {
    limiter: DefaultDirectRateLimiter,
    head_start: HeadStart,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: BinaryHeap<Reverse<Waiter>>,
    /// A pacing task is running (it alone takes cells while anyone waits).
    pacing: bool,
    /// Tie-breaker: among equal places, the order of asking.
    asked: u64,
    /// Items left per mailbox (lower-case), as the mailbox runs tell them.
    backlogs: HashMap<String, u64>,
}

struct Waiter {
    /// When the request asked, less its head start.
    place: Instant,
    asked: u64,
    go: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.place, self.asked).cmp(&(other.place, other.asked))
    }
}

impl TenantLine {
    pub(crate) fn new(limiter: DefaultDirectRateLimiter, head_start: HeadStart) -> Self {
        TenantLine {
            limiter,
            head_start,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it (each change is one
        // push, pop, insert or flag).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Record how many items the run of `mailbox` still has (`None`: the run ended).
    pub(crate) fn set_backlog(&self, mailbox: &str, items: Option<u64>) {
        let key = mailbox.to_ascii_lowercase();
        let mut st = self.state();
        match items {
            Some(n) if n > 0 => {
                st.backlogs.insert(key, n);
            }
            _ => {
                st.backlogs.remove(&key);
            }
        }
    }

    /// Wait until one more request of `mailbox` fits the budget; the request is counted.
    pub(crate) async fn take(self: &Arc<Self>, mailbox: Option<&str>) {
        let go = {
            let mut st = self.state();
            if st.waiting.is_empty() && !st.pacing && self.limiter.check().is_ok() {
                return;
            }
            let items = mailbox
                .filter(|_| !st.backlogs.is_empty())
                .and_then(|m| st.backlogs.get(&m.to_ascii_lowercase()).copied())
                .unwrap_or(0);
            let now = Instant::now();
            let place = now
                .checked_sub(self.head_start.for_backlog(items))
                .unwrap_or(now);
            let (tx, rx) = oneshot::channel();
            st.asked += 1;
            let asked = st.asked;
            st.waiting.push(Reverse(Waiter {
                place,
                asked,
                go: tx,
            }));
            if !st.pacing {
                st.pacing = true;
                tokio::spawn(Arc::clone(self).pace());
            }
            rx
        };
        // An error means the pacing task is gone (the runtime shuts down): nothing to wait for.
        let _ = go.await;
    }

    /// Hand out cells to the waiters in the order of their places until none is left.
    async fn pace(self: Arc<Self>) {
        let mut on_duty = OnDuty {
            line: &self,
            ended: false,
        };
        loop {
            {
                let mut st = self.state();
                while st.waiting.peek().is_some_and(|w| w.0.go.is_closed()) {
                    st.waiting.pop();
                }
                if st.waiting.is_empty() {
                    st.pacing = false;
                    on_duty.ended = true;
                    return;
                }
            }
            match self.limiter.check() {
                Ok(()) => {
                    // Only this task takes waiters out, so the line is not empty here; a
                    // waiter that gave up since the check above has spent the cell.
                    if let Some(w) = self.state().waiting.pop() {
                        let _ = w.0.go.send(());
                    }
                }
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(self.limiter.clock().now())).await;
                }
            }
        }
    }
}

/// A pacing task that is dropped before it ran the line empty (its runtime shut down while
/// requests waited) says so, so that the next request starts another instead of waiting for
/// a task that is gone (a client may outlive a runtime, e.g. in tests).
struct OnDuty<'a> {
    line: &'a TenantLine,
    /// Ended by emptying the line: `pacing` was cleared with that check, under the lock.
    ended: bool,
}

impl Drop for OnDuty<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.line.state().pacing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::{Quota, RateLimiter};
    use std::num::NonZeroU32;

    fn line(per_second: u32, head_start: HeadStart) -> Arc<TenantLine> {
        let n = NonZeroU32::new(per_second).unwrap();
        // No burst beyond one cell: every request after the first waits its turn.
        let quota = Quota::per_second(n).allow_burst(NonZeroU32::MIN);
        Arc::new(TenantLine::new(RateLimiter::direct(quota), head_start))
    }

    #[test]
    fn head_start_grows_with_the_backlog_up_to_its_cap() {
        let h = HeadStart::default();
        assert_eq!(h.for_backlog(0), Duration::ZERO);
        assert_eq!(h.for_backlog(3), Duration::from_millis(30));
        assert_eq!(h.for_backlog(10_000), Duration::from_secs(5));
        assert_eq!(h.for_backlog(u64::MAX), Duration::from_secs(5));
    }

    /// The order in which 3 requests of a small mailbox and then 3 of a large one get
    /// through a budget that holds them all up.
    async fn order_with(head_start: HeadStart) -> Vec<&'static str> {
        // A cell every 200 ms: all six have asked before the first is let through.
        let line = line(5, head_start);
        line.set_backlog("Large@example.com", Some(400));
        line.set_backlog("small@example.com", Some(5));
        // The one cell of the burst: everyone after this waits.
        line.take(None).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for who in ["small", "small", "small", "large", "large", "large"] {
            let (line, order) = (line.clone(), order.clone());
            tasks.spawn(async move {
                line.take(Some(&format!("{who}@example.com"))).await;
                order.lock().unwrap().push(who);
            });
            // Asked in this order, each a little after the one before.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tasks.join_all().await;
        order.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn the_mailbox_with_more_left_goes_first() {
        let order = order_with(HeadStart::default()).await;
        assert_eq!(
            order,
            ["large", "large", "large", "small", "small", "small"]
        );
    }

    #[tokio::test]
    async fn without_a_head_start_the_order_of_asking_holds() {
        let order = order_with(HeadStart {
            per_item: Duration::from_millis(10),
            max: Duration::ZERO,
        })
        .await;
        assert_eq!(
            order,
            ["small", "small", "small", "large", "large", "large"]
        );
    }

    /// The cap bounds how far a large mailbox's request can pass: one that asked more than
    /// `max` after a small mailbox's request still goes after it.
    #[tokio::test]
    async fn no_request_is_passed_by_one_asked_later_than_the_cap() {
        // A cell every 250 ms: all three wait for the first.
        let line = line(
            4,
            HeadStart {
                per_item: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
        );
        line.set_backlog("large@example.com", Some(1_000));
        line.take(None).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for (who, after_ms) in [("small", 0), ("large", 150), ("large", 160)] {
            let (line, order) = (line.clone(), order.clone());
            tasks.spawn(async move {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                line.take(Some(&format!("{who}@example.com"))).await;
                order.lock().unwrap().push(who);
            });
        }
        tasks.join_all().await;
        assert_eq!(*order.lock().unwrap(), ["small", "large", "large"]);
    }

    /// A runtime that shuts down while requests wait takes the pacing task with it; the same
    /// line still serves requests from another runtime.
    #[test]
    fn the_line_outlives_a_runtime_that_shut_down_while_requests_waited() {
        let line = line(10, HeadStart::default());
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        first.block_on(async {
            line.take(None).await;
            // Waits for the next cell, 100 ms away: the pacing task is running.
            let waiting = tokio::time::timeout(Duration::from_millis(10), line.take(None));
            assert!(waiting.await.is_err());
            assert!(line.state().pacing);
        });
        drop(first);
        assert!(
            !line.state().pacing,
            "a dropped pacing task left the flag set"
        );
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let served = second.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), line.take(Some("a@example.com"))).await
        });
        assert!(
            served.is_ok(),
            "a request of the second runtime was never served"
        );
    }

    /// A run that ended takes its backlog with it; a waiter that gave up does not hold the
    /// line or spend a cell.
    #[tokio::test]
    async fn an_ended_run_and_a_dropped_request_leave_nothing_behind() {
        let line = line(10, HeadStart::default());
        line.set_backlog("a@example.com", Some(3));
        line.set_backlog("A@EXAMPLE.COM", None);
        assert!(line.state().backlogs.is_empty());
        line.take(None).await;
        let dropped =
            tokio::time::timeout(Duration::from_millis(10), line.take(Some("a@example.com")));
        assert!(
            dropped.await.is_err(),
            "the budget let a second request through at once"
        );
        // The next request gets the cell freed at 100 ms, not the one after it.
        let began = Instant::now();
        line.take(Some("b@example.com")).await;
        assert!(began.elapsed() < Duration::from_millis(180));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(line.state().waiting.is_empty());
        assert!(!line.state().pacing);
    }
}
