//! The calendar seed: every mailbox's calendar relative to today (the weekly meeting the admin
//! organises with every user, calls, visits, all-day and private events, monthly and daily
//! series with one moved and one cancelled occurrence, a meeting an external organises), in
//! several time zones. Apart from the endpoints because it builds a deterministic tenant
//! rather than answering requests.

use super::ical_uid;
use super::meetings::sync_copies;
use super::writes::insert_event;
use crate::ids;
use crate::people::{Directory, Person};
use crate::store::{Event, Exception, Tenant, recipient, ts};
use crate::tz;
use jiff::civil::Time;
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, Value, json};

pub(super) const ZONES: &[&str] = &[
    "W. Europe Standard Time",
    "GMT Standard Time",
    "Eastern Standard Time",
    "Pacific Standard Time",
    "Tokyo Standard Time",
    "Romance Standard Time",
];

pub(super) fn attendee(p: &Person, kind: &str) -> Value {
    json!({"type": kind, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"name": p.display_name, "address": p.email}})
}

pub(super) fn html(text: &str) -> Value {
    json!({"contentType": "html", "content": format!("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><p>{text}</p></body></html>")})
}

struct Seed<'a> {
    subject: String,
    day: i64,
    hour: i8,
    minutes: i64,
    tz: &'a str,
    all_day_days: Option<i64>,
    recurrence: Option<Value>,
    organizer: &'a Person,
    attendees: Vec<Value>,
    props: Vec<(&'a str, Value)>,
}

/// Seeds every mailbox's calendar relative to today.
pub(crate) fn seed_events(t: &mut Tenant, dir: &Directory) {
    let today = Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mailbox: Vec<usize> = (0..dir.users.len())
        .filter(|i| dir.users[*i].has_mailbox())
        .collect();
    if mailbox.is_empty() {
        return;
    }
    let admin = &dir.users[mailbox[0]];
    let mut seeds: Vec<(usize, Seed<'_>)> = Vec::new();
    // weekly team meeting organised by the admin with every mailbox user: one copy per attendee
    let monday = today
        .checked_sub(i64::from(jiff::civil::Weekday::Monday.until(today.weekday())).days())
        .unwrap_or(today);
    let start = monday.checked_sub(28.days()).unwrap_or(monday);
    seeds.push((
        mailbox[0],
        Seed {
            subject: "Weekly sales meeting".into(),
            day: -(28 + i64::from(jiff::civil::Weekday::Monday.until(today.weekday()))),
            hour: 9,
            minutes: 60,
            tz: "W. Europe Standard Time",
            all_day_days: None,
            recurrence: Some(json!({"pattern": {"type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday", "index": "first"}, "range": {"type": "numbered", "startDate": start.to_string(), "endDate": "0001-01-01", "recurrenceTimeZone": "W. Europe Standard Time", "numberOfOccurrences": 12}})),
            organizer: admin,
            attendees: mailbox.iter().skip(1).map(|i| attendee(&dir.users[*i], "required")).collect(),
            props: vec![("location", json!({"displayName": "Room 1.23", "locationType": "default"}))],
        },
    ));
    for (k, &ui) in mailbox.iter().enumerate() {
        let me = &dir.users[ui];
        let ext = |n: usize| &dir.externals[(ui * 3 + n) % dir.externals.len().max(1)];
        let colleague = &dir.users[mailbox[(k + 1) % mailbox.len()]];
        let company = |p: &Person| {
            p.company
                .map(|c| dir.companies[c].name.clone())
                .unwrap_or_default()
        };
        let z = |n: usize| ZONES[(k + n) % ZONES.len()];
        let mut mine = vec![
            Seed {
                subject: format!("Call with {}", ext(0).display_name),
                day: -3,
                hour: 10,
                minutes: 30,
                tz: z(0),
                all_day_days: None,
                recurrence: None,
                organizer: me,
                attendees: vec![attendee(ext(0), "required")],
                props: vec![],
            },
            Seed {
                subject: format!("Visit {}", company(ext(1))),
                day: 2,
                hour: 14,
                minutes: 90,
                tz: z(1),
                all_day_days: None,
                recurrence: None,
                organizer: me,
                attendees: vec![
                    attendee(ext(1), "required"),
                    attendee(colleague, "optional"),
                ],
                props: vec![(
                    "location",
                    json!({"displayName": format!("{} office", company(ext(1))), "locationType": "businessAddress"}),
                )],
            },
            Seed {
                subject: format!("Negotiation {}", company(ext(2))),
                day: 5,
                hour: 8,
                minutes: 60,
                tz: z(2),
                all_day_days: None,
                recurrence: None,
                organizer: me,
                attendees: vec![attendee(ext(2), "required"), attendee(ext(3), "required")],
                props: vec![
                    ("isOnlineMeeting", json!(true)),
                    ("onlineMeetingProvider", json!("teamsForBusiness")),
                ],
            },
            Seed {
                subject: "Trade fair".into(),
                day: 6,
                hour: 0,
                minutes: 0,
                tz: z(0),
                all_day_days: Some(2),
                recurrence: None,
                organizer: me,
                attendees: vec![],
                props: vec![("showAs", json!("workingElsewhere"))],
            },
            Seed {
                subject: "Vacation".into(),
                day: 10,
                hour: 0,
                minutes: 0,
                tz: z(0),
                all_day_days: Some(3),
                recurrence: None,
                organizer: me,
                attendees: vec![],
                props: vec![("showAs", json!("oof"))],
            },
            Seed {
                subject: "Doctor appointment".into(),
                day: 1,
                hour: 16,
                minutes: 45,
                tz: z(0),
                all_day_days: None,
                recurrence: None,
                organizer: me,
                attendees: vec![],
                props: vec![("sensitivity", json!("private")), ("showAs", json!("oof"))],
            },
            Seed {
                subject: "Prepare quarterly forecast".into(),
                day: -1,
                hour: 13,
                minutes: 120,
                tz: z(3),
                all_day_days: None,
                recurrence: None,
                organizer: me,
                attendees: vec![],
                props: vec![("showAs", json!("tentative"))],
            },
            Seed {
                subject: "Monthly pipeline review".into(),
                day: -40,
                hour: 15,
                minutes: 60,
                tz: z(4),
                all_day_days: None,
                recurrence: Some(
                    json!({"pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "first", "firstDayOfWeek": "sunday"}, "range": {"type": "noEnd", "startDate": today.checked_sub(40.days()).unwrap_or(today).to_string(), "recurrenceTimeZone": z(4)}}),
                ),
                organizer: me,
                attendees: vec![attendee(colleague, "required")],
                props: vec![],
            },
            Seed {
                subject: "Daily check-in".into(),
                day: -5,
                hour: 8,
                minutes: 15,
                tz: z(0),
                all_day_days: None,
                recurrence: Some(
                    json!({"pattern": {"type": "daily", "interval": 1}, "range": {"type": "endDate", "startDate": today.checked_sub(5.days()).unwrap_or(today).to_string(), "endDate": today.checked_add(9.days()).unwrap_or(today).to_string()}}),
                ),
                organizer: me,
                attendees: vec![],
                props: vec![],
            },
        ];
        // meeting organised by an external, with this user and a colleague invited
        mine.push(Seed {
            subject: format!("{} product presentation", company(ext(4))),
            day: 3,
            hour: 11,
            minutes: 60,
            tz: "GMT Standard Time",
            all_day_days: None,
            recurrence: None,
            organizer: ext(4),
            attendees: vec![
                attendee(me, "required"),
                attendee(colleague, "required"),
                attendee(ext(4), "required"),
            ],
            props: vec![],
        });
        seeds.extend(mine.into_iter().map(|s| (ui, s)));
    }
    let mut rng = t.rng.clone();
    for (ui, s) in seeds {
        let seq = t.next_seq();
        let Some(day) = today.checked_add(s.day.days()).ok() else {
            continue;
        };
        let (start, end, all_day) = match s.all_day_days {
            Some(n) => (
                day.to_datetime(Time::midnight()),
                day.checked_add(n.days())
                    .unwrap_or(day)
                    .to_datetime(Time::midnight()),
                true,
            ),
            None => {
                let st = day.to_datetime(Time::new(s.hour, 0, 0, 0).unwrap_or(Time::midnight()));
                (st, st.checked_add(s.minutes.minutes()).unwrap_or(st), false)
            }
        };
        let external_organizer = s.organizer.company.is_some();
        let mut props = Map::new();
        props.insert("subject".into(), json!(s.subject));
        props.insert("body".into(), html(&format!("Agenda: {}", s.subject)));
        props.insert(
            "organizer".into(),
            recipient(&s.organizer.display_name, &s.organizer.email),
        );
        props.insert("attendees".into(), Value::Array(s.attendees));
        props.insert("isOrganizer".into(), json!(!external_organizer));
        props.insert(
            "responseStatus".into(),
            if external_organizer {
                json!({"response": "accepted", "time": ts(Timestamp::now())})
            } else {
                json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"})
            },
        );
        props.insert("iCalUId".into(), json!(ical_uid(&mut rng)));
        for (k, v) in s.props {
            props.insert(k.to_owned(), v);
        }
        let mut ev = Event {
            imm: ids::immutable_id(&mut rng),
            rest: ids::rest_id(&mut rng),
            seq,
            created: Timestamp::now(),
            modified: Timestamp::now(),
            start,
            end,
            tz: s.tz.to_owned(),
            all_day,
            recurrence: s.recurrence,
            exceptions: Default::default(),
            props,
            ext: Vec::new(),
        };
        // series get one moved-and-renamed occurrence and one cancelled occurrence
        if let Some(r) = &ev.recurrence {
            let dates = tz::occurrence_dates(r, today.checked_add(60.days()).unwrap_or(today));
            if dates.len() >= 4 {
                let moved = dates[dates.len() / 2];
                let cancelled = dates[dates.len() / 2 + 1];
                let st = moved
                    .to_datetime(ev.start.time())
                    .checked_add(2.hours())
                    .unwrap_or(ev.start);
                let mut p = Map::new();
                p.insert(
                    "subject".into(),
                    json!(format!(
                        "{} (moved)",
                        ev.props
                            .get("subject")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    )),
                );
                ev.exceptions.insert(
                    moved.to_string(),
                    Exception {
                        cancelled: false,
                        start: Some(st),
                        end: st.checked_add(tz::length(ev.start, ev.end)).ok(),
                        props: p,
                        seq,
                    },
                );
                ev.exceptions.insert(
                    cancelled.to_string(),
                    Exception {
                        cancelled: true,
                        seq,
                        ..Default::default()
                    },
                );
            }
        }
        let imm = ev.imm.clone();
        let ical = ev.props.get("iCalUId").cloned();
        insert_event(t, ui, ev);
        if external_organizer {
            // every other invited tenant user holds an own copy of the external's meeting
            if let (Some(ical), Some(src)) = (
                ical,
                t.users[ui]
                    .mailbox
                    .as_ref()
                    .and_then(|m| m.events.get(&imm))
                    .cloned(),
            ) {
                let invited: Vec<String> = src
                    .props
                    .get("attendees")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|a| {
                        a.pointer("/emailAddress/address")
                            .and_then(Value::as_str)
                            .map(str::to_lowercase)
                    })
                    .collect();
                for (vi, u) in t.users.iter_mut().enumerate() {
                    if vi == ui
                        || !u
                            .mail
                            .as_ref()
                            .is_some_and(|m| invited.contains(&m.to_lowercase()))
                    {
                        continue;
                    }
                    let Some(mb) = u.mailbox.as_mut() else {
                        continue;
                    };
                    if mb
                        .events
                        .values()
                        .any(|e| e.props.get("iCalUId") == Some(&ical))
                    {
                        continue;
                    }
                    let mut copy = src.clone();
                    copy.imm = ids::immutable_id(&mut rng);
                    copy.rest = ids::rest_id(&mut rng);
                    copy.props.insert(
                        "responseStatus".into(),
                        json!({"response": "notResponded", "time": "0001-01-01T00:00:00Z"}),
                    );
                    mb.rest_index.insert(copy.rest.clone(), copy.imm.clone());
                    mb.events.insert(copy.imm.clone(), copy);
                }
            }
        } else {
            t.rng = rng.clone();
            sync_copies(t, ui, &imm, seq);
            rng = t.rng.clone();
        }
    }
    t.rng = rng;
}
