//! Time zones (Windows names as Graph uses them, IANA names accepted too) and recurrence
//! expansion of Outlook patterns.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};

/// Resolves a Windows (`W. Europe Standard Time`) or IANA (`Europe/Berlin`) zone name.
pub(crate) fn zone(name: &str) -> Option<TimeZone> {
    let n = name.trim();
    if n.is_empty()
        || n.eq_ignore_ascii_case("UTC")
        || n.eq_ignore_ascii_case("Etc/UTC")
        || n.eq_ignore_ascii_case("tzone://Microsoft/Utc")
    {
        return Some(TimeZone::UTC);
    }
    if let Ok(w) = n.parse::<windows_timezones::WindowsTimezone>() {
        return TimeZone::get(w.tzdb_id()).ok();
    }
    TimeZone::get(n).ok()
}

/// Whether Graph would accept this zone name.
pub(crate) fn is_known(name: &str) -> bool {
    zone(name).is_some()
}

pub(crate) fn to_utc(dt: DateTime, tz: &str) -> Timestamp {
    let z = zone(tz).unwrap_or(TimeZone::UTC);
    z.to_timestamp(dt).unwrap_or_else(|_| {
        TimeZone::UTC
            .to_timestamp(dt)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    })
}

pub(crate) fn from_utc(ts: Timestamp, tz: &str) -> DateTime {
    zone(tz).unwrap_or(TimeZone::UTC).to_datetime(ts)
}

/// Graph's `dateTimeTimeZone` rendering (`2026-11-27T09:00:00.0000000`).
pub(crate) fn dtz(dt: DateTime, tz: &str) -> Value {
    json!({"dateTime": dt.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": tz})
}

/// Parses a `dateTimeTimeZone` object from a request: `(local date-time, zone name)`.
pub(crate) fn parse_dtz(v: &Value) -> Result<(DateTime, String), String> {
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .ok_or("dateTime is required")?;
    let tz = v
        .get("timeZone")
        .and_then(Value::as_str)
        .unwrap_or("UTC")
        .to_owned();
    if !is_known(&tz) {
        return Err(format!(
            "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{tz}'."
        ));
    }
    Ok((parse_local(dt)?, tz))
}

/// Parses `2026-11-27T09:00:00[.fffffff][Z|±hh:mm]` as a local date-time (an explicit offset or
/// `Z` is converted to UTC, which callers then label as such).
pub(crate) fn parse_local(s: &str) -> Result<DateTime, String> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(TimeZone::UTC.to_datetime(ts));
    }
    let core = s.split('.').next().unwrap_or(s);
    core.parse::<DateTime>()
        .or_else(|_| s.parse::<DateTime>())
        .or_else(|_| {
            s.parse::<Date>()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })
        .map_err(|e| format!("Cannot convert '{s}' to a date-time: {e}"))
}

/// Parses a query-string instant (`startDateTime=2026-11-20T00:00:00Z`; no offset means UTC).
pub(crate) fn parse_instant(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>()
        .ok()
        .or_else(|| parse_local(s).ok().map(|dt| to_utc(dt, "UTC")))
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// Validates a `recurrence` object as Graph would.
pub(crate) fn validate_recurrence(r: &Value) -> Result<(), String> {
    let p = r.get("pattern").ok_or("recurrence.pattern is required")?;
    let t = p
        .get("type")
        .and_then(Value::as_str)
        .ok_or("recurrence.pattern.type is required")?;
    if ![
        "daily",
        "weekly",
        "absoluteMonthly",
        "relativeMonthly",
        "absoluteYearly",
        "relativeYearly",
    ]
    .contains(&t)
    {
        return Err(format!("Invalid recurrence pattern type '{t}'."));
    }
    let range = r.get("range").ok_or("recurrence.range is required")?;
    let rt = range
        .get("type")
        .and_then(Value::as_str)
        .ok_or("recurrence.range.type is required")?;
    range
        .get("startDate")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<Date>().ok())
        .ok_or("recurrence.range.startDate is required")?;
    match rt {
        "endDate" => {
            range
                .get("endDate")
                .and_then(Value::as_str)
                .and_then(|d| d.parse::<Date>().ok())
                .ok_or("recurrence.range.endDate is required")?;
        }
        "numbered" => {
            if range
                .get("numberOfOccurrences")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                == 0
            {
                return Err("recurrence.range.numberOfOccurrences must be positive".into());
            }
        }
        "noEnd" => {}
        other => return Err(format!("Invalid recurrence range type '{other}'.")),
    }
    if matches!(t, "weekly" | "relativeMonthly" | "relativeYearly")
        && p.get("daysOfWeek")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
    {
        return Err("recurrence.pattern.daysOfWeek is required for this pattern type".into());
    }
    Ok(())
}

/// The original start dates of a series (in the series' zone), from the range start up to
/// `until` (inclusive) or the range's end, whichever comes first.
pub(crate) fn occurrence_dates(r: &Value, until: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let Some(p) = r.get("pattern") else {
        return out;
    };
    let Some(range) = r.get("range") else {
        return out;
    };
    let Some(start) = range
        .get("startDate")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<Date>().ok())
    else {
        return out;
    };
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("daily");
    let interval = p
        .get("interval")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    let end_date = match range.get("type").and_then(Value::as_str) {
        Some("endDate") => range
            .get("endDate")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Date>().ok()),
        _ => None,
    };
    let count = match range.get("type").and_then(Value::as_str) {
        Some("numbered") => range
            .get("numberOfOccurrences")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        _ => None,
    };
    let last = end_date.map_or(until, |e| e.min(until));
    let days: Vec<Weekday> = p
        .get("daysOfWeek")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let first_day = p
        .get("firstDayOfWeek")
        .and_then(Value::as_str)
        .and_then(weekday)
        .unwrap_or(Weekday::Sunday);
    let day_of_month = p
        .get("dayOfMonth")
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(start.day())) as i8;
    let month = p
        .get("month")
        .and_then(Value::as_i64)
        .filter(|m| (1..=12).contains(m))
        .unwrap_or(i64::from(start.month())) as i8;
    let nth: i8 = match p.get("index").and_then(Value::as_str).unwrap_or("first") {
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => 1,
    };
    let push = |d: Date, out: &mut Vec<Date>| -> bool {
        if d < start {
            return true;
        }
        if d > last || count.is_some_and(|c| out.len() >= c) || out.len() >= 5000 {
            return false;
        }
        out.push(d);
        true
    };
    match kind {
        "daily" => {
            let mut d = start;
            loop {
                if !push(d, &mut out) {
                    break;
                }
                match d.checked_add(interval.days()) {
                    Ok(n) => d = n,
                    Err(_) => break,
                }
            }
        }
        "weekly" => {
            let back = i64::from(first_day.until(start.weekday()));
            let Ok(mut week) = start.checked_sub(back.days()) else {
                return out;
            };
            let mut order: Vec<Weekday> = days.clone();
            order.sort_by_key(|w| first_day.until(*w));
            'weeks: loop {
                for w in &order {
                    let Ok(d) = week.checked_add(i64::from(first_day.until(*w)).days()) else {
                        break 'weeks;
                    };
                    if !push(d, &mut out) {
                        break 'weeks;
                    }
                }
                match week.checked_add((7 * interval).days()) {
                    Ok(n) if n <= last => week = n,
                    _ => break,
                }
            }
        }
        "absoluteMonthly" | "relativeMonthly" | "absoluteYearly" | "relativeYearly" => {
            let yearly = kind.ends_with("Yearly");
            let step = if yearly { 12 * interval } else { interval };
            let Ok(mut anchor) =
                Date::new(start.year(), if yearly { month } else { start.month() }, 1)
            else {
                return out;
            };
            if yearly && anchor > start.first_of_month() {
                // the first occurrence is in the start year
            } else if yearly && anchor < start.first_of_month() {
                anchor = match anchor.checked_add(12.months()) {
                    Ok(a) => a,
                    Err(_) => return out,
                };
            }
            loop {
                let d = if kind.starts_with("absolute") {
                    let dom = day_of_month.min(anchor.days_in_month());
                    Date::new(anchor.year(), anchor.month(), dom).ok()
                } else {
                    days.first()
                        .and_then(|w| anchor.nth_weekday_of_month(nth, *w).ok())
                };
                if let Some(d) = d
                    && !push(d, &mut out)
                {
                    break;
                }
                match anchor.checked_add(step.months()) {
                    Ok(n) if n <= last => anchor = n,
                    _ => break,
                }
            }
        }
        _ => {}
    }
    out
}

/// Duration between two local times (used to carry an event's length to its occurrences).
pub(crate) fn length(start: DateTime, end: DateTime) -> SignedDuration {
    end.duration_since(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_zones() {
        let dt: DateTime = "2026-07-01T09:00:00".parse().unwrap();
        let a = to_utc(dt, "W. Europe Standard Time");
        let b = to_utc(dt, "Europe/Berlin");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2026-07-01T07:00:00Z");
        assert_eq!(
            from_utc(a, "Pacific Standard Time").to_string(),
            "2026-07-01T00:00:00"
        );
        assert!(!is_known("Mars Standard Time"));
        assert_eq!(
            parse_local("2026-11-27T10:00:00.0000000")
                .unwrap()
                .to_string(),
            "2026-11-27T10:00:00"
        );
    }

    #[test]
    fn weekly_numbered_and_monthly_patterns() {
        let weekly = json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "monday"}, "range": {"type": "numbered", "startDate": "2026-11-02", "numberOfOccurrences": 5}});
        let d = occurrence_dates(&weekly, "2027-12-31".parse().unwrap());
        let s: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            s,
            [
                "2026-11-02",
                "2026-11-05",
                "2026-11-09",
                "2026-11-12",
                "2026-11-16"
            ]
        );
        let rel = json!({"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "first"}, "range": {"type": "endDate", "startDate": "2026-11-01", "endDate": "2027-01-31"}});
        let s: Vec<String> = occurrence_dates(&rel, "2030-01-01".parse().unwrap())
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(s, ["2026-11-03", "2026-12-01", "2027-01-05"]);
        let daily = json!({"pattern": {"type": "daily", "interval": 2}, "range": {"type": "noEnd", "startDate": "2026-11-01"}});
        assert_eq!(
            occurrence_dates(&daily, "2026-11-07".parse().unwrap()).len(),
            4
        );
        let abs = json!({"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, "range": {"type": "numbered", "startDate": "2026-11-01", "numberOfOccurrences": 3}});
        let s: Vec<String> = occurrence_dates(&abs, "2030-01-01".parse().unwrap())
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(s, ["2026-11-30", "2026-12-31", "2027-01-31"]);
        assert!(validate_recurrence(&weekly).is_ok());
        assert!(validate_recurrence(&json!({"pattern": {"type": "weekly"}, "range": {"type": "noEnd", "startDate": "2026-01-01"}})).is_err());
    }
}
