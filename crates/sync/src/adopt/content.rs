//! Content matching, the last resort of adoption (pure): the same subject and start, and the
//! organizer (events) or the sender (e-mails) where known. A record found this way is adopted
//! only when exactly one candidate is left after taken records are removed, so that two
//! look-alike meetings never share a record by guesswork.

use gc_store::CrmId;
use jiff::Timestamp;

use crate::adopt::ports::{ContentCandidate, EventStub};

/// Subjects compare trimmed and case-insensitively (Outlook and CRM may differ in both).
pub fn same_subject(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// `HH:MM` of a CRM time text (`09:15`, `09:15:00`, ` 9:15`).
fn hh_mm(t: &str) -> Option<(u8, u8)> {
    let mut parts = t.trim().split(':');
    let h = parts.next()?.trim().parse().ok()?;
    let m = parts.next()?.trim().parse().ok()?;
    Some((h, m))
}

/// The events among `events` that are the appointment (subject, start to the minute, and an
/// organizer that is the mailbox's owner when the event names one).
pub fn matching_events<'a>(
    events: &'a [EventStub],
    subject: &str,
    start: Timestamp,
    owner_addresses: &[String],
) -> Vec<&'a EventStub> {
    events
        .iter()
        .filter(|e| same_subject(&e.subject, subject))
        .filter(|e| {
            e.start
                .is_some_and(|s| (s.as_second() - start.as_second()).abs() < 60)
        })
        .filter(|e| {
            e.organizer
                .as_deref()
                .is_none_or(|o| owner_addresses.iter().any(|a| a.eq_ignore_ascii_case(o)))
        })
        .collect()
}

/// The activities among `candidates` that are the message: subject, time to the minute, and
/// the sender among the participants when there is a sender. Lowest id first.
pub fn matching_activities(
    candidates: &[ContentCandidate],
    subject: &str,
    time: jiff::civil::Time,
    sender: Option<&str>,
) -> Vec<CrmId> {
    let want = (time.hour() as u8, time.minute() as u8);
    let mut out: Vec<CrmId> = candidates
        .iter()
        .filter(|c| same_subject(&c.subject, subject))
        .filter(|c| hh_mm(&c.time) == Some(want))
        .filter(|c| sender.is_none_or(|s| c.participants.iter().any(|p| p.eq_ignore_ascii_case(s))))
        .map(|c| c.id)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: u32, subject: &str, time: &str, who: &[&str]) -> ContentCandidate {
        ContentCandidate {
            id: CrmId::new(1, id),
            subject: subject.into(),
            time: time.into(),
            participants: who.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn an_activity_matches_by_subject_time_and_sender() {
        let c = vec![
            cand(
                7,
                "Offer 12",
                "09:15",
                &["a@x.example", "rep@contoso.example"],
            ),
            cand(5, " offer 12 ", "09:15:00", &["A@X.example"]),
            cand(9, "Offer 12", "09:16", &["a@x.example"]),
            cand(3, "Offer 13", "09:15", &["a@x.example"]),
            cand(4, "Offer 12", "09:15", &["b@x.example"]),
        ];
        let t = jiff::civil::time(9, 15, 0, 0);
        assert_eq!(
            matching_activities(&c, "Offer 12", t, Some("a@x.example")),
            vec![CrmId::new(1, 5), CrmId::new(1, 7)]
        );
        // without a sender, the address does not decide
        assert_eq!(matching_activities(&c, "Offer 12", t, None).len(), 3);
    }

    #[test]
    fn an_event_matches_by_subject_start_and_organizer() {
        let start: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let ev = |id: &str, subject: &str, at: &str, org: Option<&str>| EventStub {
            id: id.into(),
            subject: subject.into(),
            start: Some(at.parse().unwrap()),
            organizer: org.map(str::to_owned),
        };
        let events = vec![
            ev(
                "a",
                "Review",
                "2026-12-01T10:00:00Z",
                Some("rep@contoso.example"),
            ),
            ev(
                "b",
                "Review",
                "2026-12-01T10:30:00Z",
                Some("rep@contoso.example"),
            ),
            ev(
                "c",
                "Review",
                "2026-12-01T10:00:00Z",
                Some("boss@contoso.example"),
            ),
            ev("d", "REVIEW ", "2026-12-01T10:00:30Z", None),
            ev("e", "Other", "2026-12-01T10:00:00Z", None),
        ];
        let owner = vec!["rep@contoso.example".to_owned()];
        let ids: Vec<&str> = matching_events(&events, "Review", start, &owner)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "d"]);
    }
}
