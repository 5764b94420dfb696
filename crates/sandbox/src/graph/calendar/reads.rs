//! Read endpoints: `events` (list, get), `calendarView`, `events/{id}/instances` and
//! `calendarView/delta` (the window fixed by the first call and carried in the tokens). Apart
//! from the writes because they only look at the calendar.

use super::recurrence::{inst_for, resolve};
use super::{Inst, expand, mbx, render_event};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::graph::{Ctx, Resp, View};
use crate::ids;
use crate::store::{Event, Mailbox, Tenant};
use crate::tz;
use jiff::Timestamp;
use serde_json::Value;

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

pub(super) fn get_event(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
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

pub(super) fn list_events(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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

pub(super) fn calendar_view(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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

pub(super) fn instances(ctx: &mut Ctx<'_>, ui: usize, id: &str) -> GResult<Resp> {
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

pub(super) fn view_delta(ctx: &mut Ctx<'_>, ui: usize) -> GResult<Resp> {
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
