//! The CRM source of the appointments kind: the rep's CRM appointments in the window, read
//! whole on a full walk (which reconciles: appointments deleted in CRM are found by what the
//! walk did not see) and between full walks only those changed since the newest update stamp
//! seen. Each appointment is handed on with this mailbox's link to it, so that a change of a
//! linked appointment is worked under its event's key, like the calendar's changes of it.
//!
//! A series' master record linked in this mailbox is handed on as its series master instead
//! when the master changed since the record was written, and as the master's removal when the
//! master is gone: the calendarView delta reports occurrences, never masters, so a series with
//! no occurrence left in the window (all cancelled) would otherwise never bring an edit of its
//! master (its subject, say), or its deletion, to CRM. This costs one Graph read per linked
//! master record the walk sees (a full walk: those dated in the window).

use std::sync::atomic::Ordering;

use gc_store::{Kind, LinkState};
use jiff::Timestamp;

use crate::appointments::kind::{AppointmentKind, AppointmentRun, scope};
use crate::appointments::model::{CalEvent, CrmAppointment, CrmItem, EventChange, When};
use crate::appointments::ports::CrmWindow;
use crate::appointments::series;
use crate::crm_checkpoint::CrmCheckpoint;
use crate::engine::commit::round_stored;
use crate::engine::{Page, RunCx};
use crate::error::{ErrorClass, PortError, store_error};

/// The CRM source's cursor scope.
pub const CRM_SCOPE: &str = "crm";

/// Whether the connector writes this appointment to calendars: it passes forms.xml's
/// VeventFilter (when there is one) and `[appointments] types`, and is not marked deleted.
pub fn in_scope(kind: &AppointmentKind, a: &CrmAppointment) -> bool {
    let rules = &kind.rules;
    let dl = &rules.dialect;
    let d = &dl.activity;
    let deleted = a.fields.get(&d.deleted).is_some_and(|v| dl.parse_bool(v));
    let filter = rules
        .vevent_filter
        .as_ref()
        .is_none_or(|c| gc_crm::forms::evaluate(c, &d.table, &a.fields));
    let typed = a
        .fields
        .get(&d.contact_type)
        .is_none_or(|t| t.trim().is_empty() || rules.type_synced(t));
    !deleted && filter && typed
}

/// One page (the whole window, or what changed in it) of the rep's CRM appointments.
pub async fn page(
    kind: &AppointmentKind,
    cx: &RunCx<'_>,
    run: &AppointmentRun,
    checkpoint: Option<&str>,
) -> Result<Page<EventChange>, PortError> {
    let now = Timestamp::now();
    let stamped = !kind.rules.dialect.activity.updated.is_empty();
    let previous = match checkpoint {
        None => None,
        Some(c) => match CrmCheckpoint::decode(c) {
            Some(cp)
                if stamped && !cp.full_walk_due(now, run.crm_to, kind.rules.full_walk_every) =>
            {
                Some(cp)
            }
            _ => {
                // The engine walks from the start again, and reconciles.
                return Err(PortError::new(
                    ErrorClass::SyncStateExpired,
                    "the CRM appointments are due for a full walk of the window",
                ));
            }
        },
    };
    let window = CrmWindow {
        rep_number: cx.target.owner.rep_number.clone(),
        from: run.crm_from,
        to: run.crm_to,
        since: previous.as_ref().and_then(|p| p.since.clone()),
        fields: kind.rules.read_fields(),
    };
    let found = kind.crm.appointments(cx.rep(), &window).await?;
    let (hold_new, resolve) = settle(kind, cx, run).await?;
    let next = next_checkpoint(previous.as_ref(), &found, hold_new, now, run.crm_to);
    let resolve = kind.with_masters(cx, run, resolve).await?;
    let mut changes = Vec::with_capacity(found.len() + resolve.len());
    changes.extend(resolve);
    for appointment in found {
        let link = cx
            .store
            .links_by_crm_id(Kind::Appointment, appointment.id)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|l| l.mailbox == cx.mailbox() && !l.graph_id.starts_with("crm:"))
            // An active link before a closed one (a meeting may have been linked twice).
            .min_by_key(|l| l.state != LinkState::Active);
        if series::is_master_record(&appointment, &kind.rules)
            && let Some(l) = link.as_ref().filter(|l| l.state == LinkState::Active)
        {
            match kind.master(cx.user(), run, &l.graph_id).await? {
                // Changed since its record was written: worked as the calendar's change of
                // it (as an occurrence's change would have it worked).
                Some(master) if series::master_behind(Some(l), &master) => {
                    changes.push(EventChange::Event(Box::new(master)));
                    continue;
                }
                // Gone (the series was deleted; not merely no longer a series): its removal,
                // by the deletion rules.
                None if kind.graph.event(cx.user(), &l.graph_id).await?.is_none() => {
                    changes.push(EventChange::Removed {
                        id: l.graph_id.clone(),
                    });
                    continue;
                }
                _ => {}
            }
        }
        let linked = link.map(|l| (l.graph_id, l.global_key));
        changes.push(EventChange::Crm(Box::new(CrmItem {
            in_scope: in_scope(kind, &appointment),
            appointment,
            linked,
            hold_new,
        })));
    }
    Ok(Page {
        changes,
        next: None,
        // Without an update stamp there is nothing to resume from: every run walks the whole
        // window (and reconciles).
        done: stamped.then(|| next.encode()),
    })
}

/// The checkpoint after this page. While new records are held (`hold_new`), the update stamp
/// does not move: a held record is decided as nothing this run, so a stamp past it would leave
/// it to the next full walk (an hour later by default) instead of the next run, which reads it
/// again once the interrupted write is settled. Reading a record twice is harmless: its link
/// says it is done.
fn next_checkpoint(
    previous: Option<&CrmCheckpoint>,
    found: &[CrmAppointment],
    hold_new: bool,
    now: Timestamp,
    window_end: jiff::civil::Date,
) -> CrmCheckpoint {
    let stamps = found.iter().filter_map(|a| a.updated.as_deref());
    match previous {
        Some(p) if hold_new => p.clone(),
        Some(p) => CrmCheckpoint {
            since: p.advance(stamps),
            ..p.clone()
        },
        None => CrmCheckpoint {
            since: if hold_new {
                None
            } else {
                stamps.max().map(str::to_owned)
            },
            full_walk: now,
            window_end,
        },
    }
}

/// The links whose event this run must look at itself, because no calendar delta may ever
/// report what happened to it:
///
/// - **intents**: interrupted writes of events to CRM in this mailbox (no CRM id yet). They
///   may have left a record this mailbox cannot name yet, so new CRM records are held for
///   this run (`hold_new`: they might be that record) while one's event still exists.
/// - **unconfirmed events**: events written from CRM that the calendar has not reported yet
///   (linked without an event hash). Normally the calendar walk of the same run confirms
///   them; when that run was cut off first, the next delta starts from before the create.
/// - **links written after the calendar's checkpoint** (once per run): a calendar round that
///   linked or confirmed events and never stored its own checkpoint (cut off, or an item of
///   its page delayed) leaves the next delta to start from the round before. An event
///   created in between and deleted before that delta is reported neither created nor
///   removed (m42-42 of the model test: written from CRM, confirmed, edited from CRM, then
///   deleted by the user). The calendar's round stores its checkpoint after every write of
///   the round, so after a complete run there are none.
///
/// A calendar delta need not report the removal of an event it never reported, so when the
/// user deletes such an event before a run gets to it, only reading it by id tells. An
/// intent's event still there is handed on as the calendar would report it (the write
/// completes); a new event still there is left unconfirmed for the calendar to report; one
/// that is gone is handed on as vanished: the deletion follows the record (the intent's, found
/// by the meeting key; the unconfirmed link's own), and an intent that made nothing is closed.
/// Without this, such an intent would hold this mailbox's new CRM appointments forever, and
/// such a deletion would never reach CRM. The CRM source settles at its page (it runs first);
/// with `direction = "microsoft365_to_crm"` the calendar source does, at each of its pages.
pub(crate) async fn settle(
    kind: &AppointmentKind,
    cx: &RunCx<'_>,
    run: &AppointmentRun,
) -> Result<(bool, Vec<EventChange>), PortError> {
    let since = if run.settled_since.swap(true, Ordering::Relaxed) {
        None
    } else {
        round_stored(cx, &scope(run.start, run.end)).await?
    };
    let intents: Vec<_> = cx
        .store
        .unsettled_links(cx.mailbox(), Kind::Appointment, since)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|l| !l.graph_id.starts_with("crm:"))
        .collect();
    let mut hold_new = false;
    let mut changes = Vec::with_capacity(intents.len());
    for link in intents {
        match kind.graph.event(cx.user(), &link.graph_id).await? {
            // An intent's event: its write is completed as the calendar would report it,
            // whether or not a delta reports it again.
            Some(ev) if link.crm_id.is_none() => {
                hold_new = true;
                changes.push(EventChange::Event(Box::new(ev)));
            }
            // A new event still there stays unconfirmed until the calendar reports it: only
            // then is its later removal sure to be reported too. One outside the window never
            // will be (nor its removal): it is confirmed as it is.
            Some(ev) if !within(&ev, run.start, run.end) => {
                changes.push(EventChange::Event(Box::new(ev)))
            }
            Some(_) => {}
            None => changes.push(EventChange::Vanished(Box::new(link))),
        }
    }
    Ok((hold_new, changes))
}

/// Whether the event overlaps the window `[from, to)` (all-day dates in UTC, as the window's
/// days); an event with unreadable times is left to the calendar.
fn within(ev: &CalEvent, from: Timestamp, to: Timestamp) -> bool {
    match ev.when.as_ref().ok().and_then(When::instants) {
        Some((start, end)) => end > from && start < to,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_update_stamp_stays_while_new_records_are_held() {
        let stamped = |s: &str| CrmAppointment {
            updated: Some(s.into()),
            ..crate::appointments::content::tests::crm(&[])
        };
        let found = [
            stamped("2026-05-04T08:00:00.000Z"),
            stamped("2026-05-04T09:00:00.000Z"),
        ];
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let end = jiff::civil::date(2026, 5, 22);
        let before = CrmCheckpoint {
            since: Some("2026-05-04T07:00:00.000Z".into()),
            full_walk: Timestamp::from_second(1_799_999_000).unwrap(),
            window_end: end,
        };
        let newest = Some("2026-05-04T09:00:00.000Z".to_owned());
        // Nothing held: the stamp moves to the newest record read.
        assert_eq!(
            next_checkpoint(Some(&before), &found, false, now, end).since,
            newest
        );
        assert_eq!(next_checkpoint(None, &found, false, now, end).since, newest);
        // Held: the next run reads the same records again (a full walk's: the whole window).
        assert_eq!(
            next_checkpoint(Some(&before), &found, true, now, end),
            before
        );
        let walked = next_checkpoint(None, &found, true, now, end);
        assert_eq!((walked.since, walked.full_walk), (None, now));
    }

    #[test]
    fn an_event_is_within_the_window_when_it_overlaps_it() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let (from, to) = (t("2026-05-01T00:00:00Z"), t("2026-05-22T00:00:00Z"));
        let mut ev = crate::appointments::decide::tests::ev();
        let timed = |a: &str, b: &str| When::Timed {
            start: t(a),
            end: t(b),
        };
        for (when, inside) in [
            (timed("2026-05-04T08:00:00Z", "2026-05-04T09:00:00Z"), true),
            (timed("2026-04-30T23:00:00Z", "2026-05-01T01:00:00Z"), true),
            (timed("2026-04-30T08:00:00Z", "2026-05-01T00:00:00Z"), false),
            (timed("2026-05-22T00:00:00Z", "2026-05-22T01:00:00Z"), false),
            (
                When::AllDay {
                    start: "2026-05-21".parse().unwrap(),
                    end: "2026-05-22".parse().unwrap(),
                },
                true,
            ),
            (
                When::AllDay {
                    start: "2026-04-29".parse().unwrap(),
                    end: "2026-05-01".parse().unwrap(),
                },
                false,
            ),
        ] {
            ev.when = Ok(when);
            assert_eq!(within(&ev, from, to), inside, "{when:?}");
        }
    }
}
