//! Reading what a decision needs: the event with the connector's extended properties (a
//! delta page lacks them), the appointment it belongs to (by link, by another mailbox's link,
//! by external key, or left by an interrupted attempt), and the people among the attendees.

use gc_store::LinkState;

use crate::appointments::decide_crm::linked_event;
use crate::appointments::fields::{MapInput, lookup_addresses, map_event};
use crate::appointments::kind::AppointmentKind;
use crate::appointments::model::{CalEvent, CrmAppointment, EventChange, KeyRecord};
use crate::email::model::PeopleMatch;
use crate::engine::ItemCx;
use crate::engine::cx::is_interrupted;
use crate::error::{PortError, store_error};

/// What gather found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The event as read now (with extended properties); for a removal: `Some` when it still
    /// exists (it left the window), `None` when it is gone.
    pub event: Option<CalEvent>,
    /// The appointment it belongs to.
    pub existing: Option<CrmAppointment>,
    /// How it was found.
    pub found_by: Option<&'static str>,
    /// Its external key record.
    pub key: Option<KeyRecord>,
    /// Persons and companies among the attendees.
    pub people: PeopleMatch,
    /// Active links of the same meeting in other mailboxes.
    pub other_links: usize,
    /// For an appointment found by another mailbox's link: the CRM side's hash that link
    /// remembers (the baseline of "changed in CRM" for this copy's first sync).
    pub baseline: Option<String>,
}

/// Active links of other mailboxes among `links` (copies of the same meeting elsewhere).
fn others(links: &[gc_store::Link], mailbox: &str) -> usize {
    links
        .iter()
        .filter(|l| l.mailbox != mailbox && l.state == LinkState::Active)
        .count()
}

/// Gather the facts of one change.
pub async fn gather(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    change: &EventChange,
) -> Result<Facts, PortError> {
    let mut facts = Facts::default();
    let rep = cx.rep();
    let event_id = match change {
        EventChange::Event(ev) => ev.id.clone(),
        EventChange::Removed { id } => id.clone(),
        EventChange::Vanished(l) => l.graph_id.clone(),
        EventChange::Crm(_) | EventChange::CrmVanished(_) => {
            return gather_crm(kind, cx, change).await;
        }
        EventChange::Broken { .. } => return Ok(facts),
    };
    // The event with its extended properties: an unlinked event may be an absence or a
    // CRM-written event; a removal is confirmed (an event that left the window still exists).
    let needs_read = match change {
        EventChange::Event(ev) => !ev.props_read && cx.link.and_then(|l| l.crm_id).is_none(),
        _ => true,
    };
    if needs_read {
        facts.event = kind.graph.event(cx.user(), &event_id).await?;
        if let (EventChange::Event(_), None) = (change, &facts.event) {
            // Deleted between the delta page and now: the next round reports the removal.
            return Ok(facts);
        }
    }
    let ev: Option<&CalEvent> = match change {
        EventChange::Event(ev) => Some(facts.event.as_ref().unwrap_or(ev)),
        _ => None,
    };
    if ev.is_some_and(|e| e.absence_id.is_some()) {
        return Ok(facts);
    }
    let global_key = cx
        .global_key
        .map(str::to_owned)
        .or_else(|| cx.link.and_then(|l| l.global_key.clone()));

    // The appointment: this link's, another mailbox's link, the external key.
    let mut candidate = cx.link.and_then(|l| l.crm_id).map(|id| (id, "link"));
    // Another copy of the meeting whose write to CRM is unresolved (its mailbox's run was
    // interrupted): the appointment it may have written is looked for below, not written a
    // second time.
    let mut other_unresolved = false;
    if let Some(k) = &global_key {
        let links = cx
            .store
            .links_by_global_key(cx.kind, k)
            .await
            .map_err(store_error)?;
        facts.other_links = others(&links, cx.mailbox());
        other_unresolved = links.iter().any(|l| {
            l.mailbox != cx.mailbox() && l.state == LinkState::Interrupted && l.crm_id.is_none()
        });
        if candidate.is_none()
            && let Some(other) = links
                .iter()
                .filter(|l| l.crm_id.is_some())
                .find(|l| l.state == LinkState::Active)
                // One another copy's interrupted write made (and named) before its key.
                .or_else(|| {
                    links.iter().find(|l| {
                        l.mailbox != cx.mailbox()
                            && l.state == LinkState::Interrupted
                            && l.crm_id.is_some()
                    })
                })
        {
            candidate = other.crm_id.map(|id| (id, "a link of another mailbox"));
            // What CRM held when that mailbox last synced: a CRM edit since then is one to
            // weigh against this copy's fields, not to overwrite unseen.
            facts.baseline = other.crm_hash.clone();
        }
        if ev.is_some() {
            facts.key = kind.crm.find_by_key(rep, k).await?;
        }
        if candidate.is_none() {
            candidate = facts.key.as_ref().map(|k| (k.id, "external key"));
        }
    }
    if candidate.is_none()
        && let Some(id) = ev
            .and_then(|e| e.crm_id.as_deref())
            .and_then(|v| v.trim().parse::<gc_store::CrmId>().ok())
    {
        // An event the connector wrote from CRM (its CrmId property), met before its link.
        candidate = Some((id, "the CrmId property"));
    }
    if let Some((id, how)) = candidate {
        facts.existing = kind.crm.appointment(rep, id).await?;
        facts.found_by = Some(how);
    }
    let Some(ev) = ev else {
        return Ok(facts);
    };
    let addresses = lookup_addresses(ev, &kind.reps);
    if !addresses.is_empty() && !ev.is_cancelled {
        facts.people = kind.crm.find_people(rep, &addresses).await?;
    }
    // An attempt (of this copy or another) interrupted after the insert and before the
    // external key left an appointment without key: found by rep, date, time and subject.
    if facts.existing.is_none()
        && (is_interrupted(cx.link) || other_unresolved)
        && let Ok(m) = map_event(
            ev,
            MapInput {
                owner: &cx.target.owner,
                reps: &kind.reps,
                people: &facts.people,
                rules: &kind.rules,
            },
        )
    {
        let plan = crate::appointments::model::AppointmentPlan {
            key: ev.global_key(cx.mailbox()),
            mailbox: cx.rep().to_ascii_lowercase(),
            contact_type: kind.rules.activity_type.clone(),
            fields: m.fields,
            company: None,
            person: None,
            participants: Vec::new(),
        };
        if let Some(id) = kind.crm.find_orphan(rep, &plan).await? {
            facts.existing = kind.crm.appointment(rep, id).await?;
            facts.found_by = Some("left by an interrupted attempt");
        }
    }
    Ok(facts)
}

/// The facts of a CRM-side change: the appointment as CRM has it now (read again only for a
/// link a full walk did not see), the linked event, or for an unlinked appointment the event
/// the connector wrote for it before a crash (its CrmId property), and whether other
/// mailboxes link the appointment already (it came from Microsoft 365).
async fn gather_crm(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    change: &EventChange,
) -> Result<Facts, PortError> {
    let mut facts = Facts::default();
    let crm_id = match change {
        EventChange::Crm(item) => {
            facts.existing = Some(item.appointment.clone());
            item.appointment.id
        }
        EventChange::CrmVanished(link) => {
            let Some(id) = link.crm_id else {
                return Ok(facts);
            };
            facts.existing = kind.crm.appointment(cx.rep(), id).await?;
            id
        }
        _ => return Ok(facts),
    };
    let links = cx
        .store
        .links_by_crm_id(cx.kind, crm_id)
        .await
        .map_err(store_error)?;
    facts.other_links = others(&links, cx.mailbox());
    match linked_event(cx.link) {
        Some(event_id) => {
            facts.event = kind.graph.event(cx.user(), event_id).await?;
            facts.found_by = Some("link");
        }
        None => {
            let mut found = kind.graph.events_for_crm_id(cx.user(), crm_id).await?;
            // The oldest is the one a first attempt wrote; later ones (if a retried create
            // ever made two) stay as they are.
            found.sort_by(|a, b| a.id.cmp(&b.id));
            facts.event = found.into_iter().next();
            facts.found_by = facts.event.as_ref().map(|_| "the CrmId property");
        }
    }
    Ok(facts)
}
