//! Graph `dateTimeTimeZone` → real instants.
//!
//! Graph sends a local wall-clock time (`2017-04-15T12:00:00.0000000`, seven fractional digits,
//! no offset) plus a zone name that may be a Windows zone (`W. Europe Standard Time`), one of the
//! IANA names Outlook also accepts (`Europe/Berlin`), `UTC`, or Outlook's own
//! `tzone://Microsoft/Utc`. Windows names are mapped to IANA through CLDR's windowsZones table
//! (the `windows-timezones` crate) and resolved with the system tz database via jiff.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Why a date-time could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The `dateTime` text is not an ISO local date-time.
    #[error("invalid dateTime {0:?}")]
    InvalidDateTime(String),
    /// The zone is neither a known Windows nor an IANA name.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// The zone is a custom (non-standard) Outlook zone; its rules are not in the payload.
    #[error("custom time zone {0:?} cannot be resolved")]
    CustomZone(String),
}

/// Resolve a Graph zone name (Windows or IANA) to a jiff time zone.
pub fn resolve_zone(name: &str) -> Result<TimeZone, TimeError> {
    let n = name.trim();
    if n.is_empty()
        || n.eq_ignore_ascii_case("UTC")
        || n.eq_ignore_ascii_case("tzone://Microsoft/Utc")
        || n.eq_ignore_ascii_case("Etc/UTC")
        || n.eq_ignore_ascii_case("Coordinated Universal Time")
    {
        return Ok(TimeZone::UTC);
    }
    if n.eq_ignore_ascii_case("tzone://Microsoft/Custom")
        || n.eq_ignore_ascii_case("Customized Time Zone")
    {
        return Err(TimeError::CustomZone(n.to_owned()));
    }
    if let Ok(win) = n.parse::<windows_timezones::WindowsTimezone>() {
        return TimeZone::get(win.tzdb_id()).map_err(|_| TimeError::UnknownZone(n.to_owned()));
    }
    TimeZone::get(n).map_err(|_| TimeError::UnknownZone(n.to_owned()))
}

/// Parse Graph's local date-time text (up to 9 fractional digits, an optional trailing `Z`).
pub fn parse_civil(text: &str) -> Result<DateTime, TimeError> {
    let t = text.trim().trim_end_matches('Z');
    t.parse::<DateTime>()
        .map_err(|_| TimeError::InvalidDateTime(text.to_owned()))
}

/// The instant of a local date-time in a Graph zone. Gap times move forward, fold times take
/// the earlier instant ("compatible" disambiguation, as RFC 5545 and Outlook do).
pub fn to_timestamp(date_time: &str, zone: Option<&str>) -> Result<jiff::Timestamp, TimeError> {
    let civil = parse_civil(date_time)?;
    let tz = resolve_zone(zone.unwrap_or("UTC"))?;
    tz.to_ambiguous_timestamp(civil)
        .compatible()
        .map_err(|_| TimeError::InvalidDateTime(date_time.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn windows_iana_and_utc_zones_convert() {
        let table: &[(&str, &str, &str)] = &[
            // Windows names (CLDR mapping), winter and summer offsets.
            (
                "2024-01-15T12:00:00.0000000",
                "W. Europe Standard Time",
                "2024-01-15T11:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "W. Europe Standard Time",
                "2024-07-15T10:00:00Z",
            ),
            (
                "2024-01-15T12:00:00.0000000",
                "Pacific Standard Time",
                "2024-01-15T20:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "Pacific Standard Time",
                "2024-07-15T19:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "GMT Standard Time",
                "2024-07-15T11:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "India Standard Time",
                "2024-07-15T06:30:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "Tokyo Standard Time",
                "2024-07-15T03:00:00Z",
            ),
            (
                "2024-01-15T12:00:00.0000000",
                "AUS Eastern Standard Time",
                "2024-01-15T01:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "Eastern Standard Time",
                "2024-07-15T16:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "Romance Standard Time",
                "2024-07-15T10:00:00Z",
            ),
            // IANA names are accepted as well.
            (
                "2024-07-15T12:00:00.0000000",
                "Europe/Berlin",
                "2024-07-15T10:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.0000000",
                "America/New_York",
                "2024-07-15T16:00:00Z",
            ),
            // UTC spellings, missing zone, fractional seconds.
            ("2024-07-15T12:00:00.0000000", "UTC", "2024-07-15T12:00:00Z"),
            (
                "2024-07-15T12:00:00.0000000",
                "tzone://Microsoft/Utc",
                "2024-07-15T12:00:00Z",
            ),
            (
                "2024-07-15T12:00:00.1234567",
                "UTC",
                "2024-07-15T12:00:00.1234567Z",
            ),
            ("2024-07-15T12:00:00", "", "2024-07-15T12:00:00Z"),
        ];
        for (dt, zone, want) in table {
            let got = to_timestamp(dt, Some(zone)).unwrap();
            assert_eq!(got, ts(want), "{dt} in {zone}");
        }
    }

    #[test]
    fn dst_edges() {
        let table: &[(&str, &str, &str)] = &[
            // Europe/Berlin spring forward 2024-03-31 02:00 → 03:00: 01:59 is still CET.
            (
                "2024-03-31T01:59:00",
                "W. Europe Standard Time",
                "2024-03-31T00:59:00Z",
            ),
            // 02:30 does not exist: it moves forward by the gap (= 03:30 CEST).
            (
                "2024-03-31T02:30:00",
                "W. Europe Standard Time",
                "2024-03-31T01:30:00Z",
            ),
            (
                "2024-03-31T03:00:00",
                "W. Europe Standard Time",
                "2024-03-31T01:00:00Z",
            ),
            // Fall back 2024-10-27 03:00 → 02:00: 02:30 happens twice, the earlier (CEST) wins.
            (
                "2024-10-27T02:30:00",
                "W. Europe Standard Time",
                "2024-10-27T00:30:00Z",
            ),
            (
                "2024-10-27T03:00:00",
                "W. Europe Standard Time",
                "2024-10-27T02:00:00Z",
            ),
            // US: 2024-03-10 02:00 → 03:00 and 2024-11-03 02:00 → 01:00.
            (
                "2024-03-10T02:30:00",
                "Pacific Standard Time",
                "2024-03-10T10:30:00Z",
            ),
            (
                "2024-11-03T01:30:00",
                "Eastern Standard Time",
                "2024-11-03T05:30:00Z",
            ),
            // Southern hemisphere: Sydney DST ends 2024-04-07 03:00 → 02:00.
            (
                "2024-04-07T02:30:00",
                "AUS Eastern Standard Time",
                "2024-04-06T15:30:00Z",
            ),
        ];
        for (dt, zone, want) in table {
            assert_eq!(
                to_timestamp(dt, Some(zone)).unwrap(),
                ts(want),
                "{dt} in {zone}"
            );
        }
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert_eq!(
            to_timestamp("2024-07-15T12:00:00", Some("Mars Standard Time")),
            Err(TimeError::UnknownZone("Mars Standard Time".into()))
        );
        assert!(matches!(
            to_timestamp("2024-07-15T12:00:00", Some("tzone://Microsoft/Custom")),
            Err(TimeError::CustomZone(_))
        ));
        assert!(matches!(
            to_timestamp("yesterday", Some("UTC")),
            Err(TimeError::InvalidDateTime(_))
        ));
    }
}
