//! Reading what a decision needs: the event with the connector's extended properties (a
//! delta page lacks them), the appointment it belongs to (by link, by another mailbox's link,
//! by external key, or left by an interrupted attempt), and the people among the attendees.

use gc_store::LinkState;

use crate::adopt::{self, AdoptedBy, Adoption, RecordTable, content};
use crate::appointments::decide_crm::linked_event;
use crate::appointments::fields::{MapInput, lookup_addresses, map_event};
use crate::appointments::kind::{AppointmentKind, AppointmentRun};
use crate::appointments::model::{CalEvent, CrmAppointment, EventChange, KeyRecord};
use crate::appointments::series;
use crate::email::model::PeopleMatch;
use crate::engine::ItemCx;
use crate::engine::cx::is_interrupted;
use crate::engine::item::work_nested;
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
    /// The record it was found by (`existing` is `None` when that record is gone).
    pub candidate: Option<gc_store::CrmId>,
    /// How it was found, for the ledger's `adopted_by` (`None`: by this item's own link).
    pub adopted_by: Option<AdoptedBy>,
    /// Its external key record.
    pub key: Option<KeyRecord>,
    /// Persons and companies among the attendees.
    pub people: PeopleMatch,
    /// Active links of the same meeting in other mailboxes.
    pub other_links: usize,
    /// For an appointment found by another mailbox's link: the CRM side's hash that link
    /// remembers (the baseline of "changed in CRM" for this copy's first sync); for one found
    /// by its external key: what another mailbox's write cut off before linking it wrote.
    pub baseline: Option<String>,
    /// An occurrence: its series' master record (written first if need be).
    pub master: Option<gc_store::CrmId>,
    /// A removed occurrence the organizer cancelled (its master lists it among its
    /// `cancelledOccurrences`).
    pub occurrence_cancelled: bool,
    /// A removed occurrence whose whole series is gone.
    pub series_gone: bool,
}

/// Active links of other mailboxes among `links` (copies of the same meeting elsewhere).
fn others(links: &[gc_store::Link], mailbox: &str) -> usize {
    links
        .iter()
        .filter(|l| l.mailbox != mailbox && l.state == LinkState::Active)
        .count()
}

/// What another mailbox's write of the meeting to CRM wrote, cut off before it linked the
/// record (its link is still the intent, which keeps the CRM hash of what it wrote): the
/// baseline of "changed in CRM" for a copy that finds that record by its external key first.
/// Without it, a CRM edit made since looked like the write itself, and the organizer's copy
/// copied its fields over it without a trace.
fn cut_off_write(links: &[gc_store::Link], mailbox: &str, id: gc_store::CrmId) -> Option<String> {
    links
        .iter()
        .filter(|l| l.mailbox != mailbox && is_interrupted(Some(l)))
        .filter(|l| !l.graph_id.starts_with("crm:") && l.crm_id.is_none_or(|c| c == id))
        .find_map(|l| l.crm_hash.clone().filter(|h| !h.is_empty()))
}

/// Gather the facts of one change.
pub async fn gather(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    run: &AppointmentRun,
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
        match (change, facts.event.as_mut()) {
            // Deleted between the delta page and now: the next round reports the removal.
            (EventChange::Event(_), None) => return Ok(facts),
            // The series master the page read stays with the occurrence (its key).
            (EventChange::Event(page), Some(now)) => {
                now.series.master.clone_from(&page.series.master);
            }
            (_, None) => series_removal(kind, cx, run, &mut facts).await?,
            _ => {}
        }
    }
    let ev: Option<&CalEvent> = match change {
        EventChange::Event(ev) => Some(facts.event.as_ref().unwrap_or(ev)),
        _ => None,
    };
    if ev.is_some_and(|e| e.absence_id.is_some()) {
        return Ok(facts);
    }
    if let Some(master) = ev.and_then(|e| e.series.master.as_deref())
        && ev.is_some_and(CalEvent::is_occurrence)
    {
        facts.master = ensure_master(kind, cx, run, master).await?;
    }
    let global_key = cx
        .global_key
        .map(str::to_owned)
        .or_else(|| cx.link.and_then(|l| l.global_key.clone()));

    // The appointment: this link's, another mailbox's link, the external key.
    let mut candidate = cx.link.and_then(|l| l.crm_id).map(|id| (id, "link"));
    if let Some(k) = &global_key {
        let links = cx
            .store
            .links_by_global_key(cx.kind, k)
            .await
            .map_err(store_error)?;
        facts.other_links = others(&links, cx.mailbox());
        if candidate.is_none()
            && let Some(other) = links
                .iter()
                .find(|l| l.state == LinkState::Active && l.crm_id.is_some())
        {
            candidate = other.crm_id.map(|id| (id, OTHER_LINK));
            // What CRM held when that mailbox last synced: a CRM edit since then is one to
            // weigh against this copy's fields, not to overwrite unseen.
            facts.baseline = other.crm_hash.clone();
        }
        // A removal is looked up by key only for an intent: the record an interrupted write
        // may have made (a linked removal has its record in the link).
        if ev.is_some() || crate::appointments::decide::is_intent(cx.link) {
            facts.key = kind.crm.find_by_key(rep, k).await?;
        }
        if candidate.is_none()
            && let Some(k) = &facts.key
        {
            candidate = Some((k.id, "external key"));
            facts.baseline = cut_off_write(&links, cx.mailbox(), k.id);
        }
        // A copy met only after the meeting's record was deleted in CRM (this copy's first
        // link was cut off): the record and its external key are gone, but another
        // mailbox's link, closed with it, still names it.
        if candidate.is_none()
            && ev.is_some()
            && let Some(closed) = links
                .iter()
                .find(|l| l.state == LinkState::SoftDeleted && l.crm_id.is_some())
        {
            candidate = closed.crm_id.map(|id| (id, CLOSED_LINK));
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
    if candidate.is_none()
        && let Some(e) = ev
        && let Some(ad) = &kind.adoption
        && ad.settings.legacy_ids
        && !adopt::legacy::came_after_switch_over(&ad.settings, run.switch_over, e.created)
    {
        // The previous connector's key, by the EWS id or entry id it stored.
        let index = run
            .legacy
            .get(
                ad,
                cx,
                &kind.rules.dialect.appointment.content_type,
                RecordTable::Activity,
            )
            .await?;
        if let Some((id, how)) = index.find(&e.id) {
            if adopt::taken(cx, cx.kind, id, &e.id, global_key.as_deref()).await? {
                tracing::warn!(
                    mailbox = cx.mailbox(),
                    appointment = %id,
                    "the previous connector's key names an appointment another event is linked to; not adopted"
                );
            } else {
                candidate = Some((id, how.as_str()));
            }
        }
    }
    if let Some((id, how)) = candidate {
        facts.candidate = Some(id);
        facts.existing = kind.crm.appointment(rep, id).await?;
        facts.found_by = Some(how);
        facts.adopted_by = adopted_by(how);
    }
    let Some(ev) = ev else {
        return Ok(facts);
    };
    let addresses = lookup_addresses(ev, &kind.reps);
    if !addresses.is_empty() && !ev.is_cancelled {
        facts.people = kind.crm.find_people(rep, &addresses).await?;
    }
    // An attempt interrupted after the insert and before the external key left an
    // appointment without key: found by rep, date, time and subject. The same search is the
    // content match of adoption for an event without link.
    let interrupted = is_interrupted(cx.link);
    let content_match = cx.link.is_none()
        && kind
            .adoption
            .as_ref()
            .is_some_and(|a| a.settings.content_match);
    if facts.existing.is_none()
        && (interrupted || content_match)
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
            let how = if interrupted {
                AdoptedBy::Interrupted
            } else {
                AdoptedBy::ContentMatch
            };
            // Never a record linked to another item, even for an interrupted attempt: a
            // series' master record has its first occurrence's date, time and subject.
            if !adopt::taken(cx, cx.kind, id, &ev.id, global_key.as_deref()).await? {
                let found = kind.crm.appointment(rep, id).await?;
                // Nor a record of another series role (a master record for an occurrence).
                if found.as_ref().is_some_and(|a| {
                    crate::appointments::series::is_master_record(a, &kind.rules) == ev.is_master()
                }) {
                    facts.existing = found;
                    facts.found_by = Some(how.as_str());
                    facts.adopted_by = Some(how);
                }
            }
        }
    }
    Ok(facts)
}

/// How an appointment found through another mailbox's active link is named (`found_by`).
pub const OTHER_LINK: &str = "a link of another mailbox";

/// How an appointment found through another mailbox's closed link is named (`found_by`).
pub const CLOSED_LINK: &str = "a closed link of another mailbox";

/// The ledger's `adopted_by` for the ways gather finds an appointment.
fn adopted_by(how: &str) -> Option<AdoptedBy> {
    Some(match how {
        OTHER_LINK | CLOSED_LINK => AdoptedBy::Link,
        "external key" => AdoptedBy::ICalUId,
        "the CrmId property" => AdoptedBy::CrmIdProperty,
        "left by an interrupted attempt" => AdoptedBy::Interrupted,
        h if h == AdoptedBy::EwsId.as_str() => AdoptedBy::EwsId,
        h if h == AdoptedBy::EntryId.as_str() => AdoptedBy::EntryId,
        h if h == AdoptedBy::ContentMatch.as_str() => AdoptedBy::ContentMatch,
        _ => return None,
    })
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
            facts.adopted_by = facts.event.as_ref().map(|_| AdoptedBy::CrmIdProperty);
            if facts.event.is_none()
                && let EventChange::Crm(item) = change
                && item.appointment.keys.is_empty()
                && let Some(ad) = &kind.adoption
                && ad.settings.content_match
            {
                facts.event = event_by_content(kind, cx, ad, &item.appointment).await?;
                if facts.event.is_some() {
                    facts.found_by = Some(AdoptedBy::ContentMatch.as_str());
                    facts.adopted_by = Some(AdoptedBy::ContentMatch);
                }
            }
        }
    }
    Ok(facts)
}

/// The master record of an occurrence's series: this mailbox's link to the master when it is
/// at the master's current version, else the master worked first as an item of its own (under
/// the series' key: created, adopted from another rep's copy, or updated, by the same rules as
/// any event). The occurrences of one series in this run wait for the first of them.
async fn ensure_master(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    run: &AppointmentRun,
    master: &CalEvent,
) -> Result<Option<gc_store::CrmId>, PortError> {
    let lock = run.series_lock(&master.id);
    let _series = lock.lock().await;
    let link = cx
        .store
        .get_link(cx.kind, cx.mailbox(), &master.id)
        .await
        .map_err(store_error)?;
    if let Some(l) = &link
        && !series::master_behind(Some(l), master)
    {
        return Ok(l.crm_id);
    }
    let link = work_nested(
        kind,
        cx.run,
        run,
        &EventChange::Event(Box::new(master.clone())),
    )
    .await?;
    Ok(link
        .filter(|l| l.state == LinkState::Active)
        .and_then(|l| l.crm_id))
}

/// A linked occurrence is gone from the calendar: did the organizer cancel it (its master
/// lists it among the cancelled occurrences), or is the whole series gone (then its master
/// record follows, as an item of its own, by the deletion rules)? A master that is still
/// there and changed since its record was written is worked first, as an occurrence's change
/// would: the cancellation may be the only change of the series this run sees (the last
/// occurrence in the window cancelled after the series was edited).
async fn series_removal(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    run: &AppointmentRun,
    facts: &mut Facts,
) -> Result<(), PortError> {
    let Some((uid, start)) = cx
        .link
        .and_then(|l| l.global_key.as_deref())
        .and_then(series::parse_occurrence_key)
    else {
        return Ok(());
    };
    let Some(master_link) = cx
        .store
        .links_by_global_key(cx.kind, uid)
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|l| l.mailbox == cx.mailbox())
    else {
        return Ok(());
    };
    match kind.master(cx.user(), run, &master_link.graph_id).await? {
        Some(m) => {
            facts.occurrence_cancelled = series::is_cancelled(&m, start);
            if master_link.state == LinkState::Active
                && master_link.crm_id.is_some()
                && series::master_behind(Some(&master_link), &m)
            {
                let lock = run.series_lock(&m.id);
                let _series = lock.lock().await;
                // Another occurrence may have brought the record up to date meanwhile.
                let now = cx
                    .store
                    .get_link(cx.kind, cx.mailbox(), &m.id)
                    .await
                    .map_err(store_error)?;
                if series::master_behind(now.as_ref(), &m) {
                    work_nested(kind, cx.run, run, &EventChange::Event(Box::new(m))).await?;
                }
            }
        }
        None => {
            facts.series_gone = true;
            if master_link.state == LinkState::Active && master_link.crm_id.is_some() {
                let lock = run.series_lock(&master_link.graph_id);
                let _series = lock.lock().await;
                work_nested(
                    kind,
                    cx.run,
                    run,
                    &EventChange::Removed {
                        id: master_link.graph_id.clone(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The one event of this calendar with the appointment's subject and start, organised by the
/// mailbox's owner (or naming no organizer), that no link of this mailbox holds: the event the
/// previous connector wrote for an appointment it kept no key of. Two or more adopt nothing.
async fn event_by_content(
    kind: &AppointmentKind,
    cx: &ItemCx<'_>,
    ad: &Adoption,
    a: &CrmAppointment,
) -> Result<Option<CalEvent>, PortError> {
    let Some(start) = a.start else {
        return Ok(None);
    };
    let subject = a
        .fields
        .get(&kind.rules.dialect.activity.subject)
        .map(String::as_str)
        .unwrap_or_default();
    if subject.trim().is_empty() {
        return Ok(None);
    }
    let minute = jiff::SignedDuration::from_secs(60);
    let (Ok(from), Ok(to)) = (start.checked_sub(minute), start.checked_add(minute)) else {
        return Ok(None);
    };
    let stubs = ad.graph.events_starting(cx.user(), from, to).await?;
    let owner = &cx.target.owner;
    let mut addresses = owner.addresses.clone();
    addresses.push(owner.email.to_ascii_lowercase());
    let mut free = Vec::new();
    for e in content::matching_events(&stubs, subject, start, &addresses) {
        let linked = cx
            .store
            .get_link(cx.kind, cx.mailbox(), &e.id)
            .await
            .map_err(store_error)?
            .is_some_and(|l| l.crm_id.is_some() && l.state != LinkState::SoftDeleted);
        if !linked {
            free.push(e.id.clone());
        }
    }
    match free.as_slice() {
        [id] => kind.graph.event(cx.user(), id).await,
        [] => Ok(None),
        more => {
            tracing::info!(
                mailbox = cx.mailbox(),
                appointment = %a.id,
                candidates = more.len(),
                "several events look like this appointment; none adopted by content"
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use gc_store::{CrmId, Kind, Link};

    #[test]
    fn another_mailboxs_cut_off_write_is_the_baseline_of_the_record_its_key_finds() {
        let intent = |mailbox: &str, crm_id: Option<u64>, hash: Option<&str>| {
            let mut l = Link::new(Kind::Appointment, mailbox, "e1");
            l.state = LinkState::Interrupted;
            l.crm_id = crm_id.map(CrmId);
            l.crm_hash = hash.map(str::to_owned);
            l
        };
        let written = Some("written".to_owned());
        // Cut off before the insert answered (no id yet), or after a partial write.
        for l in [
            intent("8", None, Some("written")),
            intent("8", Some(99), Some("written")),
        ] {
            assert_eq!(cut_off_write(&[l], "7", CrmId(99)), written);
        }
        // Not this mailbox's own intent (the decision takes that from its link), nor one of
        // another record, one without a hash, or an active link (found by link, not by key).
        let mut active = intent("8", Some(99), Some("written"));
        active.state = LinkState::Active;
        for l in [
            intent("7", None, Some("written")),
            intent("8", Some(98), Some("written")),
            intent("8", None, None),
            intent("8", None, Some("")),
            active,
        ] {
            assert_eq!(cut_off_write(&[l], "7", CrmId(99)), None);
        }
    }
}
