//! The rules for the CRM side, without I/O: what a CRM appointment of the rep (or a linked
//! one a full walk no longer saw) does to the rep's calendar.
//!
//! The CRM side only writes when the event is as the link remembers it; an appointment whose
//! event changed too is left to the calendar side (which runs after it in every mailbox run
//! and meets the event's change), where the conflict rule decides with both versions at hand
//! ([`crate::appointments::conflict`]).

use crate::adopt::AdoptedBy;
use gc_store::{CrmId, Link, LinkState};
use serde_json::Value;

use crate::appointments::conflict::{Winner, conflict_detail, conflict_winner};
use crate::appointments::content::{self, Content};
use crate::appointments::decide::{Decision, Input, takes_crm_edits};
use crate::appointments::model::{CalEvent, CrmAppointment, CrmItem, EventChange};
use crate::appointments::rules::AppointmentRules;
use crate::appointments::series;
use crate::email::model::RepRef;
use crate::engine::Owner;

/// Whether the link ties this mailbox's event to an appointment and is in force.
pub fn linked_event(link: Option<&Link>) -> Option<&str> {
    link.filter(|l| l.state == LinkState::Active && l.crm_id.is_some())
        .map(|l| l.graph_id.as_str())
        .filter(|id| !id.starts_with("crm:"))
}

fn is_deleted(a: &CrmAppointment, rules: &AppointmentRules) -> bool {
    let dl = &rules.dialect;
    a.fields
        .get(&dl.activity.deleted)
        .is_some_and(|v| dl.parse_bool(v))
}

fn is_published(a: &CrmAppointment, rules: &AppointmentRules) -> bool {
    let dl = &rules.dialect;
    let f = &dl.appointment.published;
    !f.is_empty() && a.fields.get(f).is_some_and(|v| dl.parse_bool(v))
}

/// The decision that needs only the CRM source's reading, or `None`.
pub fn triage_crm(
    item: &CrmItem,
    link: Option<&Link>,
    rules: &AppointmentRules,
    reps: &[RepRef],
    owner: &Owner,
) -> Option<Decision> {
    let a = &item.appointment;
    if link.is_some_and(|l| l.state == LinkState::SoftDeleted) {
        // Deleted on one side already: a later CRM edit does not bring the event back.
        return Some(Decision::Nothing);
    }
    if is_published(a, rules) {
        // An external organizer's meeting: Microsoft 365 owns it.
        return Some(Decision::Nothing);
    }
    if series::is_master_record(a, rules) {
        // A series' master record is not an event of its own: its occurrences' records are
        // (docs/SYNC.md, "Series").
        return Some(Decision::Nothing);
    }
    let linked = linked_event(link).is_some();
    if is_deleted(a, rules) {
        return (!linked).then_some(Decision::Nothing);
    }
    if !item.in_scope {
        // Not (or no longer) one the connector writes to calendars: not a deletion either
        // (a narrowed VeventFilter or `types` would otherwise delete events en masse). A
        // linked one keeps its event; its link stops being the CRM source's (no update stamp,
        // as for one that left the window), which the ledger records once, and which later
        // walks leave alone until it passes again (its stamp is then remembered anew).
        return Some(match link {
            Some(l) if linked && l.crm_version.is_some() => Decision::Remember {
                crm_hash: l.crm_hash.clone(),
                crm_version: None,
                reason: Some(format!(
                    "the appointment {} no longer passes the filter (forms.xml's VeventFilter, [appointments] types): not a deletion; its event stays, and CRM changes of it are not written to the calendar until it passes again",
                    a.id
                )),
            },
            _ => Decision::Nothing,
        });
    }
    // A link whose calendar side was forgotten by a resync (no change key, no hash) waits for
    // the calendar side to compare: CRM's side is unchanged when its hash is.
    let resync_pending = link.is_some_and(|l| {
        l.state == LinkState::Active && l.graph_hash.is_none() && l.graph_version.is_none()
    });
    if let Some(l) = link
        && linked
        && (l.graph_hash.is_some() || resync_pending)
        && l.crm_hash.as_deref() == Some(content::crm_hash(a, rules, reps).as_str())
        && !l.crm_hash.as_deref().unwrap_or_default().is_empty()
    {
        // An echo of the connector's own write, or a change of fields it does not sync.
        return Some(if l.crm_version == a.updated {
            Decision::Nothing
        } else {
            Decision::Remember {
                crm_hash: l.crm_hash.clone(),
                crm_version: a.updated.clone(),
                reason: None,
            }
        });
    }
    let private = content::of_crm(a, rules, reps).is_ok_and(|c| c.private);
    if private && !rules.sync_private_for(owner) && !linked {
        return Some(Decision::Skip(
            "a private appointment ([appointments] sync_private = false)".into(),
        ));
    }
    None
}

/// The decision for a CRM-side change that passed triage.
pub fn decide_crm(i: Input<'_>) -> Decision {
    if let Some(a) = i.facts.existing.as_ref()
        && series::is_master_record(a, i.rules)
    {
        // A master record a full walk did not see (its date is the series' first): not the
        // CRM source's to follow (see `triage_crm`).
        return Decision::Remember {
            crm_hash: i.link.and_then(|l| l.crm_hash.clone()),
            crm_version: None,
            reason: None,
        };
    }
    let Some(a) = i.facts.existing.as_ref() else {
        // Gone from CRM (a full walk missed it, and reading it by id found nothing).
        return delete_event(i, None, "the appointment was deleted in CRM");
    };
    if is_deleted(a, i.rules) {
        return delete_event(
            i,
            Some(a),
            "the appointment was marked deleted in CRM (ConnectorDeleted)",
        );
    }
    if let EventChange::CrmVanished(_) = i.change {
        // Still in CRM, but no longer in the rep's window or selection: not a deletion. The
        // link stops being the CRM source's (so later full walks do not ask again).
        return Decision::Remember {
            crm_hash: i.link.and_then(|l| l.crm_hash.clone()),
            crm_version: None,
            reason: None,
        };
    }
    let wanted = match content::of_crm(a, i.rules, i.reps) {
        Ok(c) => c,
        Err(reason) => return Decision::Fail(reason),
    };
    let crm_hash = wanted.hash();
    let linked = linked_event(i.link).is_some();
    let Some(ev) = i.facts.event.as_ref() else {
        if linked {
            // The linked event is gone (a calendar delta need not report an event deleted
            // before it ever reported it): a deletion in Microsoft 365.
            return event_deleted(i, a);
        }
        // The calendar side is still completing a write of an event to CRM that may have
        // made this very record: it is left to that side (later in the same run).
        let pending = i
            .link
            .is_some_and(|l| l.state == LinkState::Interrupted && !l.graph_id.starts_with("crm:"));
        if pending || matches!(i.change, EventChange::Crm(item) if item.hold_new) {
            return Decision::Nothing;
        }
        if i.facts.other_links > 0 {
            // The meeting came from Microsoft 365 and other synced calendars hold it: it is
            // not created again. This calendar's copy (the organizer's, whose rep the record
            // names) joins it when the calendar reports it, after this source in the same
            // run; another rep's copy may have written the record moments ago, earlier in
            // this run. Nothing is decided here, so a run counts the meeting as the calendars
            // see it, whichever mailbox it worked first (and as a plan counts it).
            return Decision::Nothing;
        }
        // Closed for this calendar (recorded once, not at every walk).
        if let Some(key) = a.keys.first() {
            return close(
                Some(a.id),
                format!(
                    "the appointment {} came from a calendar (meeting key {key}) and no event of this calendar carries it; it is not written again",
                    a.id
                ),
            );
        }
        return Decision::WriteEvent(Box::new(EventWrite {
            crm_id: a.id,
            event_id: None,
            body: content::event_body(&wanted, None),
            invite: invitees(&wanted, None, i.owner),
            crm_hash,
            crm_version: a.updated.clone(),
            reason: "new appointment in CRM: event written to the calendar".into(),
            adopted: false,
            adopted_by: None,
            conflict: None,
        }));
    };
    if !linked && i.facts.adopted_by == Some(AdoptedBy::ContentMatch) {
        // The event the previous connector wrote for this appointment, found by subject and
        // start: linked as it is, neither side rewritten.
        return Decision::WriteEvent(Box::new(EventWrite {
            crm_id: a.id,
            event_id: Some(ev.id.clone()),
            body: Value::Null,
            invite: Vec::new(),
            crm_hash,
            crm_version: a.updated.clone(),
            reason: format!(
                "adopted the event {} for the appointment {} ({})",
                ev.id,
                a.id,
                AdoptedBy::ContentMatch
            ),
            adopted: true,
            adopted_by: Some(AdoptedBy::ContentMatch),
            conflict: None,
        }));
    }
    let current = content::of_event(ev);
    // Whether the event changed since the link: by its content hash, or (an event the
    // calendar has not reported yet) by its change key.
    let event_changed = |l: &Link| match &l.graph_hash {
        Some(h) => *h != content::event_hash(ev),
        None => l.graph_version.is_some() && l.graph_version != ev.change_key,
    };
    if linked
        && let Some(l) = i.link
        && event_changed(l)
    {
        // Both changed since the last sync: the calendar side meets the event's change next
        // and applies the conflict rule with both versions at hand.
        return Decision::Nothing;
    }
    let differs = current
        .as_ref()
        .is_none_or(|c| !same_but_attendees(c, &wanted));
    if !takes_crm_edits(ev, i.owner) {
        return not_owned(i.link.filter(|_| linked), ev, a, crm_hash, differs);
    }
    let invite = invitees(&wanted, Some(ev), i.owner);
    let mut conflict = None;
    if !linked && differs {
        // An event a run wrote from CRM and was cut off before linking: the user may have
        // edited it since, and CRM too. Without a link there is no baseline to tell which
        // changed, so the conflict rule decides, and the losing version is kept.
        if conflict_winner(i.rules, ev, a) == Winner::Microsoft365 {
            // The calendar side meets the event and writes it to CRM, under the same rule.
            return Decision::Nothing;
        }
        conflict = Some(conflict_detail(
            i.rules,
            Winner::Crm,
            current.as_ref(),
            ev,
            a,
            None,
        ));
    }
    if !differs && invite.is_empty() {
        return if linked {
            Decision::Remember {
                crm_hash: Some(crm_hash),
                crm_version: a.updated.clone(),
                reason: None,
            }
        } else {
            Decision::WriteEvent(Box::new(EventWrite {
                crm_id: a.id,
                event_id: Some(ev.id.clone()),
                body: Value::Null,
                invite,
                crm_hash,
                crm_version: a.updated.clone(),
                reason:
                    "adopted the event the connector wrote for this appointment (CrmId property)"
                        .into(),
                adopted: true,
                adopted_by: Some(AdoptedBy::CrmIdProperty),
                conflict: None,
            }))
        };
    }
    let what = differences(current.as_ref(), &wanted);
    let reason = if linked {
        format!("the appointment changed in CRM: the event is updated ({what})")
    } else {
        format!(
            "adopted the event the connector wrote for this appointment (CrmId property) and updated it ({what})"
        )
    };
    let adopted_by = (!linked).then_some(AdoptedBy::CrmIdProperty);
    patch_event(a, ev, &wanted, invite, reason, adopted_by, conflict)
}

/// The fields in which the event's content `current` differs from CRM's `wanted`, for the
/// ledger's reason.
pub(crate) fn differences(current: Option<&Content>, wanted: &Content) -> String {
    current
        .map(|c| c.differences(wanted).join(", "))
        .unwrap_or_default()
}

/// CRM's content `wanted` of `a` written over the event `ev` (a PATCH), the link taking its
/// hash and update stamp; `adopted_by` when the event was not linked yet.
pub(crate) fn patch_event(
    a: &CrmAppointment,
    ev: &CalEvent,
    wanted: &Content,
    invite: Vec<String>,
    reason: String,
    adopted_by: Option<AdoptedBy>,
    conflict: Option<Value>,
) -> Decision {
    Decision::WriteEvent(Box::new(EventWrite {
        crm_id: a.id,
        event_id: Some(ev.id.clone()),
        body: content::event_body(wanted, None),
        invite,
        crm_hash: wanted.hash(),
        crm_version: a.updated.clone(),
        reason,
        adopted: adopted_by.is_some(),
        adopted_by,
        conflict,
    }))
}

/// A CRM change met by a copy that belongs to another organizer (an attendee's copy): not
/// written back, and recorded once per CRM version. `link`: this copy's link, when it links
/// the event; `differs`: whether the event's content differs from CRM's.
///
/// The link keeps the CRM hash of the content both sides last agreed on (its baseline), not
/// CRM's new one: the organizer's copy, when it first adopts the record through this link
/// (its own runs were cut off), must see that CRM changed since and weigh the edit by the
/// conflict rule. Taking CRM's new hash as the baseline would make the edit look like what
/// both sides agreed on, and the organizer's fields would overwrite it without a trace. CRM's
/// update stamp is remembered, so the same version met again (a full walk) is nothing to do.
/// Once the event shows CRM's content (the organizer's copy took the edit and the meeting
/// update reached this copy), the sides agree again and the baseline moves to it.
fn not_owned(
    link: Option<&Link>,
    ev: &CalEvent,
    a: &CrmAppointment,
    crm_hash: String,
    differs: bool,
) -> Decision {
    let agreed = link
        .and_then(|l| l.crm_hash.as_deref())
        .filter(|h| !h.is_empty());
    match (link, agreed) {
        (Some(_), Some(_)) if !differs => Decision::Remember {
            crm_hash: Some(crm_hash),
            crm_version: a.updated.clone(),
            reason: None,
        },
        (Some(l), Some(_)) if l.crm_version.is_some() && l.crm_version == a.updated => {
            Decision::Nothing
        }
        (_, baseline) => Decision::Remember {
            crm_hash: Some(baseline.map_or(crm_hash, str::to_owned)),
            crm_version: a.updated.clone(),
            reason: Some(format!(
                "the appointment changed in CRM, but this calendar's copy belongs to the organizer {}; it is not written back",
                ev.organizer.as_deref().unwrap_or_default()
            )),
        },
    }
}

/// Whether the event and the CRM appointment differ in what is synchronized (attendees
/// aside: they are only ever added from CRM). An unreadable appointment differs in nothing
/// that could be compared.
pub fn contents_differ(
    ev: &CalEvent,
    a: &CrmAppointment,
    rules: &AppointmentRules,
    reps: &[RepRef],
) -> bool {
    match (content::of_event(ev), content::of_crm(a, rules, reps)) {
        (Some(e), Ok(c)) => !same_but_attendees(&e, &c),
        (None, Ok(_)) => true,
        _ => false,
    }
}

/// Whether the event already shows CRM's version of the meeting: the same content (attendees
/// aside) and, for a copy that takes CRM's edits, no CRM participant left to invite. Nothing
/// of CRM's is then pending for this copy, whatever the link's baseline says: a CRM edit the
/// event already carries (the organizer's copy took it, and the meeting update reached this
/// one) is agreed content, not a change to weigh.
pub fn event_shows_crm(
    ev: &CalEvent,
    a: &CrmAppointment,
    rules: &AppointmentRules,
    reps: &[RepRef],
    owner: &Owner,
) -> bool {
    match (content::of_event(ev), content::of_crm(a, rules, reps)) {
        (Some(e), Ok(c)) => {
            same_but_attendees(&e, &c)
                && (!takes_crm_edits(ev, owner) || invitees(&c, Some(ev), owner).is_empty())
        }
        _ => false,
    }
}

/// Everything but the attendees is the same (attendees are only ever added from CRM).
fn same_but_attendees(a: &Content, b: &Content) -> bool {
    let strip = |c: &Content| Content {
        attendees: Default::default(),
        html: None,
        ..c.clone()
    };
    strip(a) == strip(b) && (a.html.is_none() || b.html.is_none() || a.html == b.html)
}

/// Addresses of CRM participants the event does not have yet (never the rep's own): the
/// connector invites, it does not uninvite.
pub(crate) fn invitees(wanted: &Content, ev: Option<&CalEvent>, owner: &Owner) -> Vec<String> {
    wanted
        .attendees
        .iter()
        .filter(|a| !owner.owns(a))
        .filter(|a| {
            ev.is_none_or(|e| {
                !e.attendees.iter().any(|x| x.email.eq_ignore_ascii_case(a))
                    && !e
                        .organizer
                        .as_deref()
                        .is_some_and(|o| o.eq_ignore_ascii_case(a))
            })
        })
        .cloned()
        .collect()
}

/// A CRM deletion: the rep's event goes, within the deletion rules.
fn delete_event(i: Input<'_>, a: Option<&CrmAppointment>, what: &str) -> Decision {
    let crm_id = a.map(|a| a.id).or_else(|| i.link.and_then(|l| l.crm_id));
    let Some(ev) = i.facts.event.as_ref() else {
        return close(crm_id, format!("{what}; the event is already gone"));
    };
    if !i.rules.sync_deletions {
        return close(
            crm_id,
            format!("{what}; deletions are not propagated ([appointments] sync_deletions = false)"),
        );
    }
    let event_start = match &ev.when {
        Ok(crate::appointments::model::When::Timed { start, .. }) => Some(*start),
        _ => None,
    };
    if let Some(start) = a.and_then(|a| a.start).or(event_start) {
        let days = i64::from(i.rules.deletion_window_days);
        if (start.as_second() - i.now.as_second()).abs() > days * 86_400 {
            return close(
                crm_id,
                format!(
                    "{what}; it starts more than {days} days from now ([appointments] deletion_window_days)"
                ),
            );
        }
    }
    if !takes_crm_edits(ev, i.owner) {
        return close(
            crm_id,
            format!(
                "{what}; the event is {}'s meeting, which only its organizer can cancel",
                ev.organizer.as_deref().unwrap_or_default()
            ),
        );
    }
    Decision::DeleteEvent {
        event_id: ev.id.clone(),
        crm_id,
        reason: format!("{what}: the event is deleted from the calendar"),
    }
}

/// The linked event is gone from the calendar: the appointment is marked deleted in CRM,
/// within the same rules as a deletion the calendar side sees.
fn event_deleted(i: Input<'_>, a: &CrmAppointment) -> Decision {
    let what = "the event was deleted in Microsoft 365";
    if !i.rules.sync_deletions {
        return close(
            Some(a.id),
            format!("{what}; deletions are not propagated ([appointments] sync_deletions = false)"),
        );
    }
    if !i.rules.delete_410 {
        return close(
            Some(a.id),
            format!("{what}; forms.xml's delete_sync_process_410 is off"),
        );
    }
    if let Some(start) = a.start {
        let days = i64::from(i.rules.deletion_window_days);
        if (start.as_second() - i.now.as_second()).abs() > days * 86_400 {
            return close(
                Some(a.id),
                format!(
                    "{what}; it starts more than {days} days from now ([appointments] deletion_window_days)"
                ),
            );
        }
    }
    if i.facts.other_links > 0 {
        return close(
            Some(a.id),
            format!(
                "{what}; only this mailbox's copy is gone, the meeting stays in {} other synced calendar(s)",
                i.facts.other_links
            ),
        );
    }
    Decision::SoftDelete {
        id: a.id,
        reason: format!("{what}: the appointment is marked ConnectorDeleted"),
    }
}

fn close(id: Option<CrmId>, reason: String) -> Decision {
    Decision::CloseLink { id, reason }
}

/// An event write decided on the CRM side (or by the conflict rule).
#[derive(Debug, Clone, PartialEq)]
pub struct EventWrite {
    /// The appointment.
    pub crm_id: CrmId,
    /// The event to PATCH; `None`: create one.
    pub event_id: Option<String>,
    /// The Graph body (`null`: nothing to PATCH, only link).
    pub body: Value,
    /// Addresses to invite (for a new event, in a second step: after the meeting's key is in
    /// CRM, so that no attendee's copy can be taken for a new meeting).
    pub invite: Vec<String>,
    /// The CRM side's hash for the link.
    pub crm_hash: String,
    /// CRM's update stamp for the link.
    pub crm_version: Option<String>,
    /// Why (the ledger's reason).
    pub reason: String,
    /// Linking an event found by its CrmId property (or by content) rather than one already
    /// linked.
    pub adopted: bool,
    /// How the adopted event was found, for the ledger's `adopted_by`.
    pub adopted_by: Option<AdoptedBy>,
    /// Both sides had changed: the losing version, for the ledger.
    pub conflict: Option<Value>,
}

#[cfg(test)]
#[path = "decide_crm_tests/mod.rs"]
mod tests;
