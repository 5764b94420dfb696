//! How the store turns durations into microseconds for SQL arithmetic, clamped so that no
//! `now + duration` overflows. Separate because it is a crate-internal helper, not a row type.

/// Longest duration the store does arithmetic with (100 years); longer ones are clamped so
/// that `now + duration` cannot overflow a 64-bit microsecond timestamp in SQL.
pub(crate) const MAX_DURATION_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;

/// Convert a `Duration` to microseconds for SQL arithmetic, clamped to [`MAX_DURATION_MICROS`].
pub(crate) fn duration_micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros())
        .unwrap_or(i64::MAX)
        .min(MAX_DURATION_MICROS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_micros_saturates() {
        assert_eq!(duration_micros(std::time::Duration::from_millis(3)), 3000);
        assert_eq!(
            duration_micros(std::time::Duration::MAX),
            MAX_DURATION_MICROS
        );
    }
}
