//! The scenario generator: one step of a single event or meeting (created on either side,
//! then edited, moved or deleted on either side) and one step of a recurring series (created
//! in Microsoft 365, then its subject edited, an occurrence moved or cancelled, a serial
//! record edited or deleted in CRM, the series deleted). Apart from the runs and the checks:
//! this is what the scenarios do, drawn from the seed.

use gc_crm::NewActivity;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::model::{Appt, Scenario, Series, Side, World, day, key};

/// One step of one scenario.
pub(super) async fn step(
    w: &World,
    sc: &mut Scenario,
    rng: &mut ChaCha8Rng,
    at: usize,
    crm: &[Appt],
) {
    if sc.deleted {
        return;
    }
    if sc.series.is_some() {
        return step_series(w, sc, rng, at, crm).await;
    }
    let owner = &w.users[sc.owner].0;
    if at == 0 {
        let d = day(rng.random_range(1..5));
        let hour = rng.random_range(8..16);
        let subject = format!("{}e0", sc.tag);
        match sc.origin {
            Side::M365 => {
                let mut body = json!({
                    "subject": subject,
                    "start": {"dateTime": format!("{d}T{hour:02}:00:00"), "timeZone": "UTC"},
                    "end": {"dateTime": format!("{d}T{:02}:00:00", hour + 1), "timeZone": "UTC"},
                });
                if let Some(gu) = sc.guest {
                    body["attendees"] =
                        json!([{"type": "required", "emailAddress": {"address": w.users[gu].0}}]);
                }
                let ev = w.g.create_event(owner, &body).await.unwrap();
                sc.event = Some(ev.id);
            }
            Side::Crm => {
                let mut a = NewActivity::new("Meeting", &subject, d);
                a.time = Some(jiff::civil::time(hour, 0, 0, 0));
                a.end_date = Some(d);
                a.end_time = Some(jiff::civil::time(hour + 1, 0, 0, 0));
                a.rep_id = Some(w.users[sc.owner].1.rep_id.clone());
                sc.crm = Some(w.env.crm().as_rep(owner).insert_activity(&a).await.unwrap());
            }
        }
        sc.last.insert(key(sc.origin), (subject, at));
        return;
    }
    // Find what the other side has by now.
    if sc.event.is_none() {
        sc.event = w
            .events(sc.owner, &sc.tag)
            .first()
            .map(|(id, _)| id.clone());
    }
    if sc.crm.is_none() {
        sc.crm = crm
            .iter()
            .find(|a| a.subject.starts_with(&sc.tag))
            .map(|a| a.id);
    }
    let roll = rng.random_range(0..100);
    let side = if rng.random_bool(0.5) {
        Side::M365
    } else {
        Side::Crm
    };
    match (roll, side) {
        // Nothing this step.
        (0..40, _) => {}
        // An edit of the subject (and sometimes a move).
        (40..88, Side::M365) => {
            let Some(id) = &sc.event else { return };
            sc.edits += 1;
            let subject = format!("{}m{}", sc.tag, sc.edits);
            let mut patch = json!({"subject": subject});
            if rng.random_bool(0.3) {
                let d = day(rng.random_range(1..5));
                patch["start"] = json!({"dateTime": format!("{d}T07:30:00"), "timeZone": "UTC"});
                patch["end"] = json!({"dateTime": format!("{d}T08:00:00"), "timeZone": "UTC"});
            }
            if w.g.update_event(owner, id, &patch).await.is_ok() {
                sc.last.insert(key(Side::M365), (subject, at));
            }
        }
        (40..88, Side::Crm) => {
            let Some(id) = sc.crm else { return };
            sc.edits += 1;
            let subject = format!("{}c{}", sc.tag, sc.edits);
            let crm = w.env.crm();
            let dl = crm.dialect().clone();
            let mut fields = vec![(dl.activity.subject.clone(), subject.clone())];
            if rng.random_bool(0.3) {
                fields.push((dl.activity.time.clone(), "15:15".into()));
                fields.push((dl.activity.end_time.clone(), "15:45".into()));
            }
            if crm.as_rep(owner).update_activity(id, &fields).await.is_ok() {
                sc.last.insert(key(Side::Crm), (subject, at));
            }
        }
        // A deletion.
        (_, Side::M365) => {
            let Some(id) = &sc.event else { return };
            // Only an event a run has committed: one a cut-off run created and never linked,
            // deleted before the next run, cannot be told from one never created (the CRM
            // side writes it again; see docs/SYNC.md).
            if !w.linked(sc.owner, id).await {
                return;
            }
            w.g.delete_event(owner, id).await.unwrap();
            sc.deleted = true;
        }
        (_, Side::Crm) => {
            let Some(id) = sc.crm else { return };
            let crm = w.env.crm();
            let dl = crm.dialect().clone();
            if rng.random_bool(0.5) {
                crm.as_rep(owner)
                    .update_activity(id, &[(dl.activity.deleted.clone(), dl.format_bool(true))])
                    .await
                    .unwrap();
            } else {
                crm.master().delete(&dl.activity.table, id).await.unwrap();
            }
            sc.deleted = true;
        }
    }
}

/// The weekday's name in a Graph recurrence pattern.
fn weekday_name(d: jiff::civil::Date) -> &'static str {
    use jiff::civil::Weekday::*;
    match d.weekday() {
        Monday => "monday",
        Tuesday => "tuesday",
        Wednesday => "wednesday",
        Thursday => "thursday",
        Friday => "friday",
        Saturday => "saturday",
        Sunday => "sunday",
    }
}

/// How many occurrences are left in the window that are not cancelled (or their record
/// marked deleted in CRM, which cancels them at the next run). A shared series is not deleted
/// once none is left (docs/SYNC.md, "The model-based test of appointments"): the organizer's
/// deletion only closes the master record's link while the attendee's copy is linked, and the
/// attendee's cancelled copy has no occurrence for its calendar to report; the master record
/// is marked only by the attendee calendar's next walk from the start (a new day), which the
/// test does not reach.
fn left(series: &Series, occurrences: &[(String, String, String)]) -> usize {
    occurrences
        .iter()
        .filter(|(_, d, _)| !series.cancelled.contains(d))
        .count()
}

/// One step of a series scenario: created in Microsoft 365 at step 0 (daily, two to four
/// times from a day between two days ago and three days ahead, or weekly, two or three times
/// from a day between five days ago and today: every occurrence inside the window of
/// `days_past = 7`, `days_future = 14`), then at each later step its master's subject edited,
/// one occurrence moved or cancelled, a serial record edited or marked deleted in CRM, or the
/// whole series deleted.
async fn step_series(w: &World, sc: &mut Scenario, rng: &mut ChaCha8Rng, at: usize, crm: &[Appt]) {
    let owner = &w.users[sc.owner].0;
    if at == 0 {
        let weekly = rng.random_bool(0.5);
        let (first, count) = if weekly {
            (day(rng.random_range(-5..=0)), rng.random_range(2..=3))
        } else {
            (day(rng.random_range(-2..=3)), rng.random_range(2..=4))
        };
        let hour = rng.random_range(8..16);
        let subject = format!("{}e0", sc.tag);
        let mut body = json!({
            "subject": subject,
            "start": {"dateTime": format!("{first}T{hour:02}:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{first}T{:02}:00:00", hour + 1), "timeZone": "UTC"},
            "recurrence": {
                "pattern": {
                    "type": if weekly { "weekly" } else { "daily" },
                    "interval": 1,
                    "daysOfWeek": [weekday_name(first)],
                    "firstDayOfWeek": "monday",
                },
                "range": {
                    "type": "numbered",
                    "startDate": first.to_string(),
                    "numberOfOccurrences": count,
                    "recurrenceTimeZone": "UTC",
                },
            },
        });
        if let Some(gu) = sc.guest {
            body["attendees"] =
                json!([{"type": "required", "emailAddress": {"address": w.users[gu].0}}]);
        }
        let ev = w.g.create_event(owner, &body).await.unwrap();
        sc.event = Some(ev.id);
        sc.last.insert(key(Side::M365), (subject, at));
        w.count(if sc.guest.is_some() {
            "created, shared"
        } else {
            "created"
        });
        return;
    }
    let master = sc.event.clone().unwrap();
    let series = sc.series.as_mut().unwrap();
    match rng.random_range(0..100) {
        // Nothing this step.
        0..40 => {}
        // The series' subject (the master's: every occurrence that has no subject of its own).
        40..58 => {
            sc.edits += 1;
            let subject = format!("{}m{}", sc.tag, sc.edits);
            let patch = json!({"subject": subject});
            if w.g.update_event(owner, &master, &patch).await.is_ok() {
                sc.last.insert(key(Side::M365), (subject, at));
                w.count("series subject edited");
            }
        }
        // One occurrence moved (an exception; the same day, 07:30), or cancelled.
        r @ 58..80 => {
            let occurrences = w.occurrences(sc.owner, &master).await;
            if occurrences.is_empty() {
                return;
            }
            let (id, date, _) = &occurrences[rng.random_range(0..occurrences.len())];
            if r < 70 {
                w.g.update_event(
                    owner,
                    id,
                    &json!({
                        "start": {"dateTime": format!("{date}T07:30:00"), "timeZone": "UTC"},
                        "end": {"dateTime": format!("{date}T08:00:00"), "timeZone": "UTC"},
                    }),
                )
                .await
                .unwrap();
                w.count("occurrence moved");
            } else {
                w.g.delete_event(owner, id).await.unwrap();
                series.cancelled.push(date.clone());
                w.count("occurrence cancelled");
            }
        }
        // A serial record edited (its subject) or marked deleted in CRM.
        80..92 => {
            let serials: Vec<&Appt> = crm
                .iter()
                .filter(|a| a.serial && !a.deleted && a.subject.starts_with(&sc.tag))
                .collect();
            if serials.is_empty() {
                return;
            }
            let a = serials[rng.random_range(0..serials.len())];
            let client = w.env.crm();
            let dl = client.dialect().clone();
            if rng.random_bool(0.75) {
                sc.edits += 1;
                let subject = format!("{}c{}", sc.tag, sc.edits);
                let fields = [(dl.activity.subject.clone(), subject.clone())];
                if client
                    .as_rep(owner)
                    .update_activity(a.id, &fields)
                    .await
                    .is_ok()
                {
                    series.crm_edits.insert(a.date.clone(), (subject, at));
                    w.count("serial record edited in CRM");
                }
            } else {
                client
                    .as_rep(owner)
                    .update_activity(a.id, &[(dl.activity.deleted.clone(), dl.format_bool(true))])
                    .await
                    .unwrap();
                series.cancelled.push(a.date.clone());
                w.count("serial record deleted in CRM");
            }
        }
        // The whole series, once a run has linked its master (as a single event's deletion).
        _ => {
            if !w.linked(sc.owner, &master).await
                || (sc.guest.is_some()
                    && left(series, &w.occurrences(sc.owner, &master).await) == 0)
            {
                return;
            }
            w.g.delete_event(owner, &master).await.unwrap();
            sc.deleted = true;
            w.count("series deleted");
        }
    }
}
