//! Calendar: events (CRUD), `calendarView` (+ delta with the window fixed by the first call),
//! `instances`, recurrence with modified and cancelled occurrences, all-day events, time zones
//! (`Prefer: outlook.timezone`), meetings (every tenant attendee has an own copy with its own id
//! and the organizer's `iCalUId`), private events. Also the calendar seed.

use super::{Ctx, Resp, View, ext_props, merge_ext};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::people::{Directory, Person};
use crate::store::{Event, Exception, Mailbox, Tenant, recipient, ts};
use crate::tz;
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::{Date, DateTime, Time};
use jiff::{Timestamp, ToSpan};
use rand::Rng;
use rand_chacha::ChaCha20Rng;
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

/// One rendered instance: a single event, or an occurrence/exception of a series.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub master: String,
    /// Original start date of the occurrence (`None` for single events and masters).
    pub date: Option<String>,
    pub start: DateTime,
    pub end: DateTime,
}

impl Inst {
    fn key(&self) -> String {
        match &self.date {
            Some(d) => format!("{}|{d}", self.master),
            None => self.master.clone(),
        }
    }
}

pub(crate) fn calendar_id(user_id: &str) -> String {
    format!(
        "AAMkADcal{}AAA=",
        URL_SAFE_NO_PAD.encode(user_id.as_bytes())
    )
}

/// An Outlook-style GlobalObjectId (hex) with a zero instance date.
fn ical_uid(rng: &mut ChaCha20Rng) -> String {
    let mut data = [0u8; 24];
    rng.fill(&mut data);
    let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "040000008200E00074C5B7101A82E00800000000{}000000000000000010000000{}",
        &hex[..16],
        &hex[16..]
    )
}

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

fn mbx(t: &Tenant, ui: usize) -> GResult<&Mailbox> {
    t.users[ui]
        .mailbox
        .as_ref()
        .ok_or_else(GraphError::mailbox_not_enabled)
}

// ---------- expansion ----------

fn utc_range(ev: &Event, start: DateTime, end: DateTime) -> (Timestamp, Timestamp) {
    (tz::to_utc(start, &ev.tz), tz::to_utc(end, &ev.tz))
}

fn overlaps(ev: &Event, start: DateTime, end: DateTime, from: Timestamp, to: Timestamp) -> bool {
    let (s, e) = utc_range(ev, start, end);
    if s == e {
        s >= from && s < to
    } else {
        s < to && e > from
    }
}

/// Instances of `ev` (single event or series) overlapping [from, to).
pub(crate) fn expand(ev: &Event, from: Timestamp, to: Timestamp) -> Vec<Inst> {
    let Some(rec) = &ev.recurrence else {
        return if overlaps(ev, ev.start, ev.end, from, to) {
            vec![Inst {
                master: ev.imm.clone(),
                date: None,
                start: ev.start,
                end: ev.end,
            }]
        } else {
            Vec::new()
        };
    };
    let len = tz::length(ev.start, ev.end);
    let until = tz::from_utc(to, &ev.tz)
        .date()
        .checked_add(1.days())
        .unwrap_or(Date::MAX);
    let mut out = Vec::new();
    for d in tz::occurrence_dates(rec, until) {
        let key = d.to_string();
        let exc = ev.exceptions.get(&key);
        if exc.is_some_and(|e| e.cancelled) {
            continue;
        }
        let start = exc
            .and_then(|e| e.start)
            .unwrap_or_else(|| d.to_datetime(ev.start.time()));
        let end = exc
            .and_then(|e| e.end)
            .unwrap_or_else(|| start.checked_add(len).unwrap_or(start));
        if overlaps(ev, start, end, from, to) {
            out.push(Inst {
                master: ev.imm.clone(),
                date: Some(key),
                start,
                end,
            });
        }
    }
    out
}

// ---------- rendering ----------

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

// ---------- routing ----------

pub(crate) fn route(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let user = ctx.req.segs[1].clone();
    let ui = ctx.mailbox_index(&user)?;
    let cal_id = calendar_id(&ctx.t.users[ui].id);
    let mut s: Vec<&str> = s[2..].to_vec();
    let mut o: Vec<String> = ctx.req.segs[2..].to_vec();
    // /calendar/… and /calendars/{id}/… address the (only) default calendar
    if s.first() == Some(&"calendar") && s.len() > 1 {
        s.remove(0);
        o.remove(0);
    } else if s.first() == Some(&"calendars") && s.len() > 2 {
        if o[1] != cal_id {
            return Err(GraphError::item_not_found());
        }
        s.drain(0..2);
        o.drain(0..2);
    }
    let m = ctx.req.method.clone();
    match (s.as_slice(), m) {
        (["calendar"], Method::GET) => Ok(Resp::ok(render_calendar(ctx, ui))),
        (["calendars"], Method::GET) => {
            let v = render_calendar(ctx, ui);
            ctx.page("Collection(microsoft.graph.calendar)", vec![v], 10, 1000)
        }
        (["calendars", _], Method::GET) => {
            if o[1] != cal_id {
                return Err(GraphError::item_not_found());
            }
            Ok(Resp::ok(render_calendar(ctx, ui)))
        }
        (["events"], Method::GET) => list_events(ctx, ui),
        (["events"], Method::POST) => create_event(ctx, ui),
        (["calendarview"], Method::GET) => calendar_view(ctx, ui),
        (["calendarview", "delta"], Method::GET) => view_delta(ctx, ui),
        (["events", _], Method::GET) => get_event(ctx, ui, &o[1]),
        (["events", _], Method::PATCH) => patch_event(ctx, ui, &o[1]),
        (["events", _], Method::DELETE) => delete_event(ctx, ui, &o[1]),
        (["events", _, "instances"], Method::GET) => instances(ctx, ui, &o[1]),
        (["events", _, "cancel"], Method::POST) => delete_event(ctx, ui, &o[1]),
        (
            [
                "events",
                _,
                op @ ("accept" | "decline" | "tentativelyaccept"),
            ],
            Method::POST,
        ) => respond(ctx, ui, &o[1], op),
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

fn render_calendar(ctx: &Ctx<'_>, ui: usize) -> Value {
    let u = &ctx.t.users[ui];
    json!({
        "id": calendar_id(&u.id),
        "name": "Calendar",
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": true,
        "changeKey": ids::change_key(1),
        "canShare": true,
        "canViewPrivateItems": true,
        "canEdit": true,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": true,
        "isRemovable": false,
        "owner": {"name": u.display_name, "address": u.mail},
    })
}

fn window(ctx: &Ctx<'_>) -> GResult<(Timestamp, Timestamp)> {
    let missing = || {
        GraphError::bad_request(
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )
    };
    let s = ctx.req.q("startDateTime").ok_or_else(missing)?;
    let e = ctx.req.q("endDateTime").ok_or_else(missing)?;
    let parse = |v: &str| {
        tz::parse_instant(v).ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidParameter",
                format!("The value '{v}' of parameter 'StartDateTime/EndDateTime' is invalid."),
            )
        })
    };
    let (s, e) = (parse(s)?, parse(e)?);
    if e <= s {
        return Err(GraphError::bad_request(
            "ErrorInvalidParameter",
            "EndDateTime must be after StartDateTime.",
        ));
    }
    Ok((s, e))
}

/// Resolves an event id (either format, or an occurrence id) to (master imm, occurrence date).
fn resolve(mb: &Mailbox, id: &str) -> GResult<(String, Option<String>)> {
    if let Some((master, date)) = ids::parse_occurrence_id(id) {
        let imm = mb.resolve(&master);
        let ev = mb.events.get(&imm).ok_or_else(GraphError::item_not_found)?;
        let d: Date = date.parse().map_err(|_| GraphError::malformed_id())?;
        let ok = ev
            .recurrence
            .as_ref()
            .is_some_and(|r| tz::occurrence_dates(r, d).last() == Some(&d))
            && !ev.exceptions.get(&date).is_some_and(|e| e.cancelled);
        if !ok {
            return Err(GraphError::item_not_found());
        }
        return Ok((imm, Some(date)));
    }
    let imm = mb.resolve(id);
    if mb.events.contains_key(&imm) {
        Ok((imm, None))
    } else {
        Err(GraphError::item_not_found())
    }
}

fn inst_for(ev: &Event, date: &str) -> Inst {
    let d = date.parse::<Date>().unwrap_or(ev.start.date());
    let exc = ev.exceptions.get(date);
    let start = exc
        .and_then(|e| e.start)
        .unwrap_or_else(|| d.to_datetime(ev.start.time()));
    let end = exc.and_then(|e| e.end).unwrap_or_else(|| {
        start
            .checked_add(tz::length(ev.start, ev.end))
            .unwrap_or(start)
    });
    Inst {
        master: ev.imm.clone(),
        date: Some(date.to_owned()),
        start,
        end,
    }
}

fn get_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let (imm, date) = resolve(mb, id)?;
    let ev = mb.events.get(&imm).ok_or_else(GraphError::item_not_found)?;
    let view = ctx.req.view();
    let inst = date.map(|d| inst_for(ev, &d));
    Ok(Resp::ok(view.apply_select(render_event(
        ev,
        inst.as_ref(),
        &view,
    ))))
}

fn sorted_events(mb: &Mailbox) -> Vec<&Event> {
    let mut v: Vec<&Event> = mb.events.values().collect();
    v.sort_by(|a, b| {
        tz::to_utc(a.start, &a.tz)
            .cmp(&tz::to_utc(b.start, &b.tz))
            .then(a.imm.cmp(&b.imm))
    });
    v
}

fn list_events(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let mb = mbx(ctx.t, ui)?;
    let view = ctx.req.view();
    let fview = View {
        expand: Some("singleValueExtendedProperties".into()),
        select: None,
        ..view.clone()
    };
    let filter = ctx.req.filter()?;
    let items: Vec<Value> = sorted_events(mb)
        .into_iter()
        .filter(|e| {
            filter
                .as_ref()
                .is_none_or(|f| crate::filter::eval(f, &render_event(e, None, &fview)))
        })
        .map(|e| render_event(e, None, &view))
        .collect();
    let mut req = ctx.req.clone();
    req.query
        .retain(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("filter"));
    let sub = Ctx {
        shared: ctx.shared,
        t: ctx.t,
        req: &req,
    };
    sub.page("Collection(microsoft.graph.event)", items, 10, 1000)
}

fn view_items(mb: &Mailbox, from: Timestamp, to: Timestamp) -> Vec<(&Event, Inst)> {
    let mut out: Vec<(&Event, Inst)> = Vec::new();
    for ev in mb.events.values() {
        for i in expand(ev, from, to) {
            out.push((ev, i));
        }
    }
    out.sort_by(|(a, ia), (b, ib)| {
        tz::to_utc(ia.start, &a.tz)
            .cmp(&tz::to_utc(ib.start, &b.tz))
            .then(ia.key().cmp(&ib.key()))
    });
    out
}

fn calendar_view(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let (from, to) = window(ctx)?;
    let mb = mbx(ctx.t, ui)?;
    let view = ctx.req.view();
    let filter = ctx.req.filter()?;
    let items: Vec<Value> = view_items(mb, from, to)
        .into_iter()
        .map(|(e, i)| render_event(e, Some(&i), &view))
        .filter(|v| filter.as_ref().is_none_or(|f| crate::filter::eval(f, v)))
        .collect();
    let mut req = ctx.req.clone();
    req.query
        .retain(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("filter"));
    let sub = Ctx {
        shared: ctx.shared,
        t: ctx.t,
        req: &req,
    };
    sub.page("Collection(microsoft.graph.event)", items, 10, 1000)
}

fn instances(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
    let (from, to) = window(ctx)?;
    let mb = mbx(ctx.t, ui)?;
    let (imm, _) = resolve(mb, id)?;
    let ev = mb.events.get(&imm).ok_or_else(GraphError::item_not_found)?;
    if ev.recurrence.is_none() {
        return Err(GraphError::bad_request(
            "ErrorInvalidRequest",
            "The specified event is not a series master.",
        ));
    }
    let view = ctx.req.view();
    let items: Vec<Value> = expand(ev, from, to)
        .iter()
        .map(|i| render_event(ev, Some(i), &view))
        .collect();
    ctx.page("Collection(microsoft.graph.event)", items, 10, 1000)
}

fn view_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
    let uid = ctx.t.users[ui].id.clone();
    // the window is fixed by the first call and carried by the tokens
    let scope = match ctx.req.q("skiptoken").or_else(|| ctx.req.q("deltatoken")) {
        Some(tok) => match delta::token_scope(ctx.shared, tok) {
            Some(s) => s,
            None => return Err(GraphError::sync_state_not_found()),
        },
        None => {
            let (from, to) = window(ctx)?;
            format!("{uid}:calendarView:{}:{}", from.as_second(), to.as_second())
        }
    };
    let mut parts = scope.rsplitn(3, ':');
    let to = parts
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok());
    let from = parts
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok());
    let (Some(from), Some(to)) = (from, to) else {
        return Err(GraphError::sync_state_not_found());
    };
    if !scope.starts_with(&uid) {
        return Err(GraphError::sync_state_not_found());
    }
    let list = move |t: &Tenant| -> Vec<Listed> {
        let Some(mb) = t.users[ui].mailbox.as_ref() else {
            return Vec::new();
        };
        view_items(mb, from, to)
            .into_iter()
            .map(|(e, i)| {
                let exc_seq = i
                    .date
                    .as_ref()
                    .and_then(|d| e.exceptions.get(d))
                    .map_or(0, |x| x.seq);
                let (imm, rest) = match &i.date {
                    Some(d) => (
                        ids::occurrence_id(&e.imm, d),
                        ids::occurrence_id(&e.rest, d),
                    ),
                    None => (e.imm.clone(), e.rest.clone()),
                };
                Listed {
                    key: i.key(),
                    imm,
                    rest,
                    fp: e.seq.max(exc_seq),
                }
            })
            .collect()
    };
    let render = move |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        let mb = t.users[ui].mailbox.as_ref()?;
        let (master, date) = match l.key.split_once('|') {
            Some((m, d)) => (m.to_owned(), Some(d.to_owned())),
            None => (l.key.clone(), None),
        };
        let ev = mb.events.get(&master)?;
        match date {
            Some(d) => {
                let inst = expand(ev, from, to)
                    .into_iter()
                    .find(|i| i.date.as_deref() == Some(d.as_str()))?;
                Some(render_event(ev, Some(&inst), view))
            }
            None => {
                let inst = expand(ev, from, to).into_iter().next()?;
                Some(render_event(ev, Some(&inst), view))
            }
        }
    };
    delta::run(
        ctx,
        Collection {
            scope,
            odata_type: "#microsoft.graph.event",
            default_page: 10,
            max_page: 1000,
            directory: false,
            list: &list,
            render: &render,
            initial_query: Vec::new(),
        },
    )
}

// ---------- writes ----------

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

fn create_event(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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

fn insert_event(t: &mut Tenant, ui: usize, ev: Event) {
    if let Some(mb) = t.users[ui].mailbox.as_mut() {
        mb.rest_index.insert(ev.rest.clone(), ev.imm.clone());
        mb.events.insert(ev.imm.clone(), ev);
    }
}

fn patch_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
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

fn delete_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
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

fn respond(ctx: &mut Ctx<'_>, ui: usize, id: &str, op: &str) -> GResult<Resp> {
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

/// Brings every tenant attendee's copy of the organizer's event `imm` up to date: creates copies
/// for new attendees (own ids, same iCalUId), updates existing ones, cancels removed ones.
fn sync_copies(t: &mut Tenant, organizer_ui: usize, imm: &str, seq: u64) {
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
fn cancel_copies(t: &mut Tenant, organizer_ui: usize, ical: &str, seq: u64) {
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

// ---------- seed ----------

const ZONES: &[&str] = &[
    "W. Europe Standard Time",
    "GMT Standard Time",
    "Eastern Standard Time",
    "Pacific Standard Time",
    "Tokyo Standard Time",
    "Romance Standard Time",
];

fn attendee(p: &Person, kind: &str) -> Value {
    json!({"type": kind, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"name": p.display_name, "address": p.email}})
}

fn html(text: &str) -> Value {
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

/// Adds one single event in UTC to user `ui`'s calendar, organised by the user with `guest`
/// as required attendee (the migrated tenant's events, see `migrated`). Returns `(immutable
/// id, REST id, iCalUId)`.
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
