//! Recurring series, without I/O: the tenant-wide keys of a series and its occurrences, which
//! occurrences the organizer cancelled, and the series fields of CRM records.
//!
//! A series is one master record in CRM (`IsMasterContact`, fields from the series master:
//! subject, first start and end, location, body, attendees) plus one serial record per
//! occurrence in the window (`IsSerialContact`, naming its master's StatNo/SeqNo). The master
//! is keyed by the series' `iCalUId`; an occurrence by that `iCalUId` and its original start
//! (`originalStart`, which a moved occurrence keeps): occurrence ids are per calendar, so every
//! synced rep's copy of a series meets the same records.

use gc_store::{CrmId, Link, LinkState};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::appointments::model::{CalEvent, CrmAppointment};
use crate::appointments::rules::AppointmentRules;

/// Tenant-wide key of an occurrence: the series' `iCalUId`, `#`, its original start in UTC.
pub fn occurrence_key(series_uid: &str, original_start: Timestamp) -> String {
    format!(
        "{series_uid}#{}",
        original_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The series' `iCalUId` and the original start of an occurrence key; `None` for any other
/// key.
pub fn parse_occurrence_key(key: &str) -> Option<(&str, Timestamp)> {
    let (uid, start) = key.rsplit_once('#')?;
    let start = start.parse::<Timestamp>().ok()?;
    (!uid.is_empty()).then_some((uid, start))
}

/// The key of an occurrence or exception whose master has been read; `None` otherwise.
pub fn key_of(ev: &CalEvent) -> Option<String> {
    if !ev.is_occurrence() {
        return None;
    }
    let master = ev.series.master.as_ref()?;
    let uid = master
        .ical_uid
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())?;
    Some(occurrence_key(uid, ev.series.original_start?))
}

/// The date of one of a master's `cancelledOccurrences` (`OID.{masterId}.{yyyy-mm-dd}`).
pub fn cancelled_date(oid: &str) -> Option<Date> {
    oid.trim().rsplit_once('.')?.1.parse().ok()
}

/// The series' time zone: its recurrence time zone (or the master's `originalStartTimeZone`),
/// a Windows name mapped to IANA through CLDR's windowsZones, or an IANA name.
pub fn zone(master: &CalEvent) -> Result<TimeZone, String> {
    match master.series.zone.as_deref() {
        None => Ok(TimeZone::UTC),
        Some(z) => gc_graph::tz::resolve_zone(z).map_err(|e| e.to_string()),
    }
}

/// Whether the organizer cancelled the occurrence the pattern scheduled at `original_start`:
/// the master lists its date (a date in the series' time zone: 00:30 in Vienna is the evening
/// before in UTC) among its `cancelledOccurrences`.
pub fn is_cancelled(master: &CalEvent, original_start: Timestamp) -> bool {
    let tz = zone(master).unwrap_or(TimeZone::UTC);
    let date = tz.to_datetime(original_start).date();
    master.series.cancelled.contains(&date)
}

/// Whether a series' master record is behind its master: this mailbox's link to the master
/// is not in force at the master's current change key. A master is never in the calendarView
/// delta, so it is worked (created, updated) when a change of one of its occurrences, or an
/// occurrence's cancellation, finds it behind: a change of the master (its subject, say)
/// changes every occurrence, and a cancellation may be the only change of the series a run
/// sees (the last occurrence in the window cancelled after the master was edited).
pub fn master_behind(link: Option<&Link>, master: &CalEvent) -> bool {
    !link.is_some_and(|l| {
        l.state == LinkState::Active
            && l.graph_version.is_some()
            && l.graph_version == master.change_key
    })
}

/// What a record is in a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not part of a series.
    Single,
    /// A series' master record.
    Master,
    /// One occurrence's record, with its master's record when there is one.
    Serial(Option<CrmId>),
}

/// The role of an event's record (`master`: the master's record, for an occurrence).
pub fn role(ev: &CalEvent, master: Option<CrmId>) -> Role {
    if ev.is_master() {
        Role::Master
    } else if ev.is_occurrence() {
        Role::Serial(master)
    } else {
        Role::Single
    }
}

/// The series fields a record gets (names from `[crm.dialect.appointment]`, only those the
/// rules write): the master and serial flags and, on a serial record, its master's StatNo and
/// SeqNo. A single event writes none (a record that was something else is left as it is).
pub fn fields(role: Role, rules: &AppointmentRules) -> Vec<(String, String)> {
    let dl = &rules.dialect;
    let m = &dl.appointment;
    let mut out = Vec::new();
    let mut put = |name: &str, v: String| {
        if rules.writes(name) {
            out.push((name.to_owned(), v));
        }
    };
    match role {
        Role::Single => {}
        Role::Master => {
            put(&m.is_master, dl.format_bool(true));
            put(&m.is_serial, dl.format_bool(false));
        }
        Role::Serial(master) => {
            put(&m.is_master, dl.format_bool(false));
            put(&m.is_serial, dl.format_bool(true));
            if let Some(id) = master {
                put(&m.master_stat_no, id.stat_no().to_string());
                put(&m.master_seq_no, id.seq_no().to_string());
            }
        }
    }
    out
}

/// Whether a CRM appointment is a series' master record.
pub fn is_master_record(a: &CrmAppointment, rules: &AppointmentRules) -> bool {
    let dl = &rules.dialect;
    let f = &dl.appointment.is_master;
    !f.is_empty() && a.fields.get(f).is_some_and(|v| dl.parse_bool(v))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::appointments::decide::tests::ev;

    fn master() -> CalEvent {
        let mut m = ev();
        m.id = "m1".into();
        m.ical_uid = Some("series-uid".into());
        m.event_type = "seriesMaster".into();
        m.series.zone = Some("W. Europe Standard Time".into());
        m
    }

    fn occurrence(start: &str) -> CalEvent {
        let mut o = ev();
        o.id = format!("occ-{start}");
        o.ical_uid = Some(format!("own-{start}"));
        o.event_type = "occurrence".into();
        o.series.master_id = Some("m1".into());
        o.series.original_start = Some(start.parse().unwrap());
        o.series.master = Some(Box::new(master()));
        o
    }

    #[test]
    fn an_occurrence_is_keyed_by_its_series_and_original_start() {
        let o = occurrence("2027-03-29T07:00:00Z");
        let k = o.global_key("anna");
        assert_eq!(k, "series-uid#2027-03-29T07:00:00Z");
        assert_eq!(
            parse_occurrence_key(&k),
            Some(("series-uid", "2027-03-29T07:00:00Z".parse().unwrap()))
        );
        // Another rep's copy (own id, own per-occurrence iCalUId) has the same key.
        let mut copy = o.clone();
        copy.id = "bob-occ".into();
        copy.ical_uid = None;
        assert_eq!(copy.global_key("bob"), k);
        // Moved: the original start stays.
        let mut moved = o.clone();
        moved.event_type = "exception".into();
        assert_eq!(moved.global_key("anna"), k);
        // Without its master read, an occurrence keeps its own key.
        let mut bare = o;
        bare.series.master = None;
        assert_eq!(bare.global_key("anna"), "own-2027-03-29T07:00:00Z");
        assert_eq!(master().global_key("anna"), "series-uid");
        assert_eq!(parse_occurrence_key("series-uid"), None);
        assert_eq!(parse_occurrence_key("a#b#not-a-time"), None);
    }

    #[test]
    fn cancelled_occurrences_compare_by_the_date_in_the_series_zone() {
        let mut m = master();
        m.series.cancelled = vec![cancelled_date("OID.AAMkAD=.2027-03-29").unwrap()];
        // 00:30 in Vienna on 29 March (summer time) is 22:30 UTC on the 28th.
        assert!(is_cancelled(&m, "2027-03-28T22:30:00Z".parse().unwrap()));
        assert!(is_cancelled(&m, "2027-03-29T07:00:00Z".parse().unwrap()));
        assert!(!is_cancelled(&m, "2027-03-22T08:00:00Z".parse().unwrap()));
        // In UTC the same instant is another day.
        m.series.zone = None;
        assert!(!is_cancelled(&m, "2027-03-28T22:30:00Z".parse().unwrap()));
        m.series.zone = Some("Nowhere Standard Time".into());
        assert!(zone(&m).is_err());
        assert_eq!(cancelled_date("garbage"), None);
    }

    #[test]
    fn a_master_record_is_behind_unless_its_link_is_at_the_masters_change_key() {
        let mut m = master();
        m.change_key = Some("ck2".into());
        assert!(master_behind(None, &m), "never written");
        let mut l = Link::new(gc_store::Kind::Appointment, "7", "m1");
        l.crm_id = Some(CrmId(7));
        l.graph_version = Some("ck1".into());
        // Edited (or an occurrence cancelled) since the record was written.
        assert!(master_behind(Some(&l), &m));
        l.graph_version = Some("ck2".into());
        assert!(!master_behind(Some(&l), &m));
        // A master without a change key is never taken as current.
        m.change_key = None;
        l.graph_version = None;
        assert!(master_behind(Some(&l), &m));
        m.change_key = Some("ck2".into());
        l.graph_version = Some("ck2".into());
        l.state = LinkState::Interrupted;
        assert!(
            master_behind(Some(&l), &m),
            "an interrupted write is completed"
        );
    }

    #[test]
    fn records_get_the_series_fields_of_their_role() {
        let rules = AppointmentRules::default();
        assert!(fields(Role::Single, &rules).is_empty());
        let m = fields(Role::Master, &rules);
        assert!(m.contains(&("IsMasterContact".into(), "true".into())));
        let s = fields(Role::Serial(Some(CrmId::new(2, 17))), &rules);
        assert!(s.contains(&("IsSerialContact".into(), "true".into())));
        assert!(s.contains(&("ContactStatNo".into(), "2".into())));
        assert!(s.contains(&("ContactSeqNo".into(), "17".into())));
        // An installation without the link fields only flags its serial records.
        let mut bare = AppointmentRules::default();
        bare.dialect.appointment.master_stat_no = String::new();
        bare.dialect.appointment.master_seq_no = String::new();
        assert_eq!(
            fields(Role::Serial(Some(CrmId::new(2, 17))), &bare).len(),
            2
        );
        assert_eq!(role(&master(), None), Role::Master);
        assert_eq!(
            role(&occurrence("2027-03-29T07:00:00Z"), Some(CrmId(5))),
            Role::Serial(Some(CrmId(5)))
        );
        assert_eq!(role(&ev(), None), Role::Single);
    }
}
