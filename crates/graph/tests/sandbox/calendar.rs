//! Calendar reads and writes: the seeded calendar, contacts and To Do read, events in Windows
//! zones (DST edges, all-day), recurring series and their occurrences in the calendarView delta.

use std::collections::{HashMap, HashSet};

use gc_graph::models::EventTime;
use gc_graph::{DeltaItem, ErrorKind};
use gc_sandbox::SandboxOptions;

use super::{client, mailbox, start};

#[tokio::test]
async fn calendar_contacts_and_todo_read() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let now = jiff::Timestamp::now();
    let start = now - jiff::SignedDuration::from_hours(24 * 60);
    let end = now + jiff::SignedDuration::from_hours(24 * 120);
    let mut events = Vec::new();
    let mut s = c.event_delta(&me, start, end);
    while let Some(page) = s.next_page().await {
        for item in page.unwrap().items {
            if let DeltaItem::Changed(e) = item.unwrap() {
                events.push(e);
            }
        }
    }
    assert!(!events.is_empty(), "the sandbox seeds events");
    let mut kinds: HashMap<bool, usize> = HashMap::new();
    for e in &events {
        let t = e.time().unwrap();
        *kinds
            .entry(matches!(t, EventTime::AllDay { .. }))
            .or_default() += 1;
        if let EventTime::Timed { start, end } = t {
            assert!(start <= end, "{e:?}");
        }
    }
    assert!(kinds.get(&false).copied().unwrap_or(0) > 0);

    let folders = c.list_contact_folders(&me).await.unwrap();
    let crm_contacts = c.create_contact_folder(&me, "CRM contacts").await.unwrap();
    assert_eq!(
        c.create_contact_folder(&me, "CRM contacts")
            .await
            .unwrap()
            .id,
        crm_contacts.id
    );
    assert!(
        c.list_contact_folders(&me).await.unwrap().len() > folders.len()
            || folders.iter().any(|f| f.id == crm_contacts.id)
    );
    let seeded: HashSet<String> = sb
        .state()
        .contacts(&me)
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let contacts = c.list_contacts(&me, None).collect_ok().await.unwrap();
    assert!(
        contacts.iter().all(|x| seeded.contains(&x.id)),
        "ids match the tenant's contacts"
    );

    let lists = c.list_todo_lists(&me).await.unwrap();
    assert!(!lists.is_empty());
    let crm = c.create_todo_list(&me, "CRM").await.unwrap();
    assert_eq!(c.create_todo_list(&me, "CRM").await.unwrap().id, crm.id);
}

#[tokio::test]
async fn events_written_in_windows_zones_read_back_as_the_same_instants() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    // Table: (local start, local end, zone) including the Berlin spring-forward gap and the
    // US fall-back overlap.
    let table = [
        (
            "2026-03-29T02:30:00",
            "2026-03-29T04:00:00",
            "W. Europe Standard Time",
        ),
        (
            "2026-07-01T09:00:00",
            "2026-07-01T10:00:00",
            "W. Europe Standard Time",
        ),
        (
            "2026-11-01T01:30:00",
            "2026-11-01T02:30:00",
            "Eastern Standard Time",
        ),
        (
            "2026-01-15T23:30:00",
            "2026-01-16T00:30:00",
            "Tokyo Standard Time",
        ),
        (
            "2026-06-15T12:00:00",
            "2026-06-15T13:00:00",
            "Europe/Berlin",
        ),
    ];
    for (s, e, zone) in table {
        let body = serde_json::json!({
            "subject": format!("tz {zone} {s}"),
            "start": {"dateTime": s, "timeZone": zone},
            "end": {"dateTime": e, "timeZone": zone},
        });
        let created = c.create_event(&me, &body).await.unwrap();
        let read = c.get_event(&me, &created.id, None).await.unwrap();
        // Reads come in UTC (Prefer: outlook.timezone="UTC").
        assert_eq!(
            read.start
                .as_ref()
                .unwrap()
                .time_zone
                .as_deref()
                .map(str::to_ascii_uppercase),
            Some("UTC".into())
        );
        let want_start = gc_graph::tz::to_timestamp(s, Some(zone)).unwrap();
        let want_end = gc_graph::tz::to_timestamp(e, Some(zone)).unwrap();
        assert_eq!(
            read.time().unwrap(),
            EventTime::Timed {
                start: want_start,
                end: want_end
            },
            "{zone} {s}"
        );
    }
    // All-day events stay dates.
    let body = serde_json::json!({
        "subject": "holiday",
        "isAllDay": true,
        "start": {"dateTime": "2026-12-24T00:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-12-26T00:00:00", "timeZone": "Pacific Standard Time"},
    });
    let created = c.create_event(&me, &body).await.unwrap();
    let read = c.get_event(&me, &created.id, None).await.unwrap();
    assert_eq!(
        read.time().unwrap(),
        EventTime::AllDay {
            start: jiff::civil::date(2026, 12, 24),
            end: jiff::civil::date(2026, 12, 26)
        }
    );
    // Update and delete.
    let updated = c
        .update_event(
            &me,
            &created.id,
            &serde_json::json!({"subject": "holidays"}),
        )
        .await
        .unwrap();
    assert_eq!(updated.subject.as_deref(), Some("holidays"));
    c.delete_event(&me, &created.id).await.unwrap();
    assert_eq!(
        c.get_event(&me, &created.id, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn recurring_series_expand_into_occurrences() {
    let sb = start(SandboxOptions::default()).await;
    let me = mailbox(&sb);
    let c = client(&sb);
    let body = serde_json::json!({
        "subject": "weekly sync",
        "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-12-01T10:30:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "monday"},
            "range": {"type": "numbered", "startDate": "2026-12-01", "numberOfOccurrences": 4, "recurrenceTimeZone": "W. Europe Standard Time"}
        }
    });
    let master = c.create_event(&me, &body).await.unwrap();
    assert_eq!(
        master.event_type,
        Some(gc_graph::models::EventType::SeriesMaster)
    );
    let from = "2026-11-30T00:00:00Z".parse().unwrap();
    let to = "2027-01-31T00:00:00Z".parse().unwrap();
    let occurrences = c
        .event_instances(&me, &master.id, from, to)
        .collect_ok()
        .await
        .unwrap();
    assert_eq!(occurrences.len(), 4);
    for o in &occurrences {
        assert_eq!(o.series_master_id.as_deref(), Some(master.id.as_str()));
        assert_eq!(o.event_type, Some(gc_graph::models::EventType::Occurrence));
        let EventTime::Timed { start, .. } = o.time().unwrap() else {
            panic!("timed")
        };
        // 10:00 in Berlin winter time is 09:00 UTC.
        assert_eq!(start.to_zoned_datetime(jiff::tz::TimeZone::UTC).hour(), 9);
    }
    // The calendarView delta over the window lists the occurrences, not the master.
    let mut seen = Vec::new();
    let mut s = c.event_delta(&me, from, to);
    while let Some(page) = s.next_page().await {
        for item in page.unwrap().items {
            if let DeltaItem::Changed(e) = item.unwrap()
                && e.series_master_id.as_deref() == Some(master.id.as_str())
            {
                seen.push(e.id);
            }
        }
    }
    assert_eq!(seen.len(), 4);
}
