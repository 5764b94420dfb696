//! A mailbox run's items left, told to the Graph side as the run works
//! ([`crate::ports::BacklogHint`]).
//!
//! Kept as a [`Progress`] in front of the caller's: the engine already says there when a run
//! starts (with the total its kind expects, e.g. the sync folder's item count) and when each
//! item is done, so the count needs no call of its own in the walk. A kind that does not know
//! its total tells nothing. The hint is withdrawn when the run ends, however it ends (drop).

use std::sync::atomic::{AtomicU64, Ordering};

use gc_store::Kind;

use crate::engine::progress::{ItemOutcome, Progress};
use crate::engine::report::MailboxReport;
use crate::ports::BacklogHint;

/// The caller's progress, with the run's backlog told to `hint` on the way.
pub(crate) struct Backlog<'a> {
    inner: &'a dyn Progress,
    hint: &'a dyn BacklogHint,
    user: &'a str,
    /// Items left; `u64::MAX` while the total is unknown (nothing told).
    left: AtomicU64,
}

const UNKNOWN: u64 = u64::MAX;

impl<'a> Backlog<'a> {
    pub(crate) fn new(inner: &'a dyn Progress, hint: &'a dyn BacklogHint, user: &'a str) -> Self {
        Backlog {
            inner,
            hint,
            user,
            left: AtomicU64::new(UNKNOWN),
        }
    }
}

impl Progress for Backlog<'_> {
    fn start(&self, mailbox: &str, kind: Kind, total: Option<u64>) {
        if let Some(total) = total.filter(|t| *t < UNKNOWN) {
            self.left.store(total, Ordering::Relaxed);
            self.hint.set(self.user, Some(total));
        }
        self.inner.start(mailbox, kind, total);
    }

    fn item(&self, mailbox: &str, kind: Kind, outcome: ItemOutcome, warnings: u64) {
        // Items that arrived after the total was read may make it more than the total:
        // the count stops at zero.
        let before = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n != UNKNOWN).then(|| n.saturating_sub(1))
            });
        if let Ok(n) = before {
            self.hint.set(self.user, Some(n.saturating_sub(1)));
        }
        self.inner.item(mailbox, kind, outcome, warnings);
    }

    fn finish(&self, report: &MailboxReport) {
        self.inner.finish(report);
    }
}

impl Drop for Backlog<'_> {
    fn drop(&mut self) {
        if *self.left.get_mut() != UNKNOWN {
            self.hint.set(self.user, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NoProgress;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Told(Mutex<Vec<(String, Option<u64>)>>);

    impl BacklogHint for Told {
        fn set(&self, user: &str, items: Option<u64>) {
            self.0.lock().unwrap().push((user.to_owned(), items));
        }
    }

    #[test]
    fn the_items_left_count_down_and_are_withdrawn_at_the_end() {
        let told = Told::default();
        {
            let b = Backlog::new(&NoProgress, &told, "user-1");
            b.start("a@example.com", Kind::Email, Some(2));
            for _ in 0..3 {
                b.item("a@example.com", Kind::Email, ItemOutcome::Created, 0);
            }
        }
        let told = told.0.into_inner().unwrap();
        let items: Vec<Option<u64>> = told.iter().map(|(_, n)| *n).collect();
        assert_eq!(items, [Some(2), Some(1), Some(0), Some(0), None]);
        assert!(told.iter().all(|(u, _)| u == "user-1"));
    }

    #[test]
    fn a_run_without_a_total_tells_nothing() {
        let told = Told::default();
        {
            let b = Backlog::new(&NoProgress, &told, "user-1");
            b.start("a@example.com", Kind::Appointment, None);
            b.item("a@example.com", Kind::Appointment, ItemOutcome::Updated, 0);
        }
        assert!(told.0.into_inner().unwrap().is_empty());
    }
}
