//! The byte budget of a process: how many bytes of item content (documents on their way from
//! Graph to CRM) may be held in memory at once, by every item of every mailbox and kind
//! together (`[mailboxes] memory_budget_mb`).
//!
//! Content is downloaded to a [`Spool`](super::spool::Spool) (memory for small pieces, an
//! anonymous temporary file beyond that), so downloading costs almost no memory, and a big
//! document is streamed from its spool into its CRM request. What does cost memory is a
//! request that carries documents whole: small documents travel with their activity in one
//! request, as base64 inside the XML, so writing `n` bytes of them holds the bytes, their
//! base64 text and the request for a moment. Such a writer asks the budget for
//! [`MemoryBudget::cost_of_write`] first and waits until that much is free; a piece bigger
//! than the whole budget takes the whole budget (it is written alone) instead of waiting for
//! ever.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Budget granularity: permits are KiB, so a `u32` permit count covers any document.
const UNIT: u64 = 1024;

/// A process-wide byte budget. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    units: u32,
}

/// Bytes reserved from a [`MemoryBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reserved {
    _permit: Option<OwnedSemaphorePermit>,
    /// Bytes reserved (after clamping to the budget).
    pub bytes: u64,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 MiB: less would only serialize every write).
    pub fn new(bytes: u64) -> Self {
        let units = (bytes.max(1024 * 1024) / UNIT).min(u64::from(u32::MAX >> 4)) as u32;
        MemoryBudget {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
        }
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> u64 {
        u64::from(self.units) * UNIT
    }

    /// Bytes free right now.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }

    /// What writing `content_bytes` of document content to CRM holds at its peak: the bytes,
    /// their base64 text (4/3) and the XML request around it (4/3 again, built before the
    /// raw bytes are freed in the worst case).
    pub fn cost_of_write(content_bytes: u64) -> u64 {
        content_bytes.saturating_mul(3)
    }

    /// Waits until `bytes` are free and reserves them; more than the whole budget reserves
    /// the whole budget.
    pub async fn reserve(&self, bytes: u64) -> Reserved {
        let units = bytes.div_ceil(UNIT).clamp(0, u64::from(self.units)) as u32;
        if units == 0 {
            return Reserved {
                _permit: None,
                bytes: 0,
            };
        }
        // The semaphore is never closed; were it, the write would go ahead unbudgeted
        // rather than fail.
        let permit = self.permits.clone().acquire_many_owned(units).await.ok();
        Reserved {
            _permit: permit,
            bytes: u64::from(units) * UNIT,
        }
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(16 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn reservations_wait_for_each_other_and_big_ones_take_everything() {
        let b = MemoryBudget::new(4 * 1024 * 1024);
        assert_eq!(b.total(), 4 * 1024 * 1024);
        let big = b.reserve(100 * 1024 * 1024).await;
        assert_eq!(big.bytes, b.total());
        assert_eq!(b.available(), 0);
        let b2 = b.clone();
        let waiting = tokio::spawn(async move { b2.reserve(1024).await.bytes });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "a reservation waits while the budget is spent"
        );
        drop(big);
        assert_eq!(waiting.await.unwrap(), 1024);
        assert_eq!(b.available(), b.total());
    }

    #[tokio::test]
    async fn nothing_reserved_costs_nothing() {
        let b = MemoryBudget::new(0);
        assert_eq!(b.total(), 1024 * 1024, "at least 1 MiB");
        assert_eq!(b.reserve(0).await.bytes, 0);
        assert_eq!(MemoryBudget::cost_of_write(10), 30);
    }
}
