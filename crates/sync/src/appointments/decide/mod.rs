//! The rules per calendar change, without I/O: what to do from the change, its link and
//! what [`super::gather`] found. Every decision carries the reason the ledger records.

mod deletion;
mod existing;

use gc_store::{CrmId, Link, LinkState};

use crate::appointments::content;
use crate::appointments::decide_crm::{self, EventWrite};
use crate::appointments::fields::{MapInput, map_event};
use crate::appointments::gather::Facts;
use crate::appointments::model::{
    AppointmentPlan, CalEvent, CrmAppointment, CrmParticipant, EventChange, NewMember, When,
};
use crate::appointments::rules::AppointmentRules;
use crate::appointments::series;
use crate::email::model::RepRef;
use crate::engine::Owner;

use deletion::{deleted_in_crm, deletion};
use existing::sync_existing;
pub use existing::{owns_fields, takes_crm_edits};

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

/// A CRM participant as the connector writes it (for the hash of what CRM will hold).
fn participant(m: &NewMember) -> CrmParticipant {
    CrmParticipant {
        email: Some(m.email.clone()),
        rep: m.rep,
    }
}

#[cfg(test)]
pub(crate) mod tests;
