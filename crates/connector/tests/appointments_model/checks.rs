//! The checks of the end state after the quiet sync: no duplicates, deletions stay, both
//! sides agree, no edit lost without a ledger entry; and for a series, the master alone in
//! the calendar, one live master record and one live serial record per occurrence. Apart
//! from the generator: this is what must hold, whatever the scenarios did.

use gc_crm::CrmId;
use gc_store::{Kind, LedgerFilter};

use super::model::{Appt, Scenario, World};

pub(super) async fn check(w: &World, scenarios: &[Scenario]) {
    let crm = w.appointments().await;
    let ledger =
        w.rt.store
            .query_ledger(&LedgerFilter {
                kind: Some(Kind::Appointment),
                limit: Some(1_000_000),
                ..LedgerFilter::default()
            })
            .await
            .unwrap();
    let losers: Vec<String> = ledger
        .iter()
        .filter_map(|e| {
            e.detail.as_ref()?["conflict"]["losingVersion"]["subject"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    for sc in scenarios {
        if sc.series.is_some() {
            check_series(w, sc, &crm, &ledger, &losers).await;
            continue;
        }
        let events = w.events(sc.owner, &sc.tag);
        let live: Vec<&Appt> = crm
            .iter()
            .filter(|a| a.subject.starts_with(&sc.tag) && !a.deleted)
            .collect();
        assert!(events.len() <= 1, "{sc:?}: duplicate events {events:?}");
        assert!(live.len() <= 1, "{sc:?}: duplicate appointments {live:?}");
        // The scenario's record's entries and its event's, and the event's link.
        let event_link = match &sc.event {
            Some(id) => w.link(sc.owner, id).await,
            None => None,
        };
        let history = || {
            let mut h: Vec<String> = ledger
                .iter()
                .filter(|e| {
                    (sc.crm.is_some() && e.crm_id == sc.crm)
                        || sc.event.as_deref() == Some(e.item_key.as_str())
                })
                .map(entry_line)
                .collect();
            h.push(format!("the event's link: {event_link:?}"));
            h
        };
        if sc.deleted {
            assert!(
                events.is_empty(),
                "{sc:?}: a deleted item came back as {events:?}; {:#?}",
                history()
            );
            assert!(
                live.is_empty(),
                "{sc:?}: a deleted item came back as {live:?}; {:#?}",
                history()
            );
            continue;
        }
        assert_eq!(events.len(), 1, "{sc:?}: no event (appointments {live:?})");
        assert_eq!(live.len(), 1, "{sc:?}: no appointment (events {events:?})");
        let fin = &events[0].1;
        assert_eq!(fin, &live[0].subject, "{sc:?}: the sides disagree");
        for (side, (subject, at)) in &sc.last {
            if subject == fin {
                continue;
            }
            // Overtaken by the other side's later edit after a complete sync, or a conflict's
            // losing version in the ledger. The later edit need not be the final subject: it
            // may itself have lost a conflict, and is then checked on its own side (m2-37: a
            // CRM edit seen on both sides, then three calendar edits, the last of which lost
            // to CRM's copy of the one before).
            let other = sc.last.get(&(1 - side));
            let overtaken = other.is_some_and(|(s, later)| {
                (s == fin || losers.iter().any(|l| l == s))
                    && (w.complete_after.iter().any(|c| c >= at && c < later)
                        || sc.seen.iter().any(|(seen_on, seen, t)| {
                            *seen_on == 1 - side && seen == subject && t >= at && t < later
                        }))
            });
            assert!(
                overtaken || losers.iter().any(|l| l == subject),
                "{sc:?}: the edit {subject:?} was lost without a ledger entry (final {fin:?}); {:#?}",
                history()
            );
        }
    }
}

/// One ledger entry of a failing scenario's history.
fn entry_line(e: &gc_store::LedgerEntry) -> String {
    format!(
        "{} {:?} {} {}: {}",
        e.at, e.action, e.mailbox, e.item_key, e.reason
    )
}

/// The end state of a series scenario: a deleted series leaves no event and no live record;
/// otherwise the organizer's calendar holds the master alone (no occurrence written back as
/// an event of its own), CRM one live master record with the master's subject and, per
/// occurrence in the window, one live serial record on its date with its subject, and no
/// other live record (a cancelled occurrence's record, or one deleted in CRM, is marked
/// deleted); a CRM edit of a serial record that the end state does not show is the losing
/// version of a conflict entry in the ledger.
async fn check_series(
    w: &World,
    sc: &Scenario,
    crm: &[Appt],
    ledger: &[gc_store::LedgerEntry],
    losers: &[String],
) {
    let series = sc.series.as_ref().unwrap();
    let events = w.events(sc.owner, &sc.tag);
    let records: Vec<&Appt> = crm
        .iter()
        .filter(|a| a.subject.starts_with(&sc.tag))
        .collect();
    let live: Vec<&Appt> = records.iter().copied().filter(|a| !a.deleted).collect();
    let ids: Vec<CrmId> = records.iter().map(|a| a.id).collect();
    // The entries of the series' records, and every entry of the items those name (a link
    // closed or skipped without a record names none).
    let items: std::collections::BTreeSet<&str> = ledger
        .iter()
        .filter(|e| e.crm_id.is_some_and(|id| ids.contains(&id)))
        .map(|e| e.item_key.as_str())
        .collect();
    let history = || {
        ledger
            .iter()
            .filter(|e| {
                e.crm_id.is_some_and(|id| ids.contains(&id)) || items.contains(e.item_key.as_str())
            })
            .map(entry_line)
            .collect::<Vec<_>>()
    };
    if sc.deleted {
        assert!(
            events.is_empty(),
            "{sc:?}: a deleted series came back as {events:?}; {:#?}",
            history()
        );
        assert!(
            live.is_empty(),
            "{sc:?}: a deleted series left live records {live:#?}; {:#?}",
            history()
        );
        return;
    }
    let master = sc.event.as_deref().unwrap();
    assert_eq!(
        events.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        vec![master],
        "{sc:?}: the series' master alone in the calendar; {:#?}",
        history()
    );
    let subject = &events[0].1;
    let occurrences = w.occurrences(sc.owner, master).await;
    if records.is_empty() && occurrences.is_empty() {
        // Every occurrence in the window was cancelled before a run saw one: the calendar's
        // window never showed the series (a master is not in a calendar view), so there is
        // nothing to synchronize, and nothing was.
        return;
    }
    let masters: Vec<&&Appt> = live.iter().filter(|a| a.master).collect();
    assert_eq!(
        masters.len(),
        1,
        "{sc:?}: one live master record: {records:#?}; {:#?}",
        history()
    );
    assert_eq!(
        &masters[0].subject,
        subject,
        "{sc:?}: the master record and the series disagree; {:#?}",
        history()
    );
    for (_, date, occ_subject) in &occurrences {
        let on: Vec<&&Appt> = live
            .iter()
            .filter(|a| a.serial && &a.date == date)
            .collect();
        assert_eq!(
            on.len(),
            1,
            "{sc:?}: one live serial record on {date}: {records:#?}; {:#?}",
            history()
        );
        assert_eq!(
            &on[0].subject,
            occ_subject,
            "{sc:?}: the occurrence on {date} and its record disagree; {:#?}",
            history()
        );
    }
    assert_eq!(
        live.len(),
        1 + occurrences.len(),
        "{sc:?}: no other live record (occurrences {occurrences:?}): {records:#?}; {:#?}",
        history()
    );
    for date in &series.cancelled {
        assert!(
            !occurrences.iter().any(|(_, d, _)| d == date),
            "{sc:?}: the occurrence on {date} came back; {:#?}",
            history()
        );
    }
    for (date, (edit, _)) in &series.crm_edits {
        if series.cancelled.contains(date) {
            continue;
        }
        let fin = occurrences
            .iter()
            .find(|(_, d, _)| d == date)
            .map(|(_, _, s)| s);
        assert!(
            fin == Some(edit) || losers.contains(edit),
            "{sc:?}: the CRM edit {edit:?} of the record on {date} was lost without a ledger entry (final {fin:?}); {:#?}",
            history()
        );
    }
}
