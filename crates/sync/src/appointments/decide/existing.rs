//! An event whose appointment exists in CRM: whether this copy owns the meeting's fields, the
//! both-changed rule on the calendar side, and what is written to complete the appointment
//! (fields, participants, the external key) with the ledger's reason. Kept apart from the
//! triage and the choice between create, sync and delete, which only hand the event over.

use gc_store::LinkState;

use super::{Decision, Input, participant};
use crate::appointments::conflict::{self, Winner};
use crate::appointments::content;
use crate::appointments::decide_crm;
use crate::appointments::fields::{Mapped, changed_fields};
use crate::appointments::gather::{Facts, OTHER_LINK};
use crate::appointments::model::{CalEvent, CrmAppointment, NewMember};
use crate::engine::Owner;

/// Whether this copy writes the meeting's fields: the organizer's copy, or, for an organizer
/// who is not a synced rep, the copy that wrote the appointment first (its external key's
/// mailbox).
///
/// The other way, CRM's edits go only to the organizer's own event
/// ([`takes_crm_edits`]): for an organizer who is not a synced rep, the copy owning the fields
/// is an attendee's copy of a meeting Microsoft 365 owns. Its CRM side records such an edit
/// without writing it back and keeps the agreed baseline in its link (as when the record is
/// `ConnectorPublished` and the CRM source leaves it alone), and its calendar side weighs the
/// edit at the organizer's next update, where the event wins even when the conflict rule picks
/// CRM (the edit is kept in the ledger entry); no other copy writes either way.
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

/// Whether CRM's edits of the meeting are written to this copy (the CRM side): the
/// organizer's own event, or one naming no organizer. Narrower than [`owns_fields`] on
/// purpose: an attendee's copy is overwritten by the organizer's next update, and a meeting
/// of an organizer who is not a synced rep is Microsoft 365's (docs/SYNC.md, "Edits").
pub fn takes_crm_edits(ev: &CalEvent, owner: &Owner) -> bool {
    ev.is_organizer || ev.organizer.as_deref().is_none_or(|o| owner.owns(o))
}

pub(super) fn sync_existing(
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
    // A record that this mailbox's write of the event made, cut off before linking it (the
    // link is still the intent; the record is found by its external key, through another
    // copy's link, or as left by the interrupted attempt): its baseline is what the write
    // wrote, which the intent keeps. Copying the event's fields over a CRM edit made since
    // would lose it without a trace; and a copy that does not own the fields keeps that
    // baseline in its link (below), for the copy that does to weigh the edit.
    let cut_write = !linked_here && crate::engine::cx::is_interrupted(i.link);
    let written = i
        .link
        .filter(|_| cut_write)
        .and_then(|l| l.crm_hash.as_deref());
    // Both changed since the last sync: the CRM side differs from what the link remembers.
    let baseline = match i.link {
        Some(l) if linked_here => l.crm_hash.as_deref(),
        _ => written.or(i.facts.baseline.as_deref()),
    };
    // An intent from before intents kept it: either side may have changed.
    let cut_unknown = owns && cut_write && written.is_none();
    // Nor does a record adopted through another copy's link that keeps no CRM hash (that
    // copy was adopted by the CrmId property and not compared by the CRM side yet): CRM may
    // have been edited since anyone agreed on its content. A record nobody linked (found by
    // the previous connector's key) stays without weighing: its content is that connector's
    // rendering of the event, which may differ where nobody edited anything.
    let adopted_unknown =
        !linked_here && i.facts.found_by == Some(OTHER_LINK) && baseline.is_none_or(str::is_empty);
    let crm_changed = if written_unlinked || uncompared || cut_unknown || adopted_unknown {
        decide_crm::contents_differ(ev, a, i.rules, i.reps)
    } else {
        baseline
            .is_some_and(|h| !h.is_empty() && h != content::crm_hash(a, i.rules, i.reps).as_str())
            // A CRM edit the event already shows is agreed content: no conflict to weigh (the
            // versions are the same) and no baseline to keep for it, so the link moves to
            // CRM's content here, on the calendar side. An attendee's copy whose CRM side met
            // the edit before the meeting update reached it otherwise kept the old baseline
            // until its CRM side met the record again, and the organizer's copy adopting
            // through its link (after a forget) recorded a conflict of two equal versions.
            && !decide_crm::event_shows_crm(ev, a, i.rules, i.reps, i.owner)
    };
    let mut conflict = None;
    // Why the rule's pick of CRM does not hold on this copy ([`conflict::overruled`]): the
    // event wins instead.
    let mut overruled = None;
    if owns && !same_content && crm_changed {
        // Without the CRM → Microsoft 365 direction the event always wins.
        if conflict::conflict_winner(i.rules, ev, a) == Winner::Crm && i.rules.crm_to_microsoft365()
        {
            overruled = conflict::overruled(ev, i.owner);
            if overruled.is_none() {
                return conflict::crm_wins(&i, ev, a);
            }
        }
        let losing = content::of_crm(a, i.rules, i.reps).ok();
        conflict = Some(conflict::conflict_detail(
            i.rules,
            Winner::Microsoft365,
            losing.as_ref(),
            ev,
            a,
            overruled.as_deref(),
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
        // The baseline stays: this link's, or, for a copy adopting the record (an attendee's,
        // through another copy's link whose baseline CRM moved past), the one it adopted.
        // Without it the link kept none, and its CRM side, meeting the edit, took CRM's new
        // content for the agreed one: the organizer's copy adopting through this link later
        // copied its fields over the edit without a trace.
        i.link
            .and_then(|l| l.crm_hash.clone())
            .or_else(|| baseline.filter(|h| !h.is_empty()).map(str::to_owned))
    } else {
        Some(content::crm_hash(&after, i.rules, i.reps))
    };
    let reason = match (adopted, fields.is_empty(), owns) {
        (false, false, _) if let Some(why) = &overruled => format!(
            "both sides changed since the last sync; {why}, so the event's version wins whatever [appointments] conflict says: {} field(s) updated, CRM's version is kept in this entry",
            fields.len()
        ),
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
