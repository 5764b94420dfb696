//! Deletions on the calendar side: an event gone from the calendar (or cancelled by its
//! organizer) and what it does to its appointment, and an event whose appointment was deleted
//! in CRM. Both weigh the same rules (`sync_deletions`, the deletion window, other copies of
//! the meeting), kept apart from what is written for an event that is there.

use gc_store::{CrmId, LinkState};

use super::{Decision, Input, is_intent};
use crate::appointments::model::CalEvent;
use crate::appointments::series;

/// The event's appointment is marked deleted in CRM (or, for an event the connector wrote
/// from it, gone from CRM). The organizer's copy (with CRM →
/// Microsoft 365 and within the deletion rules) is deleted: the meeting was deleted in CRM
/// before this copy was ever linked (a linked one hears of it from the CRM side). Any other
/// copy is left to the organizer's cancellation; nothing is brought back.
pub(super) fn deleted_in_crm(
    i: &Input<'_>,
    ev: &CalEvent,
    id: CrmId,
    start: Option<jiff::Timestamp>,
    what: &str,
) -> Decision {
    let keep = |why: &str| Decision::CloseLink {
        id: Some(id),
        reason: format!("the appointment {what}; {why}"),
    };
    let linked = i
        .link
        .is_some_and(|l| l.crm_id == Some(id) && l.state == LinkState::Active);
    if linked || !ev.is_organizer || !i.rules.crm_to_microsoft365() {
        return keep("it is not brought back");
    }
    if !i.rules.sync_deletions {
        return keep(
            "the event stays: deletions are not propagated ([appointments] sync_deletions = false)",
        );
    }
    let days = i64::from(i.rules.deletion_window_days);
    if start.is_some_and(|s| (s.as_second() - i.now.as_second()).abs() > days * 86_400) {
        return keep(&format!(
            "the event stays: it starts more than {days} days from now ([appointments] deletion_window_days)"
        ));
    }
    Decision::DeleteEvent {
        event_id: ev.id.clone(),
        crm_id: Some(id),
        reason: format!("the appointment {what}: the event is deleted from the calendar"),
    }
}

/// The event is gone (deleted, or `cancelled` by its organizer).
pub(super) fn deletion(i: Input<'_>, cancelled: bool) -> Decision {
    let id = i.facts.existing.as_ref().map(|a| a.id);
    let what = if i.facts.occurrence_cancelled {
        "the occurrence was cancelled in its series"
    } else if i.facts.series_gone {
        "the series was deleted in Microsoft 365"
    } else if cancelled {
        "the meeting was cancelled"
    } else {
        "the event was deleted in Microsoft 365"
    };
    // A master record has no one start: it follows its series, whatever the series' first
    // date (the deletion window applies to the occurrences' records).
    let master = i
        .facts
        .existing
        .as_ref()
        .is_some_and(|a| series::is_master_record(a, i.rules));
    let Some(id) = id else {
        return match i.link.and_then(|l| l.crm_id) {
            Some(id) => Decision::CloseLink {
                id: Some(id),
                reason: format!("{what}; the appointment no longer exists in CRM"),
            },
            // The write the intent announced made nothing: the intent is closed (it would
            // otherwise hold this mailbox's new CRM appointments, see `crm_source`).
            None if is_intent(i.link) => Decision::CloseLink {
                id: None,
                reason: format!(
                    "{what} before an interrupted write of it to CRM was finished; CRM has no appointment for it"
                ),
            },
            None => Decision::Nothing,
        };
    };
    let close = |why: &str| Decision::CloseLink {
        id: Some(id),
        reason: format!("{what}; {why}"),
    };
    let dl = &i.rules.dialect;
    if i.facts
        .existing
        .as_ref()
        .and_then(|a| a.fields.get(&dl.activity.deleted))
        .is_some_and(|v| dl.parse_bool(v))
    {
        // Another copy of the meeting (another rep's) marked it already.
        return close("the appointment is already marked ConnectorDeleted");
    }
    if !i.rules.sync_deletions {
        return close("deletions are not propagated ([appointments] sync_deletions = false)");
    }
    if !i.rules.delete_410 {
        return close("forms.xml's delete_sync_process_410 is off");
    }
    if let Some(start) = i.facts.existing.as_ref().and_then(|a| a.start)
        && !master
    {
        let days = i64::from(i.rules.deletion_window_days);
        let dist = (start.as_second() - i.now.as_second()).abs();
        if dist > days * 86_400 {
            return close(&format!(
                "it starts more than {days} days from now ([appointments] deletion_window_days)"
            ));
        }
    }
    if !cancelled && i.facts.other_links > 0 {
        return close(&format!(
            "only this mailbox's copy is gone; the meeting stays in {} other synced calendar(s)",
            i.facts.other_links
        ));
    }
    Decision::SoftDelete {
        id,
        reason: format!("{what}: the appointment is marked ConnectorDeleted"),
    }
}
