//! The rules per calendar change, without I/O: what to do from the change, its link and
//! what [`super::gather`] found. Every decision carries the reason the ledger records.

use gc_store::{CrmId, Link, LinkState};

use crate::appointments::content;
use crate::appointments::decide_crm::{self, EventWrite, Winner};
use crate::appointments::fields::{MapInput, Mapped, changed_fields, map_event};
use crate::appointments::gather::Facts;
use crate::appointments::model::{
    AppointmentPlan, CalEvent, CrmAppointment, CrmParticipant, EventChange, NewMember, When,
};
use crate::appointments::rules::AppointmentRules;
use crate::appointments::series;
use crate::email::model::RepRef;
use crate::engine::Owner;

/// What to do with one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do and nothing to record (already in sync, not ours).
    Nothing,
    /// Skipped on purpose (ledger entry, link unchanged).
    Skip(String),
    /// The item fails with this reason.
    Fail(String),
    /// Write a new appointment.
    Create {
        /// What to write.
        plan: Box<AppointmentPlan>,
        /// The event's change key and content hash, for the link.
        version: Option<String>,
        /// Content hash.
        hash: String,
        /// The CRM side's content hash once written.
        crm_hash: String,
    },
    /// Link (or keep linked) an existing appointment, completing it: fields this copy owns,
    /// participants and external key it lacks.
    Sync {
        /// The appointment.
        id: CrmId,
        /// Fields to write (empty: none).
        fields: Vec<(String, String)>,
        /// Participants to add.
        add: Vec<NewMember>,
        /// Record the external key (`iCalUId`, this mailbox).
        add_key: Option<(String, String)>,
        /// The event's change key.
        version: Option<String>,
        /// Content hash.
        hash: String,
        /// Why (the ledger's reason).
        reason: String,
        /// The link was new (adopted) rather than kept.
        adopted: bool,
        /// How the adopted appointment was found, for the ledger's `adopted_by`.
        adopted_by: Option<crate::adopt::AdoptedBy>,
        /// The CRM side's content hash once written (`None`: keep the link's).
        crm_hash: Option<String>,
        /// Both sides had changed and the event won: the losing CRM version, for the ledger.
        conflict: Option<serde_json::Value>,
    },
    /// Write a CRM appointment into the calendar (create, adopt, or update the event).
    WriteEvent(Box<EventWrite>),
    /// Delete the rep's event (the appointment was deleted in CRM).
    DeleteEvent {
        /// The event.
        event_id: String,
        /// The appointment.
        crm_id: Option<CrmId>,
        /// Why.
        reason: String,
    },
    /// The calendar has now reported an event the connector created: the link remembers
    /// its content hash (until then the CRM side keeps checking that the event exists).
    Confirm {
        /// The event's content hash.
        graph_hash: String,
        /// The meeting key CRM's external key must hold for the link's appointment. A run
        /// killed between linking the new event and writing that key left it out, and
        /// nothing else would write it: confirming checks it and writes it when missing.
        key: Option<String>,
    },
    /// Nothing to write; remember the CRM side's hash and update stamp in the link (with a
    /// ledger entry when `reason` says why nothing was written).
    Remember {
        /// The CRM side's hash.
        crm_hash: Option<String>,
        /// CRM's update stamp (`None`: the CRM source no longer reads it).
        crm_version: Option<String>,
        /// Why nothing was written, when the admin should know.
        reason: Option<String>,
    },
    /// Mark the appointment deleted in CRM (`ConnectorDeleted`).
    SoftDelete {
        /// The appointment.
        id: CrmId,
        /// Why.
        reason: String,
    },
    /// The copy is gone but the appointment stays (or deletions are not propagated): the
    /// link is closed without a CRM write.
    CloseLink {
        /// The appointment.
        id: Option<CrmId>,
        /// Why.
        reason: String,
    },
}

/// Whether `link` is an intent: a write of the event to CRM was begun (and cut off) before
/// the record's id was known.
pub fn is_intent(link: Option<&Link>) -> bool {
    link.is_some_and(Link::is_intent)
}

/// The decision that needs no CRM data, or `None`.
pub fn triage(
    change: &EventChange,
    link: Option<&Link>,
    rules: &AppointmentRules,
    owner: &Owner,
) -> Option<Decision> {
    match change {
        EventChange::Broken { id: None, .. } => Some(Decision::Nothing),
        EventChange::Broken {
            id: Some(_),
            reason,
        } => Some(Decision::Fail(format!(
            "Microsoft 365 returned an unreadable event: {reason}"
        ))),
        EventChange::Crm(_) | EventChange::CrmVanished(_) => None,
        EventChange::Removed { .. } | EventChange::Vanished(_) => match link {
            Some(l) if l.crm_id.is_some() && l.state != LinkState::SoftDeleted => None,
            // An interrupted write of the event to CRM: whether it made a record is for
            // `gather` to find out (by the meeting key), and the deletion follows it.
            Some(l) if is_intent(Some(l)) => None,
            _ => Some(Decision::Nothing),
        },
        EventChange::Event(ev) => {
            if link.is_some_and(|l| l.state == LinkState::SoftDeleted) {
                return Some(Decision::Nothing);
            }
            if let Some(l) = link
                && l.state == LinkState::Active
                && l.graph_version.is_some()
                && l.graph_version == ev.change_key
            {
                return Some(match l.graph_hash {
                    // An event the connector created, reported by the calendar for the first
                    // time: from now on its deletion is the calendar's to report.
                    None if l.crm_id.is_some() => Decision::Confirm {
                        graph_hash: content::event_hash(ev),
                        key: meeting_key(ev, l.global_key.as_deref()),
                    },
                    _ => Decision::Nothing,
                });
            }
            if ev.is_private() && !rules.sync_private_for(owner) && link.is_none() {
                return Some(Decision::Skip(
                    "a private event ([appointments] sync_private = false)".into(),
                ));
            }
            if let Err(reason) = &ev.when
                && !ev.is_cancelled
            {
                return Some(Decision::Fail(reason.clone()));
            }
            None
        }
    }
}

/// The key CRM's external key holds for an event written from CRM: an occurrence's is its
/// series' with its original start, which the occurrence alone does not carry
/// (`series_key`, the item's or its link's); anything else's is its iCalUId. `None` when
/// there is no usable one.
pub fn meeting_key(ev: &CalEvent, series_key: Option<&str>) -> Option<String> {
    if ev.is_occurrence() {
        series_key.map(str::to_owned)
    } else {
        ev.ical_uid.clone()
    }
    .filter(|k| !k.trim().is_empty() && !k.starts_with("crm:"))
}

/// What [`decide`] (and [`decide_crm::decide_crm`]) is given.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The change.
    pub change: &'a EventChange,
    /// Its link.
    pub link: Option<&'a Link>,
    /// The facts.
    pub facts: &'a Facts,
    /// The mailbox owner.
    pub owner: &'a Owner,
    /// Every synced rep.
    pub reps: &'a [RepRef],
    /// The rules.
    pub rules: &'a AppointmentRules,
    /// Now (the deletion window).
    pub now: jiff::Timestamp,
}

/// The decision for a change that passed triage.
pub fn decide(i: Input<'_>) -> Decision {
    let ev = match i.change {
        EventChange::Event(ev) => i.facts.event.as_ref().unwrap_or(ev),
        EventChange::Crm(_) | EventChange::CrmVanished(_) => return decide_crm::decide_crm(i),
        _ => match &i.facts.event {
            // A series master is never in the calendar view (its occurrences are): that it
            // was not seen says nothing. Unless its organizer cancelled it: an attendee's copy
            // of a deleted series that has no occurrence left in the window to report it.
            Some(e) if e.is_master() && e.is_cancelled => return deletion(i, true),
            Some(e) if e.is_master() => return Decision::Nothing,
            // An interrupted write whose event is still there: the calendar walk meets the
            // event again and completes it.
            Some(_) if is_intent(i.link) => return Decision::Nothing,
            // Still there: it left the window (or was only changed). Not a deletion.
            Some(_) => {
                return Decision::Skip(
                    "the event left the synchronized window; leaving the window is not a deletion"
                        .into(),
                );
            }
            None => return deletion(i, i.facts.occurrence_cancelled),
        },
    };
    if ev.absence_id.is_some() {
        return Decision::Skip("an absence written by the absences kind".into());
    }
    if ev.is_cancelled {
        return deletion(i, true);
    }
    if ev.is_private() && !i.rules.sync_private_for(i.owner) {
        return match i.link.and_then(|l| l.crm_id) {
            Some(id) => Decision::CloseLink {
                id: Some(id),
                reason: "the event became private ([appointments] sync_private = false); the appointment is left as it is".into(),
            },
            None => Decision::Skip("a private event ([appointments] sync_private = false)".into()),
        };
    }
    let mut mapped = match map_event(
        ev,
        MapInput {
            owner: i.owner,
            reps: i.reps,
            people: &i.facts.people,
            rules: i.rules,
        },
    ) {
        Ok(m) => m,
        Err(reason) => return Decision::Fail(reason),
    };
    // A series' master record, or one occurrence's record naming its master.
    mapped
        .fields
        .extend(series::fields(series::role(ev, i.facts.master), i.rules));
    let key = ev.global_key(i.owner.mailbox.as_str());
    match &i.facts.existing {
        // An event the connector wrote from a CRM appointment that is gone from CRM since,
        // or a meeting copy whose record an external key or another mailbox's link (closed
        // with the record, or still active: that mailbox has not run since) names and which
        // is gone since, met before it was linked (the run that would have linked it was cut
        // off): a deletion in CRM, never a new appointment.
        None if matches!(
            i.facts.found_by,
            Some(
                "the CrmId property"
                    | "external key"
                    | crate::appointments::gather::OTHER_LINK
                    | crate::appointments::gather::CLOSED_LINK
            )
        ) && let Some(id) = i.facts.candidate =>
        {
            let start = match ev.when {
                Ok(When::Timed { start, .. }) => Some(start),
                _ => None,
            };
            deleted_in_crm(&i, ev, id, start, "was deleted in CRM")
        }
        None => {
            let plan = AppointmentPlan {
                key,
                mailbox: i.owner.email.to_ascii_lowercase(),
                contact_type: i.rules.activity_type.clone(),
                fields: mapped
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                company: mapped.company,
                person: mapped.person,
                participants: mapped.participants.clone(),
            };
            let written = CrmAppointment {
                id: CrmId(0),
                fields: plan.fields.clone(),
                start: None,
                updated: None,
                keys: Vec::new(),
                participants: plan.participants.iter().map(participant).collect(),
            };
            Decision::Create {
                crm_hash: content::crm_hash(&written, i.rules, i.reps),
                plan: Box::new(plan),
                version: ev.change_key.clone(),
                hash: content::event_hash(ev),
            }
        }
        Some(a) => {
            let dl = &i.rules.dialect;
            if a.fields
                .get(&dl.activity.deleted)
                .is_some_and(|v| dl.parse_bool(v))
            {
                return deleted_in_crm(
                    &i,
                    ev,
                    a.id,
                    a.start,
                    "is marked deleted in CRM (ConnectorDeleted)",
                );
            }
            if let Some(t) = a.fields.get(&dl.activity.contact_type)
                && !t.trim().is_empty()
                && !i.rules.type_synced(t)
            {
                return Decision::Skip(format!(
                    "the appointment {} is of type {t:?}, which is not synchronized ([appointments] types)",
                    a.id
                ));
            }
            sync_existing(i, ev, &mapped, key, a)
        }
    }
}

/// The event's appointment is marked deleted in CRM (or, for an event the connector wrote
/// from it, gone from CRM). The organizer's copy (with CRM →
/// Microsoft 365 and within the deletion rules) is deleted: the meeting was deleted in CRM
/// before this copy was ever linked (a linked one hears of it from the CRM side). Any other
/// copy is left to the organizer's cancellation; nothing is brought back.
fn deleted_in_crm(
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

/// Whether this copy writes the meeting's fields: the organizer's copy, or, for an organizer
/// who is not a synced rep, the copy that wrote the appointment first (its external key's
/// mailbox).
pub fn owns_fields(ev: &CalEvent, mapped: &Mapped, facts: &Facts, owner: &Owner) -> bool {
    if ev.is_organizer || ev.organizer.as_deref().is_some_and(|o| owner.owns(o)) {
        return true;
    }
    if mapped.organizer_rep.is_some() {
        return false;
    }
    facts
        .key
        .as_ref()
        .and_then(|k| k.mailbox.as_deref())
        .is_some_and(|m| owner.owns(m))
}

/// A CRM participant as the connector writes it (for the hash of what CRM will hold).
fn participant(m: &NewMember) -> CrmParticipant {
    CrmParticipant {
        email: Some(m.email.clone()),
        rep: m.rep,
    }
}

fn sync_existing(
    i: Input<'_>,
    ev: &CalEvent,
    mapped: &Mapped,
    key: String,
    a: &CrmAppointment,
) -> Decision {
    let owns = owns_fields(ev, mapped, i.facts, i.owner);
    let event_hash = content::event_hash(ev);
    let same_content = i
        .link
        .is_some_and(|l| l.crm_id == Some(a.id) && l.graph_hash.as_deref() == Some(&event_hash));
    // Both changed since the last sync: the CRM side differs from what the link remembers.
    let baseline = match i.link {
        Some(l) if l.crm_id == Some(a.id) && l.state == LinkState::Active => l.crm_hash.as_deref(),
        _ => i.facts.baseline.as_deref(),
    };
    // An event a run wrote from CRM and was cut off before linking has no baseline: the user
    // may have edited it and CRM too, so differing contents are weighed by the conflict rule.
    let linked_here = i
        .link
        .is_some_and(|l| l.crm_id == Some(a.id) && l.state == LinkState::Active);
    let written_unlinked = i.facts.found_by == Some("the CrmId property") && !linked_here;
    // Nor has such an event once adopted, until the CRM side has compared it (the adoption
    // leaves the link without a CRM hash for that): a CRM edit made before that compare is
    // not known to be older than the event's version.
    let uncompared = linked_here && i.link.is_some_and(|l| l.crm_hash.is_none());
    let crm_changed = if written_unlinked || uncompared {
        decide_crm::contents_differ(ev, a, i.rules, i.reps)
    } else {
        baseline
            .is_some_and(|h| !h.is_empty() && h != content::crm_hash(a, i.rules, i.reps).as_str())
    };
    let mut conflict = None;
    if owns && !same_content && crm_changed {
        // Without the CRM → Microsoft 365 direction the event always wins.
        if decide_crm::conflict_winner(i.rules, ev, a) == Winner::Crm
            && i.rules.crm_to_microsoft365()
        {
            return decide_crm::crm_wins(&i, ev, a);
        }
        let losing = content::of_crm(a, i.rules, i.reps).ok();
        conflict = Some(decide_crm::conflict_detail(
            i.rules,
            Winner::Microsoft365,
            losing.as_ref(),
            ev,
            a,
        ));
    }
    let fields = if owns && !same_content {
        changed_fields(&mapped.fields, &a.fields, i.rules)
    } else {
        Vec::new()
    };
    let add: Vec<NewMember> = mapped
        .participants
        .iter()
        .filter(|m| {
            !a.participants.iter().any(|p| {
                (m.rep.is_some() && p.rep == m.rep) || p.email.as_deref() == Some(m.email.as_str())
            })
        })
        .cloned()
        .collect();
    let add_key = i
        .facts
        .key
        .is_none()
        .then(|| (key, i.owner.email.to_ascii_lowercase()));
    let adopted = !i
        .link
        .is_some_and(|l| l.crm_id == Some(a.id) && l.state == LinkState::Active);
    let mut after = a.clone();
    for (k, v) in &fields {
        after.fields.insert(k.clone(), v.clone());
    }
    after.participants.extend(add.iter().map(participant));
    // A CRM change this write did not settle stays pending for the CRM side to see.
    let crm_hash = if i.facts.found_by == Some("the CrmId property") {
        // An event the connector wrote from CRM and crashed before linking: the CRM side
        // compares once more (it may still have attendees to invite).
        None
    } else if crm_changed && conflict.is_none() {
        i.link.and_then(|l| l.crm_hash.clone())
    } else {
        Some(content::crm_hash(&after, i.rules, i.reps))
    };
    let reason = match (adopted, fields.is_empty(), owns) {
        (false, false, _) if conflict.is_some() => format!(
            "both sides changed since the last sync; the event's version wins ([appointments] conflict): {} field(s) updated, CRM's version is kept in this entry",
            fields.len()
        ),
        (true, _, _) => format!(
            "adopted the appointment {} ({}){}",
            a.id,
            i.facts.found_by.unwrap_or("found"),
            if fields.is_empty() {
                String::new()
            } else {
                format!(", {} field(s) updated", fields.len())
            }
        ),
        (false, false, _) => format!(
            "{} changed in Microsoft 365: {} field(s) updated",
            if ev.event_type == "exception" {
                "an occurrence of the series (an exception: moved or changed)"
            } else {
                "the event"
            },
            fields.len()
        ),
        (false, true, false) => {
            "the event changed; another copy (the organizer's) owns the meeting's fields".into()
        }
        (false, true, true) => "the event changed; nothing the connector writes differs".into(),
    };
    Decision::Sync {
        id: a.id,
        fields,
        add,
        add_key,
        version: ev.change_key.clone(),
        hash: event_hash,
        reason,
        adopted,
        adopted_by: if adopted { i.facts.adopted_by } else { None },
        crm_hash,
        conflict,
    }
}

/// The event is gone (deleted, or `cancelled` by its organizer).
fn deletion(i: Input<'_>, cancelled: bool) -> Decision {
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

#[cfg(test)]
#[path = "decide_tests.rs"]
pub(crate) mod tests;
