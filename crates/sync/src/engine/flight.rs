//! What a walk has in flight beside itself: the page being read and the items being worked,
//! polled together, and what came back from them while the walk waited on a store write of
//! its own (see [`super::walk`]).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures::StreamExt;
use futures::future::OptionFuture;
use futures::stream::FuturesUnordered;

/// What is in flight beside the walk: the page being read, the items being worked, and what
/// came back from them while the walk waited on a store write of its own.
pub(crate) struct InFlight<R: Future, I: Future> {
    /// The page being read.
    pub reading: Option<Pin<Box<R>>>,
    /// The items being worked.
    pub running: FuturesUnordered<I>,
    /// What came back while the walk waited, oldest first.
    pub ready: VecDeque<Event<R::Output, I::Output>>,
}

/// Something that came back: a page read, or an item done.
pub(crate) enum Event<P, D> {
    Read(P),
    Item(D),
}

impl<R: Future, I: Future> InFlight<R, I> {
    /// A page is being read, or was read and not taken yet: it is in hand already, and the
    /// next read must start after it.
    pub fn read_pending(&self) -> bool {
        self.reading.is_some() || self.ready.iter().any(|e| matches!(e, Event::Read(_)))
    }

    /// The next thing to come back (a read before an item, so that the read's next request
    /// takes a Graph slot before the items fill them); `None` when nothing is in flight.
    pub async fn next(&mut self) -> Option<Event<R::Output, I::Output>> {
        if let Some(e) = self.ready.pop_front() {
            return Some(e);
        }
        tokio::select! {
            biased;
            Some(read) = OptionFuture::from(self.reading.as_mut()), if self.reading.is_some() => {
                self.reading = None;
                Some(Event::Read(read))
            }
            Some(done) = self.running.next(), if !self.running.is_empty() => Some(Event::Item(done)),
            else => None,
        }
    }

    /// Await `write` while what is in flight goes on: an item may hold what the write waits
    /// for (the store's only free connection), and would never let go of it if it were not
    /// polled. What comes back meanwhile is kept for [`InFlight::next`].
    pub async fn beside<T>(&mut self, write: impl Future<Output = T>) -> T {
        let mut write = std::pin::pin!(write);
        loop {
            tokio::select! {
                biased;
                out = &mut write => return out,
                Some(read) = OptionFuture::from(self.reading.as_mut()), if self.reading.is_some() => {
                    self.reading = None;
                    self.ready.push_back(Event::Read(read));
                }
                Some(done) = self.running.next(), if !self.running.is_empty() => {
                    self.ready.push_back(Event::Item(done));
                }
            }
        }
    }
}
