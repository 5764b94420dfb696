//! Events added to one calendar after the seed, on request: many single events for load tests
//! (the control API's `events/generate`), and the migrated tenant's events (`migrated`): an
//! out-of-office event as a connector that kept CRM absences wrote it, a single meeting with
//! one guest. Apart from the seed because each adds to a tenant that already exists.

use super::ical_uid;
use super::seed::{ZONES, attendee, html};
use super::writes::insert_event;
use crate::ids;
use crate::people::{Directory, Person};
use crate::store::{Event, Tenant, recipient};
use jiff::civil::{DateTime, Time};
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, json};

/// Adds `count` single events to the calendar of user `ui`, spread evenly over the days
/// strictly inside `[today − days_past, today + days_future]` (so that every one overlaps a
/// window of that size whatever the time of day): for load tests (a first sync of many events).
/// Each is a 30-minute meeting the user organises with one external attendee (so a sync looks
/// a CRM person up per event), in one of the seed's time zones. Returns the immutable ids.
pub(crate) fn generate_events(
    t: &mut Tenant,
    dir: &Directory,
    ui: usize,
    count: usize,
    days_past: u32,
    days_future: u32,
) -> Vec<String> {
    let today = Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let Some(me) = dir.users.get(ui) else {
        return Vec::new();
    };
    // the days from today − (days_past − 1) to today + (days_future − 1)
    let first = 1 - i64::from(days_past.max(1));
    let days = i64::from(days_past.max(1)) + i64::from(days_future.max(1)) - 1;
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        // evenly over the days, at 8:00 to 16:30 local time
        let day = first + (i as i64 * days) / count.max(1) as i64;
        let hour = 8 + (i % 9) as i8;
        let Ok(date) = today.checked_add(day.days()) else {
            continue;
        };
        let start =
            date.to_datetime(Time::new(hour, (i % 2) as i8 * 30, 0, 0).unwrap_or(Time::midnight()));
        let end = start.checked_add(30.minutes()).unwrap_or(start);
        let guest = &dir.externals[(ui * 7 + i) % dir.externals.len().max(1)];
        let seq = t.next_seq();
        let mut props = Map::new();
        props.insert(
            "subject".into(),
            json!(format!("Meeting {} with {}", i + 1, guest.display_name)),
        );
        props.insert("body".into(), html(&format!("Agenda item {}", i + 1)));
        props.insert("organizer".into(), recipient(&me.display_name, &me.email));
        props.insert("attendees".into(), json!([attendee(guest, "required")]));
        props.insert("isOrganizer".into(), json!(true));
        props.insert(
            "responseStatus".into(),
            json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
        );
        props.insert("iCalUId".into(), json!(ical_uid(&mut t.rng)));
        let ev = Event {
            imm: ids::immutable_id(&mut t.rng),
            rest: ids::rest_id(&mut t.rng),
            seq,
            created: Timestamp::now(),
            modified: Timestamp::now(),
            start,
            end,
            tz: ZONES[i % ZONES.len()].to_owned(),
            all_day: false,
            recurrence: None,
            exceptions: Default::default(),
            props,
            ext: Vec::new(),
        };
        ids.push(ev.imm.clone());
        insert_event(t, ui, ev);
    }
    ids
}

/// Adds an all-day out-of-office event over `[first, after)` (days, `after` exclusive) to the
/// user's calendar, as a connector that kept CRM absences wrote it; returns its immutable and
/// REST ids.
pub(crate) fn add_absence_event(
    t: &mut Tenant,
    ui: usize,
    subject: &str,
    first: jiff::civil::Date,
    after: jiff::civil::Date,
) -> Option<(String, String)> {
    let seq = t.next_seq();
    let mut props = Map::new();
    props.insert("subject".into(), json!(subject));
    props.insert("showAs".into(), json!("oof"));
    props.insert("isReminderOn".into(), json!(false));
    props.insert("isOrganizer".into(), json!(true));
    let ev = Event {
        imm: ids::immutable_id(&mut t.rng),
        rest: ids::rest_id(&mut t.rng),
        seq,
        created: Timestamp::now(),
        modified: Timestamp::now(),
        start: first.to_datetime(jiff::civil::Time::midnight()),
        end: after.to_datetime(jiff::civil::Time::midnight()),
        tz: "UTC".to_owned(),
        all_day: true,
        recurrence: None,
        exceptions: Default::default(),
        props,
        ext: Vec::new(),
    };
    let out = (ev.imm.clone(), ev.rest.clone());
    insert_event(t, ui, ev);
    Some(out)
}

/// Adds one single event in UTC to user `ui`'s calendar, organised by the user with `guest`
/// as required attendee (the migrated tenant's events, see `migrated`). Returns `(immutable
/// id, REST id, iCalUId)`.
pub(crate) fn add_single_event(
    t: &mut Tenant,
    dir: &Directory,
    ui: usize,
    subject: &str,
    start: DateTime,
    minutes: i64,
    guest: &Person,
) -> Option<(String, String, String)> {
    let me = dir.users.get(ui)?;
    let seq = t.next_seq();
    let mut props = Map::new();
    props.insert("subject".into(), json!(subject));
    props.insert("body".into(), html(&format!("{subject}: agenda")));
    props.insert("organizer".into(), recipient(&me.display_name, &me.email));
    props.insert("attendees".into(), json!([attendee(guest, "required")]));
    props.insert("isOrganizer".into(), json!(true));
    props.insert(
        "responseStatus".into(),
        json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
    );
    let ical = ical_uid(&mut t.rng);
    props.insert("iCalUId".into(), json!(ical));
    let ev = Event {
        imm: ids::immutable_id(&mut t.rng),
        rest: ids::rest_id(&mut t.rng),
        seq,
        created: Timestamp::now(),
        modified: Timestamp::now(),
        start,
        end: start.checked_add(minutes.minutes()).unwrap_or(start),
        tz: "UTC".to_owned(),
        all_day: false,
        recurrence: None,
        exceptions: Default::default(),
        props,
        ext: Vec::new(),
    };
    let out = (ev.imm.clone(), ev.rest.clone(), ical);
    insert_event(t, ui, ev);
    Some(out)
}
