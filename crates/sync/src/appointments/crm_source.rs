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

use gc_store::{Kind, LinkState};
use jiff::Timestamp;

use crate::appointments::kind::{AppointmentKind, AppointmentRun};
use crate::appointments::model::{CrmAppointment, CrmItem, EventChange};
use crate::appointments::ports::CrmWindow;
use crate::appointments::series;
use crate::crm_checkpoint::CrmCheckpoint;
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
    let next = match &previous {
        Some(p) => CrmCheckpoint {
            since: p.advance(found.iter().filter_map(|a| a.updated.as_deref())),
            ..p.clone()
        },
        None => CrmCheckpoint {
            since: found.iter().filter_map(|a| a.updated.clone()).max(),
            full_walk: now,
            window_end: run.crm_to,
        },
    };
    let hold_new = unresolved_intent(cx).await?;
    let mut changes = Vec::with_capacity(found.len());
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

/// Whether an interrupted write of an event to CRM in this mailbox left a record it cannot
/// name yet (an intent without a CRM id).
async fn unresolved_intent(cx: &RunCx<'_>) -> Result<bool, PortError> {
    let mut after: Option<String> = None;
    loop {
        let links = cx
            .store
            .list_links(cx.mailbox(), Kind::Appointment, after.as_deref(), 500)
            .await
            .map_err(store_error)?;
        if links
            .iter()
            .any(|l| l.state == LinkState::Interrupted && l.crm_id.is_none())
        {
            return Ok(true);
        }
        match links.last() {
            Some(l) if links.len() == 500 => after = Some(l.graph_id.clone()),
            _ => return Ok(false),
        }
    }
}
