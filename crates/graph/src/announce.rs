//! Telling the caller when a write is about to reach Graph, for writes whose effect must be
//! found again after a crash.
//!
//! A create whose answer is lost (the process killed while the request was in flight) leaves
//! an item the caller cannot name. The caller records "a create may have reached Graph" just
//! before the request goes out, so that the next attempt looks for what it may have written;
//! if that record were written earlier (before the waits of the request layer: rate limits,
//! the mailbox's request slots, a throttled attempt's `Retry-After`) a crash in those waits
//! would leave the record without any write behind it. So the request layer calls
//! [`Announce::sending`] right before each attempt goes out, after every wait, and
//! [`Announce::not_sent`] when Graph answered that it did not carry the attempt out (429,
//! 503, 401) or no connection was made, before waiting to try again.

use futures::future::BoxFuture;

/// Told around each attempt of an announced request.
pub trait Announce: Send + Sync {
    /// The attempt goes out next; an error stops the request unsent.
    fn sending(&self) -> BoxFuture<'_, Result<(), String>>;

    /// The last attempt was surely not carried out: the announcement may be withdrawn.
    fn not_sent(&self) -> BoxFuture<'_, ()>;
}

/// An [`Announce`] as the request layer holds it.
#[derive(Clone)]
pub(crate) struct Announcer(pub std::sync::Arc<dyn Announce>);

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Announcer")
    }
}

impl std::ops::Deref for Announcer {
    type Target = dyn Announce;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
