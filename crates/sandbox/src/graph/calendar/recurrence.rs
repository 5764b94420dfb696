//! Recurrence: the instances of an event (a single event, or a series' occurrences and
//! exceptions, cancelled ones left out) that overlap a time range, and an event id (of either
//! format, or an occurrence's) resolved to its series and occurrence date. Apart from the
//! endpoints because reads, writes and rendering all work on these instances.

use super::Inst;
use crate::error::{GResult, GraphError};
use crate::ids;
use crate::store::{Event, Mailbox};
use crate::tz;
use jiff::civil::{Date, DateTime};
use jiff::{Timestamp, ToSpan};

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

/// Resolves an event id (either format, or an occurrence id) to (master imm, occurrence date).
pub(super) fn resolve(mb: &Mailbox, id: &str) -> GResult<(String, Option<String>)> {
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

pub(super) fn inst_for(ev: &Event, date: &str) -> Inst {
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
