//! CRM dates and times are wall-clock values in the CRM's time zone (`[crm] time_zone`), in
//! separate date and time fields without an offset. These functions convert between them and
//! instants, and decide what a wall-clock time means where daylight saving time makes it
//! ambiguous:
//!
//! - a time in the spring **gap** (02:30 in Europe/Vienna on the last Sunday of March does not
//!   exist) is read as the instant the clocks show after the change, i.e. shifted forward by
//!   the gap (03:30 CEST), as calendars do;
//! - a time in the autumn **overlap** (02:30 happens twice on the last Sunday of October) is
//!   read as its first occurrence (02:30 CEST, UTC+2).
//!
//! Writing is never ambiguous: an instant has exactly one wall-clock time in a zone.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// The wall-clock date and time of `ts` in `tz` (what CRM stores).
pub fn to_local(ts: Timestamp, tz: &TimeZone) -> (Date, Time) {
    let dt = tz.to_datetime(ts);
    (dt.date(), dt.time())
}

/// The instant of a CRM date and time in `tz`; without a time, the start of the day. Gaps
/// and overlaps are resolved as the module explains. `None` only for dates outside jiff's
/// range.
pub fn from_local(date: Date, time: Option<Time>, tz: &TimeZone) -> Option<Timestamp> {
    let dt = date.to_datetime(time.unwrap_or(Time::midnight()));
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::{date, time};

    use super::*;

    fn vienna() -> TimeZone {
        TimeZone::get("Europe/Vienna").unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn writes_wall_clock_time_on_both_sides_of_the_changes() {
        let tz = vienna();
        // spring forward 2026-03-29 01:00Z: 02:00 CET -> 03:00 CEST
        assert_eq!(
            to_local(ts("2026-03-29T00:30:00Z"), &tz),
            (date(2026, 3, 29), time(1, 30, 0, 0))
        );
        assert_eq!(
            to_local(ts("2026-03-29T01:30:00Z"), &tz),
            (date(2026, 3, 29), time(3, 30, 0, 0))
        );
        // fall back 2026-10-25 01:00Z: 03:00 CEST -> 02:00 CET; 02:30 happens twice
        assert_eq!(
            to_local(ts("2026-10-25T00:30:00Z"), &tz),
            (date(2026, 10, 25), time(2, 30, 0, 0))
        );
        assert_eq!(
            to_local(ts("2026-10-25T01:30:00Z"), &tz),
            (date(2026, 10, 25), time(2, 30, 0, 0))
        );
        // the day moves with the zone
        assert_eq!(
            to_local(ts("2026-12-31T23:30:00Z"), &tz),
            (date(2027, 1, 1), time(0, 30, 0, 0))
        );
    }

    #[test]
    fn reads_gaps_forward_and_overlaps_as_the_first_occurrence() {
        let tz = vienna();
        assert_eq!(
            from_local(date(2026, 3, 29), Some(time(1, 30, 0, 0)), &tz),
            Some(ts("2026-03-29T00:30:00Z"))
        );
        // 02:30 does not exist: read as 03:30 CEST
        assert_eq!(
            from_local(date(2026, 3, 29), Some(time(2, 30, 0, 0)), &tz),
            Some(ts("2026-03-29T01:30:00Z"))
        );
        // 02:30 exists twice: the first (CEST)
        assert_eq!(
            from_local(date(2026, 10, 25), Some(time(2, 30, 0, 0)), &tz),
            Some(ts("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            from_local(date(2026, 10, 25), Some(time(3, 30, 0, 0)), &tz),
            Some(ts("2026-10-25T02:30:00Z"))
        );
        assert_eq!(
            from_local(date(2026, 7, 1), None, &tz),
            Some(ts("2026-06-30T22:00:00Z"))
        );
        assert_eq!(
            from_local(date(2026, 7, 1), None, &TimeZone::UTC),
            Some(ts("2026-07-01T00:00:00Z"))
        );
    }
}
