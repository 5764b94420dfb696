//! The checkpoint of a CRM source (the tasks' and the appointments'): the newest update stamp
//! seen, when the window was last walked in full, and the window's last day then. Stored as
//! the cursor's delta link; a checkpoint that is due for a full walk is reported as expired,
//! so the engine walks the window from the start and reconciles (records deleted in CRM are
//! found that way, and records that entered the window because a day passed).

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;

/// A decoded checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmCheckpoint {
    /// Newest update stamp seen (`None`: none seen yet).
    pub since: Option<String>,
    /// When the window was last walked in full.
    pub full_walk: Timestamp,
    /// The window's last day at that walk.
    pub window_end: Date,
}

impl CrmCheckpoint {
    /// The stored form.
    pub fn encode(&self) -> String {
        format!(
            "crm-v1;full={};to={};since={}",
            self.full_walk.as_second(),
            self.window_end,
            self.since.as_deref().unwrap_or("")
        )
    }

    /// Reads the stored form (`None`: not one of ours, walk in full).
    pub fn decode(s: &str) -> Option<Self> {
        // `tasks-v1` is the same form, from when only tasks had a CRM source.
        let rest = s
            .strip_prefix("crm-v1;full=")
            .or_else(|| s.strip_prefix("tasks-v1;full="))?;
        let (full, rest) = rest.split_once(";to=")?;
        let (to, since) = rest.split_once(";since=")?;
        Some(CrmCheckpoint {
            since: (!since.is_empty()).then(|| since.to_owned()),
            full_walk: Timestamp::from_second(full.parse().ok()?).ok()?,
            window_end: to.parse().ok()?,
        })
    }

    /// Whether the window must be walked in full now: `every` has passed since the last full
    /// walk, or the window moved on (a new day brings tasks no change announces).
    pub fn full_walk_due(&self, now: Timestamp, window_end: Date, every: Duration) -> bool {
        let elapsed = now.as_second().saturating_sub(self.full_walk.as_second());
        window_end != self.window_end || elapsed >= every.as_secs() as i64
    }

    /// The newer of the stored stamp and `stamps` (stamps sort in time order as text).
    pub fn advance<'a>(&self, stamps: impl Iterator<Item = &'a str>) -> Option<String> {
        stamps.map(str::to_owned).chain(self.since.clone()).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> CrmCheckpoint {
        CrmCheckpoint {
            since: Some("2026-12-02T01:00:00.123Z".into()),
            full_walk: Timestamp::from_second(1_800_000_000).unwrap(),
            window_end: jiff::civil::date(2026, 12, 9),
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(CrmCheckpoint::decode(&cp().encode()), Some(cp()));
        let none = CrmCheckpoint {
            since: None,
            ..cp()
        };
        assert_eq!(CrmCheckpoint::decode(&none.encode()), Some(none));
        assert_eq!(CrmCheckpoint::decode("https://graph/delta?token=x"), None);
    }

    #[test]
    fn a_full_walk_is_due_after_the_interval_or_when_the_window_moved() {
        let c = cp();
        let hour = Duration::from_secs(3600);
        let end = c.window_end;
        let soon = Timestamp::from_second(1_800_000_000 + 600).unwrap();
        let later = Timestamp::from_second(1_800_000_000 + 3600).unwrap();
        assert!(!c.full_walk_due(soon, end, hour));
        assert!(c.full_walk_due(later, end, hour));
        assert!(c.full_walk_due(soon, jiff::civil::date(2026, 12, 10), hour));
        assert!(c.full_walk_due(soon, end, Duration::ZERO));
    }

    #[test]
    fn the_stamp_only_moves_forward() {
        let c = cp();
        assert_eq!(c.advance(["2026-12-02T00:59:00.000Z"].into_iter()), c.since);
        assert_eq!(
            c.advance(["2026-12-02T01:00:01.000Z"].into_iter())
                .as_deref(),
            Some("2026-12-02T01:00:01.000Z")
        );
    }
}
