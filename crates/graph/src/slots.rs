//! A mailbox's request slots: at most N of its requests in flight (Outlook allows 4 per app and
//! mailbox), handed out by lane when several wait.
//!
//! Why lanes and not a plain FIFO semaphore: a mailbox's filing is a pipeline fed by its page
//! reads (the walk reads the next delta page while the items of the one before run), and the
//! administrator's mailbox also carries every user's notices. In strict order of asking, a
//! page read waits behind every item request asked before it, and in a trace of a first sync
//! the administrator's moves waited behind a burst of other users' notices, so the next page
//! was asked for late and the mailbox's slots ran half empty at that page boundary
//! (docs/PERFORMANCE.md, 2026-12-04: 1.04x the messages per second with lanes, nine of ten
//! runs side by side). So a free slot goes to a waiting
//! [`Lane::Page`] request first, then to [`Lane::Item`], and last to [`Lane::Background`]
//! (notices, which nobody waits for); within a lane, in order of asking. A background request
//! that has waited [`PROMOTE_AFTER`] goes first, so a busy mailbox (the administrator's during
//! its own first sync) delays a notice, and the run that sends it, by about that much at
//! most. The limit is the same for all lanes: nothing is sent beyond it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

/// How long a [`Lane::Background`] request waits behind the other lanes at most before it
/// goes first: the run that sends a notice waits for it.
pub const PROMOTE_AFTER: Duration = Duration::from_secs(1);

/// Which waiting request a free slot goes to first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lane {
    /// A page of a listing or delta: what a mailbox's pipeline waits for.
    Page = 0,
    /// An item's reads and writes (the default).
    Item = 1,
    /// Work nobody waits for, such as a notice to a user.
    Background = 2,
}

const LANES: usize = 3;

#[derive(Debug)]
struct State {
    free: usize,
    /// Invariant: a lane has waiters only while `free` is 0 (a released slot goes straight
    /// to a waiter).
    waiting: [VecDeque<(Instant, oneshot::Sender<()>)>; LANES],
}

/// The slots of one mailbox. Cloning shares them.
#[derive(Debug, Clone)]
pub struct Slots {
    state: Arc<Mutex<State>>,
    promote_after: Duration,
}

/// A held slot; dropping it hands it to the next waiter (or frees it).
#[derive(Debug)]
pub struct Permit(Slots);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Slots {
    /// `n` slots.
    pub fn new(n: usize) -> Self {
        Self::promoting_after(n, PROMOTE_AFTER)
    }

    /// `n` slots; a background waiter goes first after `promote_after`.
    fn promoting_after(n: usize, promote_after: Duration) -> Self {
        Slots {
            state: Arc::new(Mutex::new(State {
                free: n,
                waiting: Default::default(),
            })),
            promote_after,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still holds a valid count.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for a slot in `lane`.
    pub async fn acquire(&self, lane: Lane) -> Permit {
        loop {
            let rx = {
                let mut st = self.state();
                if st.free > 0 {
                    st.free -= 1;
                    return Permit(self.clone());
                }
                let (tx, rx) = oneshot::channel();
                st.waiting[lane as usize].push_back((Instant::now(), tx));
                rx
            };
            let mut waiting = Waiting {
                slots: self,
                rx: Some(rx),
            };
            let handed = match waiting.rx.as_mut() {
                Some(rx) => rx.await.is_ok(),
                None => false,
            };
            waiting.rx = None;
            if handed {
                return Permit(self.clone());
            }
            // A sender dropped without handing a slot over (cannot happen while the slots
            // live): ask again rather than count a slot that was never given.
        }
    }

    /// Hand a slot to the first waiter of the first lane that has one (a background waiter
    /// first once it waited `promote_after`); free it if none waits.
    fn release(&self) {
        let mut st = self.state();
        let bg = Lane::Background as usize;
        let overdue = st.waiting[bg]
            .front()
            .is_some_and(|(since, _)| since.elapsed() >= self.promote_after);
        let order: [usize; LANES] = if overdue { [bg, 0, 1] } else { [0, 1, bg] };
        for lane in order {
            while let Some((_, tx)) = st.waiting[lane].pop_front() {
                if tx.send(()).is_ok() {
                    return;
                }
                // That waiter gave up; try the next one.
            }
        }
        st.free += 1;
    }
}

/// A waiter that may be dropped (its request cancelled) before it is handed a slot, or just
/// after: a slot handed to it then is passed on, never lost.
struct Waiting<'a> {
    slots: &'a Slots,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // No slot can arrive after `close`; one that arrived before is passed on.
            rx.close();
            if rx.try_recv().is_ok() {
                self.slots.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn free(s: &Slots) -> usize {
        s.state().free
    }

    #[tokio::test]
    async fn a_free_slot_goes_to_the_first_lane_that_waits() {
        let slots = Slots::new(1);
        let held = slots.acquire(Lane::Item).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for lane in [Lane::Background, Lane::Item, Lane::Page, Lane::Item] {
            let (s, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _p = s.acquire(lane).await;
                order.lock().unwrap().push(lane);
            }));
            // Queued in this order.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [Lane::Page, Lane::Item, Lane::Item, Lane::Background]
        );
        assert_eq!(free(&slots), 1);
    }

    #[tokio::test]
    async fn a_background_request_goes_first_once_it_waited_long_enough() {
        let promote = Duration::from_millis(50);
        let slots = Slots::promoting_after(1, promote);
        let held = slots.acquire(Lane::Item).await;
        let s = slots.clone();
        let notice = tokio::spawn(async move { s.acquire(Lane::Background).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let s = slots.clone();
        let item = tokio::spawn(async move { s.acquire(Lane::Item).await });
        tokio::time::sleep(promote).await;
        drop(held);
        // The notice waited longer than `promote`: it gets the slot, the item waits.
        let notice = notice.await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!item.is_finished());
        drop(notice);
        drop(item.await.unwrap());
        assert_eq!(free(&slots), 1);
    }

    #[tokio::test]
    async fn never_more_than_the_limit_in_flight() {
        let slots = Slots::new(4);
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (s, in_flight, most) = (slots.clone(), in_flight.clone(), most.clone());
            let lane = [Lane::Page, Lane::Item, Lane::Background][i % 3];
            tasks.push(tokio::spawn(async move {
                let _p = s.acquire(lane).await;
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 4);
        assert_eq!(free(&slots), 4);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_loses_no_slot() {
        let slots = Slots::new(1);
        let held = slots.acquire(Lane::Item).await;
        // Gives up while waiting.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(10), slots.acquire(Lane::Page)).await;
        assert!(gave_up.is_err());
        // Handed a slot and dropped before it ran: the slot is passed on.
        let s = slots.clone();
        let waiter = tokio::spawn(async move { s.acquire(Lane::Page).await });
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(held);
        waiter.abort();
        let _ = waiter.await;
        let again = tokio::time::timeout(Duration::from_secs(1), slots.acquire(Lane::Item)).await;
        assert!(again.is_ok(), "a slot was lost");
        drop(again);
        assert_eq!(free(&slots), 1);
    }
}
