//! Meetings: every tenant attendee of an organizer's event holds an own copy (own ids, the
//! organizer's iCalUId). An organizer's change is carried to the copies, a removed attendee's
//! copy and every copy of a deleted meeting are cancelled ("Canceled: …"). Apart from the
//! writes because it works across mailboxes, and the seed makes its meetings the same way.

use crate::ids;
use crate::store::{Event, Tenant};
use jiff::Timestamp;
use serde_json::{Value, json};

/// Properties an organizer's change carries to the attendees' copies.
const SHARED: &[&str] = &[
    "subject",
    "body",
    "location",
    "locations",
    "attendees",
    "organizer",
    "importance",
    "sensitivity",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "hideAttendees",
    "isCancelled",
];

/// Brings every tenant attendee's copy of the organizer's event `imm` up to date: creates copies
/// for new attendees (own ids, same iCalUId), updates existing ones, cancels removed ones.
pub(super) fn sync_copies(t: &mut Tenant, organizer_ui: usize, imm: &str, seq: u64) {
    let Some(src) = t.users[organizer_ui]
        .mailbox
        .as_ref()
        .and_then(|m| m.events.get(imm))
        .cloned()
    else {
        return;
    };
    let ical = src
        .props
        .get("iCalUId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let attendees: Vec<String> = src
        .props
        .get("attendees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    x.pointer("/emailAddress/address")
                        .and_then(Value::as_str)
                        .map(str::to_lowercase)
                })
                .collect()
        })
        .unwrap_or_default();
    let Tenant { rng, users, .. } = t;
    for (ui, u) in users.iter_mut().enumerate() {
        if ui == organizer_ui {
            continue;
        }
        let invited = u
            .mail
            .as_ref()
            .is_some_and(|m| attendees.contains(&m.to_lowercase()));
        let Some(mb) = u.mailbox.as_mut() else {
            continue;
        };
        let existing = mb
            .events
            .values_mut()
            .find(|e| e.props.get("iCalUId").and_then(Value::as_str) == Some(ical.as_str()));
        match (existing, invited) {
            (Some(copy), true) => {
                copy_shared(&src, copy);
                copy.seq = seq;
                copy.modified = Timestamp::now();
            }
            (Some(copy), false) => cancel(copy, seq),
            (None, true) => {
                let mut copy = src.clone();
                copy.imm = ids::immutable_id(rng);
                copy.rest = ids::rest_id(rng);
                copy.seq = seq;
                copy.ext = Vec::new();
                copy.props.insert("isOrganizer".into(), json!(false));
                copy.props.insert(
                    "responseStatus".into(),
                    json!({"response": "notResponded", "time": "0001-01-01T00:00:00Z"}),
                );
                copy.props.insert("showAs".into(), json!("tentative"));
                copy.props.remove("transactionId");
                copy.props.insert("categories".into(), json!([]));
                mb.rest_index.insert(copy.rest.clone(), copy.imm.clone());
                mb.events.insert(copy.imm.clone(), copy);
            }
            (None, false) => {}
        }
    }
}

fn copy_shared(src: &Event, copy: &mut Event) {
    copy.start = src.start;
    copy.end = src.end;
    copy.tz = src.tz.clone();
    copy.all_day = src.all_day;
    copy.recurrence = src.recurrence.clone();
    copy.exceptions = src.exceptions.clone();
    for k in SHARED {
        match src.props.get(*k) {
            Some(v) => copy.props.insert((*k).to_owned(), v.clone()),
            None => copy.props.remove(*k),
        };
    }
}

fn cancel(copy: &mut Event, seq: u64) {
    copy.props.insert("isCancelled".into(), json!(true));
    let subject = copy
        .props
        .get("subject")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !subject.starts_with("Canceled: ") {
        copy.props
            .insert("subject".into(), json!(format!("Canceled: {subject}")));
    }
    copy.seq = seq;
    copy.modified = Timestamp::now();
}

/// The organizer deleted the meeting: attendees' copies stay, marked cancelled.
pub(super) fn cancel_copies(t: &mut Tenant, organizer_ui: usize, ical: &str, seq: u64) {
    if ical.is_empty() {
        return;
    }
    for (ui, u) in t.users.iter_mut().enumerate() {
        if ui == organizer_ui {
            continue;
        }
        let Some(mb) = u.mailbox.as_mut() else {
            continue;
        };
        for e in mb.events.values_mut() {
            if e.props.get("iCalUId").and_then(Value::as_str) == Some(ical) {
                cancel(e, seq);
            }
        }
    }
}
