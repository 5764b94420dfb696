//! The retry policy, as pure functions so it can be tested without a clock.
//!
//! Graph's guidance: retry 429, 503 and 504 honouring `Retry-After` (seconds, possibly
//! fractional, or an HTTP date), otherwise back off exponentially with jitter. Graph keeps
//! metering while a client is throttled, so the full `Retry-After` is always waited.

use std::time::Duration;

use rand::Rng;

/// Parse a `Retry-After` header value: a (possibly fractional) number of seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    parse_retry_after_at(value, jiff::Timestamp::now())
}

/// [`parse_retry_after`] with the current time given (an HTTP date is relative to it).
pub fn parse_retry_after_at(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(24.0 * 3600.0)));
        }
        return None;
    }
    let ts = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?;
    let delta = ts.as_millisecond() - now.as_millisecond();
    Some(Duration::from_millis(delta.max(0) as u64))
}

/// Exponential backoff with jitter for retry number `attempt` (1-based): `base * 2^(attempt-1)`
/// capped at `max`, then a random value in `[d/2, d]` so that many clients do not retry in step.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    let spread = full.saturating_sub(half).as_millis() as u64;
    let jitter = if spread == 0 {
        0
    } else {
        rand::rng().random_range(0..=spread)
    };
    half + Duration::from_millis(jitter)
}

/// What to wait before retry number `attempt`: the server's `Retry-After` if it sent one
/// (capped at `max`), otherwise the jittered exponential backoff.
pub fn delay(
    attempt: u32,
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
) -> Duration {
    match retry_after {
        Some(d) => d.min(max),
        None => backoff(attempt, base, max),
    }
}

/// Whether an HTTP status is worth retrying. 429 and 503 mean the request was not processed and
/// are retried for every method; 504 (and 500/502, which Graph also uses for transient
/// failures) only for idempotent requests, since the work may have been done.
pub fn is_retryable_status(status: u16, idempotent: bool) -> bool {
    match status {
        429 | 503 => true,
        500 | 502 | 504 => idempotent,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_fraction_and_date() {
        assert_eq!(parse_retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after(" 2.128 "),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        // an HTTP date is relative to the current time, given here (no clock in the test)
        let now: jiff::Timestamp = "2026-11-27T10:00:00.250Z".parse().unwrap();
        assert_eq!(
            parse_retry_after_at("Fri, 27 Nov 2026 10:01:30 GMT", now),
            Some(Duration::from_millis(89_750))
        );
        assert_eq!(
            parse_retry_after_at("Fri, 27 Nov 2026 09:59:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: retry now"
        );
        assert_eq!(
            parse_retry_after_at("90", now),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for attempt in 1..=12 {
            let full = base.saturating_mul(1 << (attempt - 1)).min(max);
            for _ in 0..50 {
                let d = backoff(attempt, base, max);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        let samples: std::collections::HashSet<_> =
            (0..50).map(|_| backoff(5, base, max)).collect();
        assert!(samples.len() > 5, "jitter must spread retries");
    }

    #[test]
    fn retry_after_wins_over_backoff_but_is_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(60);
        assert_eq!(
            delay(1, Some(Duration::from_secs(7)), base, max),
            Duration::from_secs(7)
        );
        assert_eq!(delay(1, Some(Duration::from_secs(700)), base, max), max);
        assert!(delay(3, None, base, max) <= Duration::from_millis(400));
    }

    #[test]
    fn which_statuses_retry() {
        assert!(is_retryable_status(429, false));
        assert!(is_retryable_status(503, false));
        assert!(is_retryable_status(504, true));
        assert!(!is_retryable_status(504, false));
        assert!(!is_retryable_status(404, true));
        assert!(!is_retryable_status(400, true));
        assert!(!is_retryable_status(410, true));
    }
}
