//! Write endpoints: create (with `transactionId` de-duplication), PATCH (of a series, an event,
//! or one occurrence, which makes it an exception), DELETE and `cancel` (one occurrence, or
//! the whole event), and an attendee's `accept`/`decline`/`tentativelyAccept`; the properties
//! a client may set and how they are checked. Apart from the reads because every write also
//! brings the attendees' copies up to date (see `meetings`).

use super::meetings::{cancel_copies, sync_copies};
use super::recurrence::{inst_for, resolve};
use super::{ical_uid, mbx, render_event};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, merge_ext};
use crate::ids;
use crate::store::{Event, Exception, Tenant, recipient, ts};
use crate::tz;
use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use serde_json::{Map, Value, json};

/// Properties a client may set on events.
const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "location",
    "locations",
    "attendees",
    "showAs",
    "sensitivity",
    "importance",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "categories",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "responseRequested",
    "hideAttendees",
    "transactionId",
];

fn apply_props(props: &mut Map<String, Value>, body: &Map<String, Value>) -> GResult<()> {
    for (k, v) in body {
        if k.starts_with('@')
            || matches!(
                k.as_str(),
                "id" | "start"
                    | "end"
                    | "isAllDay"
                    | "recurrence"
                    | "singleValueExtendedProperties"
                    | "originalStartTimeZone"
                    | "originalEndTimeZone"
                    | "type"
            )
        {
            continue;
        }
        let Some(canon) = WRITABLE.iter().find(|w| w.eq_ignore_ascii_case(k)) else {
            if matches!(
                k.as_str(),
                "iCalUId"
                    | "changeKey"
                    | "createdDateTime"
                    | "lastModifiedDateTime"
                    | "seriesMasterId"
                    | "organizer"
                    | "isOrganizer"
                    | "webLink"
                    | "bodyPreview"
            ) {
                continue;
            }
            return Err(GraphError::bad_request(
                "RequestBodyRead",
                format!(
                    "The property '{k}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
                ),
            ));
        };
        match *canon {
            "sensitivity"
                if !v.as_str().is_some_and(|s| {
                    ["normal", "personal", "private", "confidential"].contains(&s)
                }) =>
            {
                return Err(GraphError::bad_request(
                    "RequestBodyRead",
                    format!("Invalid sensitivity {v}."),
                ));
            }
            "showAs"
                if !v.as_str().is_some_and(|s| {
                    [
                        "unknown",
                        "free",
                        "tentative",
                        "busy",
                        "oof",
                        "workingElsewhere",
                    ]
                    .contains(&s)
                }) =>
            {
                return Err(GraphError::bad_request(
                    "RequestBodyRead",
                    format!("Invalid showAs {v}."),
                ));
            }
            "attendees" => {
                let ok = v.as_array().is_some_and(|a| {
                    a.iter().all(|x| {
                        x.pointer("/emailAddress/address")
                            .and_then(Value::as_str)
                            .is_some()
                    })
                });
                if !ok {
                    return Err(GraphError::bad_request(
                        "ErrorInvalidRecipients",
                        "At least one recipient isn't valid.",
                    ));
                }
                let normalised: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        let mut a = a.clone();
                        if a.get("type").is_none_or(Value::is_null) {
                            a["type"] = json!("required");
                        }
                        if a.get("status").is_none_or(Value::is_null) {
                            a["status"] =
                                json!({"response": "none", "time": "0001-01-01T00:00:00Z"});
                        }
                        a
                    })
                    .collect();
                props.insert("attendees".into(), Value::Array(normalised));
                continue;
            }
            "body" => {
                let ct = v
                    .get("contentType")
                    .and_then(Value::as_str)
                    .unwrap_or("text")
                    .to_ascii_lowercase();
                props.insert("body".into(), json!({"contentType": ct, "content": v.get("content").and_then(Value::as_str).unwrap_or_default()}));
                continue;
            }
            _ => {}
        }
        props.insert((*canon).to_owned(), v.clone());
    }
    Ok(())
}

fn parse_times(
    body: &Map<String, Value>,
    all_day: bool,
) -> GResult<Option<(DateTime, DateTime, String)>> {
    let (Some(s), Some(e)) = (body.get("start"), body.get("end")) else {
        return Ok(None);
    };
    let bad = |m: String| GraphError::bad_request("ErrorPropertyValidationFailure", m);
    let (start, tz_name) = tz::parse_dtz(s).map_err(bad)?;
    let (end, _) = tz::parse_dtz(e).map_err(bad)?;
    if end < start {
        return Err(GraphError::bad_request(
            "ErrorPropertyValidationFailure",
            "The end time must be after the start time.",
        ));
    }
    if all_day
        && (start.time() != Time::midnight() || end.time() != Time::midnight() || end == start)
    {
        return Err(GraphError::bad_request(
            "ErrorPropertyValidationFailure",
            "Your request can't be completed. If the event is an all-day event, the start time and end time must be set to midnight and be in the same time zone.",
        ));
    }
    Ok(Some((start, end, tz_name)))
}

pub(super) fn create_event(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let view = ctx.req.view();
    // transactionId: a retried create returns the event created the first time
    if let Some(tx) = body.get("transactionId").and_then(Value::as_str) {
        let mb = mbx(ctx.t, ui)?;
        if let Some(ev) = mb
            .events
            .values()
            .find(|e| e.props.get("transactionId").and_then(Value::as_str) == Some(tx))
        {
            return Ok(Resp::created(render_event(ev, None, &view)));
        }
    }
    let all_day = body
        .get("isAllDay")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (start, end, tz_name) = parse_times(&body, all_day)?.ok_or_else(|| {
        GraphError::bad_request(
            "ErrorPropertyValidationFailure",
            "Your request can't be completed. The Start and End properties are required.",
        )
    })?;
    let recurrence = match body.get("recurrence") {
        Some(r) if !r.is_null() => {
            tz::validate_recurrence(r)
                .map_err(|m| GraphError::bad_request("ErrorPropertyValidationFailure", m))?;
            Some(r.clone())
        }
        _ => None,
    };
    let mut props = Map::new();
    apply_props(&mut props, &body)?;
    let owner = &ctx.t.users[ui];
    props.insert(
        "organizer".into(),
        recipient(
            &owner.display_name,
            owner.mail.as_deref().unwrap_or_default(),
        ),
    );
    props.insert("isOrganizer".into(), json!(true));
    props.insert(
        "responseStatus".into(),
        json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
    );
    let mut ext = Vec::new();
    merge_ext(&body, &mut ext)?;
    let seq = ctx.next_seq();
    let now = Timestamp::now();
    let Tenant { rng, .. } = &mut *ctx.t;
    props.insert("iCalUId".into(), json!(ical_uid(rng)));
    let ev = Event {
        imm: ids::immutable_id(rng),
        rest: ids::rest_id(rng),
        seq,
        created: now,
        modified: now,
        start,
        end,
        tz: tz_name,
        all_day,
        recurrence,
        exceptions: Default::default(),
        props,
        ext,
    };
    let imm = ev.imm.clone();
    insert_event(ctx.t, ui, ev);
    sync_copies(ctx.t, ui, &imm, seq);
    let mb = mbx(ctx.t, ui)?;
    let ev = mb.events.get(&imm).ok_or_else(GraphError::item_not_found)?;
    Ok(Resp::created(render_event(ev, None, &view)))
}

pub(super) fn insert_event(t: &mut Tenant, ui: usize, ev: Event) {
    if let Some(mb) = t.users[ui].mailbox.as_mut() {
        mb.rest_index.insert(ev.rest.clone(), ev.imm.clone());
        mb.events.insert(ev.imm.clone(), ev);
    }
}

pub(super) fn patch_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
    let body = ctx.req.json()?;
    let view = ctx.req.view();
    let (imm, date) = resolve(mbx(ctx.t, ui)?, id)?;
    let seq = ctx.next_seq();
    let mb = ctx.t.users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let ev = mb
        .events
        .get_mut(&imm)
        .ok_or_else(GraphError::item_not_found)?;
    let exc_seq = date
        .as_ref()
        .and_then(|d| ev.exceptions.get(d))
        .map_or(0, |e| e.seq);
    ctx.req.check_etag(ev.seq.max(exc_seq))?;
    match &date {
        Some(d) => {
            // modifying one occurrence makes it an exception
            let mut exc = ev.exceptions.get(d).cloned().unwrap_or_default();
            if let Some((s, e, zone)) = parse_times(&body, ev.all_day)? {
                exc.start = Some(tz::from_utc(tz::to_utc(s, &zone), &ev.tz));
                exc.end = Some(tz::from_utc(tz::to_utc(e, &zone), &ev.tz));
            }
            let mut props = exc.props.clone();
            apply_props(&mut props, &body)?;
            exc.props = props;
            exc.seq = seq;
            ev.exceptions.insert(d.clone(), exc);
        }
        None => {
            let all_day = body
                .get("isAllDay")
                .and_then(Value::as_bool)
                .unwrap_or(ev.all_day);
            if let Some((s, e, zone)) = parse_times(&body, all_day)? {
                ev.start = s;
                ev.end = e;
                ev.tz = zone;
            } else if all_day != ev.all_day {
                return Err(GraphError::bad_request(
                    "ErrorPropertyValidationFailure",
                    "Changing isAllDay requires start and end.",
                ));
            }
            ev.all_day = all_day;
            if let Some(r) = body.get("recurrence") {
                if r.is_null() {
                    ev.recurrence = None;
                    ev.exceptions.clear();
                } else {
                    tz::validate_recurrence(r).map_err(|m| {
                        GraphError::bad_request("ErrorPropertyValidationFailure", m)
                    })?;
                    ev.recurrence = Some(r.clone());
                }
            }
            let mut props = ev.props.clone();
            apply_props(&mut props, &body)?;
            ev.props = props;
            let mut ext = ev.ext.clone();
            merge_ext(&body, &mut ext)?;
            ev.ext = ext;
        }
    }
    ev.seq = seq;
    ev.modified = Timestamp::now();
    let organizer = ev
        .props
        .get("isOrganizer")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if organizer {
        sync_copies(ctx.t, ui, &imm, seq);
    }
    let mb = mbx(ctx.t, ui)?;
    let ev = mb.events.get(&imm).ok_or_else(GraphError::item_not_found)?;
    let inst = date.map(|d| inst_for(ev, &d));
    Ok(Resp::ok(render_event(ev, inst.as_ref(), &view)))
}

pub(super) fn delete_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
    let (imm, date) = resolve(mbx(ctx.t, ui)?, id)?;
    let seq = ctx.next_seq();
    let mb = ctx.t.users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let ev = mb
        .events
        .get_mut(&imm)
        .ok_or_else(GraphError::item_not_found)?;
    let organizer = ev
        .props
        .get("isOrganizer")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    match date {
        Some(d) => {
            ev.exceptions.insert(
                d,
                Exception {
                    cancelled: true,
                    seq,
                    ..Default::default()
                },
            );
            ev.seq = seq;
            if organizer {
                sync_copies(ctx.t, ui, &imm, seq);
            }
        }
        None => {
            let Some(ev) = mb.events.remove(&imm) else {
                return Err(GraphError::item_not_found());
            };
            mb.rest_index.remove(&ev.rest);
            if organizer {
                cancel_copies(
                    ctx.t,
                    ui,
                    ev.props
                        .get("iCalUId")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    seq,
                );
            }
        }
    }
    Ok(Resp::no_content())
}

pub(super) fn respond(ctx: &mut Ctx<'_>, ui: usize, id: &str, op: &str) -> GResult<Resp> {
    let (imm, _) = resolve(mbx(ctx.t, ui)?, id)?;
    let response = match op {
        "accept" => "accepted",
        "decline" => "declined",
        _ => "tentativelyAccepted",
    };
    let seq = ctx.next_seq();
    let me = ctx.t.users[ui].mail.clone().unwrap_or_default();
    let mb = ctx.t.users[ui]
        .mailbox
        .as_mut()
        .ok_or_else(GraphError::mailbox_not_enabled)?;
    let ev = mb
        .events
        .get_mut(&imm)
        .ok_or_else(GraphError::item_not_found)?;
    if ev
        .props
        .get("isOrganizer")
        .and_then(Value::as_bool)
        .unwrap_or(true)
    {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "Your request can't be completed. You can't respond to a meeting you organized.",
        ));
    }
    let now = ts(Timestamp::now());
    ev.props.insert(
        "responseStatus".into(),
        json!({"response": response, "time": now}),
    );
    ev.props.insert(
        "showAs".into(),
        json!(if response == "accepted" {
            "busy"
        } else if response == "declined" {
            "free"
        } else {
            "tentative"
        }),
    );
    ev.seq = seq;
    let ical = ev
        .props
        .get("iCalUId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // the organizer's copy records the response
    for u in ctx.t.users.iter_mut() {
        let Some(mb) = u.mailbox.as_mut() else {
            continue;
        };
        for e in mb.events.values_mut() {
            if e.props.get("iCalUId").and_then(Value::as_str) == Some(ical.as_str())
                && e.props
                    .get("isOrganizer")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                && let Some(atts) = e.props.get_mut("attendees").and_then(Value::as_array_mut)
            {
                for a in atts.iter_mut() {
                    if a.pointer("/emailAddress/address")
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(&me))
                    {
                        a["status"] = json!({"response": response, "time": now});
                    }
                }
                e.seq = seq;
            }
        }
    }
    Ok(Resp::accepted())
}
