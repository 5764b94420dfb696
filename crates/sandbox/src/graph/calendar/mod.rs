//! Calendar: events (CRUD), `calendarView` (+ delta with the window fixed by the first call),
//! `instances`, recurrence with modified and cancelled occurrences, all-day events, time zones
//! (`Prefer: outlook.timezone`), meetings (every tenant attendee has an own copy with its own id
//! and the organizer's `iCalUId`), private events. Also the calendar seed.
//!
//! This file routes a request and holds what the parts share: the instance type, the calendar's
//! id, new iCalUIds, the mailbox lookup. The parts, one concern each: `recurrence` (a series
//! expanded into its instances, an occurrence id resolved), `render` (an event or one of its
//! instances as Graph's JSON), `reads` (list, get, `calendarView` and its delta, `instances`),
//! `writes` (create, PATCH, DELETE and `cancel`, an attendee's response), `meetings` (the
//! attendees' copies of an organizer's event), `seed` (every mailbox's calendar at startup) and
//! `added` (events added later on request: generated for load tests, the migrated tenant's).

mod added;
mod meetings;
mod reads;
mod recurrence;
mod render;
mod seed;
mod writes;

pub(crate) use added::{add_absence_event, add_single_event, generate_events};
pub(crate) use recurrence::expand;
pub(crate) use render::render_event;
pub(crate) use seed::seed_events;

use reads::{calendar_view, get_event, instances, list_events, view_delta};
use writes::{create_event, delete_event, patch_event, respond};

use super::{Ctx, Resp};
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::store::{Mailbox, Tenant};
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::DateTime;
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use serde_json::{Value, json};

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

fn mbx(t: &Tenant, ui: usize) -> GResult<&Mailbox> {
    t.users[ui]
        .mailbox
        .as_ref()
        .ok_or_else(GraphError::mailbox_not_enabled)
}

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
