//! Rendering: an event (series master or single) or one of its instances as Graph's JSON,
//! with its times in the zone `Prefer: outlook.timezone` asks for and an occurrence's own
//! iCalUId. Apart from the endpoints because it is most of an event's wire shape and every read
//! and write answers with it.

use super::Inst;
use crate::graph::{View, ext_props};
use crate::ids;
use crate::store::{Event, Exception, ts};
use crate::tz;
use jiff::civil::{Date, DateTime};
use serde_json::{Map, Value, json};

/// The iCalUId of one occurrence: the series' with the instance date filled in.
fn occurrence_ical(master: &str, date: &str) -> String {
    let Ok(d) = date.parse::<Date>() else {
        return master.to_owned();
    };
    if master.len() < 40 || !master.is_char_boundary(32) || !master.is_char_boundary(40) {
        return master.to_owned();
    }
    format!(
        "{}{:04X}{:02X}{:02X}{}",
        &master[..32],
        d.year(),
        d.month(),
        d.day(),
        &master[40..]
    )
}

fn render_time(ev: &Event, dt: DateTime, view: &View) -> Value {
    let target = view
        .tz
        .clone()
        .filter(|t| tz::is_known(t))
        .unwrap_or_else(|| "UTC".to_owned());
    if ev.all_day {
        return tz::dtz(dt, &target);
    }
    tz::dtz(tz::from_utc(tz::to_utc(dt, &ev.tz), &target), &target)
}

/// Renders an event (series master or single) or, with `inst`, one of its instances.
pub(crate) fn render_event(ev: &Event, inst: Option<&Inst>, view: &View) -> Value {
    let master_id = view.id(&ev.imm, &ev.rest).to_owned();
    let exc: Option<&Exception> = inst
        .and_then(|i| i.date.as_ref())
        .and_then(|d| ev.exceptions.get(d));
    let seq = ev.seq.max(exc.map_or(0, |e| e.seq));
    let ck = ids::change_key(seq);
    let mut o = Map::new();
    o.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
    let (id, kind, series_master, original_start) = match inst.and_then(|i| i.date.as_ref()) {
        Some(date) => {
            let d = date.parse::<Date>().unwrap_or(ev.start.date());
            let orig = tz::to_utc(d.to_datetime(ev.start.time()), &ev.tz);
            (
                ids::occurrence_id(&master_id, date),
                if exc.is_some() {
                    "exception"
                } else {
                    "occurrence"
                },
                Value::String(master_id.clone()),
                Value::String(ts(orig)),
            )
        }
        None if ev.recurrence.is_some() => {
            (master_id.clone(), "seriesMaster", Value::Null, Value::Null)
        }
        None => (
            master_id.clone(),
            "singleInstance",
            Value::Null,
            Value::Null,
        ),
    };
    o.insert("id".into(), json!(id));
    o.insert("createdDateTime".into(), json!(ts(ev.created)));
    o.insert("lastModifiedDateTime".into(), json!(ts(ev.modified)));
    o.insert("changeKey".into(), json!(ck));
    let p = |k: &str| -> Value {
        exc.and_then(|e| e.props.get(k))
            .or_else(|| ev.props.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    o.insert(
        "categories".into(),
        Some(p("categories"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!([])),
    );
    o.insert("transactionId".into(), p("transactionId"));
    o.insert("originalStartTimeZone".into(), json!(ev.tz));
    o.insert("originalEndTimeZone".into(), json!(ev.tz));
    let ical = ev
        .props
        .get("iCalUId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ical = match inst.and_then(|i| i.date.as_ref()) {
        Some(d) => occurrence_ical(ical, d),
        None => ical.to_owned(),
    };
    o.insert("iCalUId".into(), json!(ical));
    o.insert("uid".into(), json!(ical));
    o.insert(
        "reminderMinutesBeforeStart".into(),
        Some(p("reminderMinutesBeforeStart"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(15)),
    );
    o.insert(
        "isReminderOn".into(),
        Some(p("isReminderOn"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(true)),
    );
    o.insert("hasAttachments".into(), json!(false));
    o.insert("subject".into(), p("subject"));
    let body = Some(p("body"))
        .filter(|v| !v.is_null())
        .unwrap_or(json!({"contentType": "html", "content": ""}));
    o.insert("bodyPreview".into(), json!(crate::mime::preview(&body)));
    o.insert(
        "importance".into(),
        Some(p("importance"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!("normal")),
    );
    o.insert(
        "sensitivity".into(),
        Some(p("sensitivity"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!("normal")),
    );
    o.insert("isAllDay".into(), json!(ev.all_day));
    o.insert(
        "isCancelled".into(),
        Some(p("isCancelled"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(false)),
    );
    o.insert(
        "isOrganizer".into(),
        Some(p("isOrganizer"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(true)),
    );
    o.insert(
        "responseRequested".into(),
        Some(p("responseRequested"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(true)),
    );
    o.insert("seriesMasterId".into(), series_master);
    o.insert(
        "showAs".into(),
        Some(p("showAs"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!("busy")),
    );
    o.insert("type".into(), json!(kind));
    o.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            ev.rest
        )),
    );
    o.insert("onlineMeetingUrl".into(), Value::Null);
    o.insert(
        "isOnlineMeeting".into(),
        Some(p("isOnlineMeeting"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(false)),
    );
    o.insert(
        "onlineMeetingProvider".into(),
        Some(p("onlineMeetingProvider"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!("unknown")),
    );
    o.insert(
        "allowNewTimeProposals".into(),
        Some(p("allowNewTimeProposals"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(true)),
    );
    o.insert("isDraft".into(), json!(false));
    o.insert(
        "hideAttendees".into(),
        Some(p("hideAttendees"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!(false)),
    );
    if !original_start.is_null() {
        o.insert("originalStart".into(), original_start);
    }
    o.insert(
        "responseStatus".into(),
        Some(p("responseStatus"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"})),
    );
    o.insert("body".into(), body);
    let (start, end) = match inst {
        Some(i) => (i.start, i.end),
        None => (ev.start, ev.end),
    };
    o.insert("start".into(), render_time(ev, start, view));
    o.insert("end".into(), render_time(ev, end, view));
    let location = Some(p("location")).filter(|v| !v.is_null()).unwrap_or(json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}));
    o.insert("location".into(), location.clone());
    o.insert(
        "locations".into(),
        Some(p("locations"))
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            .unwrap_or_else(|| {
                if location
                    .get("displayName")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.is_empty())
                {
                    json!([location])
                } else {
                    json!([])
                }
            }),
    );
    let recurrence = if inst.and_then(|i| i.date.as_ref()).is_none() {
        ev.recurrence.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    o.insert("recurrence".into(), recurrence);
    if ev.recurrence.is_some() && inst.and_then(|i| i.date.as_ref()).is_none() {
        let cancelled: Vec<String> = ev
            .exceptions
            .iter()
            .filter(|(_, e)| e.cancelled)
            .map(|(d, _)| format!("OID.{master_id}.{d}"))
            .collect();
        o.insert("cancelledOccurrences".into(), json!(cancelled));
    }
    o.insert(
        "attendees".into(),
        Some(p("attendees"))
            .filter(|v| !v.is_null())
            .unwrap_or(json!([])),
    );
    o.insert("organizer".into(), p("organizer"));
    o.insert("onlineMeeting".into(), Value::Null);
    ext_props(view, &ev.ext, &mut o);
    Value::Object(o)
}
