//! Outlook's per-mailbox limits: at most N concurrent requests (429 `ApplicationThrottled`,
//! "…MailboxConcurrency limit.") and a request budget per window (429 `ApplicationThrottled`,
//! "…MailboxLimit…"), both with `Retry-After`. Requests inside a `$batch` count individually, and
//! rejected requests still count against the budget, as in Graph.

use crate::error::GraphError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct Throttle {
    pub limit: Mutex<Limits>,
    state: Mutex<HashMap<String, Slot>>,
}

#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub concurrency: usize,
    pub budget: u32,
    pub window: Duration,
}

struct Slot {
    in_flight: usize,
    window_start: Instant,
    used: u32,
}

/// Held while a request to a mailbox runs.
pub(crate) struct Permit<'a> {
    throttle: &'a Throttle,
    key: String,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.throttle.state.lock()
            && let Some(slot) = s.get_mut(&self.key)
        {
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
    }
}

impl Throttle {
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            limit: Mutex::new(limits),
            state: Mutex::new(HashMap::new()),
        }
    }

    fn limits(&self) -> Limits {
        self.limit.lock().map(|l| *l).unwrap_or(Limits {
            concurrency: 4,
            budget: 10_000,
            window: Duration::from_secs(600),
        })
    }

    /// Admits one request to mailbox `key` (lower-cased user id) or answers 429.
    pub fn acquire(&self, key: &str) -> Result<Permit<'_>, GraphError> {
        let limits = self.limits();
        let mut state = self.state.lock().map_err(|_| {
            GraphError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UnknownError",
                "throttle state poisoned",
            )
        })?;
        let now = Instant::now();
        let slot = state.entry(key.to_owned()).or_insert(Slot {
            in_flight: 0,
            window_start: now,
            used: 0,
        });
        if now.duration_since(slot.window_start) >= limits.window {
            slot.window_start = now;
            slot.used = 0;
        }
        slot.used = slot.used.saturating_add(1);
        if slot.used > limits.budget {
            let left = limits
                .window
                .saturating_sub(now.duration_since(slot.window_start));
            let mut e = GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ApplicationThrottled",
                "Application is over its MailboxLimit limit.",
            );
            e.retry_after = Some(format!("{}", left.as_secs().max(1)));
            return Err(e);
        }
        if slot.in_flight >= limits.concurrency {
            let mut e = GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
            );
            e.retry_after = Some("1".to_owned());
            return Err(e);
        }
        slot.in_flight += 1;
        Ok(Permit {
            throttle: self,
            key: key.to_owned(),
        })
    }

    /// Forgets budgets and counters (control API).
    pub fn reset(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.retain(|_, slot| slot.in_flight > 0);
            for slot in s.values_mut() {
                slot.used = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_and_budget() {
        let t = Throttle::new(Limits {
            concurrency: 2,
            budget: 5,
            window: Duration::from_secs(60),
        });
        let a = t.acquire("m").unwrap();
        let _b = t.acquire("m").unwrap();
        let e = t.acquire("m").err().unwrap();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e.message.contains("MailboxConcurrency"));
        assert!(t.acquire("other").is_ok());
        drop(a);
        let _c = t.acquire("m").unwrap(); // 4th request counted
        let _ = t.acquire("m"); // 5th (rejected for concurrency but counted)
        let e = t.acquire("m").err().unwrap(); // 6th: over budget
        assert!(e.message.contains("MailboxLimit"), "{}", e.message);
        assert!(e.retry_after.is_some());
    }
}
