#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Events, calendarView (+ window-fixed delta), instances, recurrence exceptions, time zones,
//! meetings with per-attendee copies, CRUD.

mod common;

use common::*;
use jiff::{Timestamp, ToSpan};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn window(days_back: i64, days_fwd: i64) -> (String, String) {
    let now = Timestamp::now();
    let s = (now - (days_back * 24).hours())
        .strftime("%Y-%m-%dT00:00:00Z")
        .to_string();
    let e = (now + (days_fwd * 24).hours())
        .strftime("%Y-%m-%dT00:00:00Z")
        .to_string();
    (s, e)
}

#[tokio::test]
async fn calendar_view_series_exceptions_instances_and_time_zones() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    // The weekly series starts on the Monday four weeks before this week's and runs twelve
    // weeks. From 35 days back to midnight after 35 days ahead, the window holds its first ten
    // occurrences whatever today's weekday: a window ending at midnight 35 days ahead would
    // stop at the Monday before its tenth occurrence when today is a Monday.
    let (s, e) = window(35, 36);
    let (items, _) = g
        .walk(
            &format!("/users/{u}/calendarView?startDateTime={s}&endDateTime={e}&$top=50"),
            None,
        )
        .await;
    let kinds: Vec<&str> = items.iter().map(|v| v["type"].as_str().unwrap()).collect();
    for k in ["singleInstance", "occurrence", "exception"] {
        assert!(kinds.contains(&k), "{k} missing in {kinds:?}");
    }
    assert!(!kinds.contains(&"seriesMaster"));
    assert!(items.iter().all(|v| v["start"]["timeZone"] == "UTC"));
    assert!(items.iter().any(|v| {
        v["isAllDay"] == true
            && v["start"]["dateTime"]
                .as_str()
                .unwrap()
                .ends_with("T00:00:00.0000000")
    }));
    assert!(items.iter().any(|v| v["sensitivity"] == "private"));
    assert!(
        items.iter().any(|v| v["isOrganizer"] == false),
        "a meeting organised by someone else"
    );
    let zones: std::collections::HashSet<&str> = items
        .iter()
        .map(|v| v["originalStartTimeZone"].as_str().unwrap())
        .collect();
    assert!(zones.len() >= 3, "{zones:?}");
    // Prefer: outlook.timezone
    let r = g
        .get_raw(
            &format!("/users/{u}/calendarView?startDateTime={s}&endDateTime={e}&$top=50"),
            Some("outlook.timezone=\"Pacific Standard Time\""),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert!(
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["start"]["timeZone"] == "Pacific Standard Time")
    );
    // the series: master via /events, instances with an exception and without the cancelled one
    let events = g.walk(&format!("/users/{u}/events?$top=50"), None).await.0;
    let master = events
        .iter()
        .find(|v| v["subject"] == "Weekly sales meeting")
        .expect("weekly series");
    assert_eq!(master["type"], "seriesMaster");
    assert_eq!(master["recurrence"]["pattern"]["type"], "weekly");
    assert_eq!(master["cancelledOccurrences"].as_array().unwrap().len(), 1);
    let mid = master["id"].as_str().unwrap();
    let inst = g
        .get(&format!(
            "/users/{u}/events/{mid}/instances?startDateTime={s}&endDateTime={e}"
        ))
        .await;
    let inst = inst["value"].as_array().unwrap();
    assert!(inst.iter().all(|i| i["seriesMasterId"] == mid));
    assert!(
        inst.iter().any(
            |i| i["type"] == "exception" && i["subject"].as_str().unwrap().ends_with("(moved)")
        )
    );
    let (all_inst, _) = g
        .walk(
            &format!("/users/{u}/events/{mid}/instances?startDateTime={s}&endDateTime={e}"),
            None,
        )
        .await;
    assert_eq!(
        all_inst.len(),
        9,
        "10 weeks in the window minus the cancelled one: {}",
        all_inst.len()
    );
    // an occurrence id can be fetched, and differs in iCalUId from the master
    let occ = all_inst.iter().find(|i| i["type"] == "occurrence").unwrap();
    let got = g
        .get(&format!(
            "/users/{u}/events/{}",
            occ["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(got["seriesMasterId"], mid);
    assert_ne!(got["iCalUId"], master["iCalUId"]);
    // missing window
    let r = g.get_raw(&format!("/users/{u}/calendarView"), None).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn meeting_copies_share_ical_uid_and_follow_the_organizer() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let a = user(&sb, 0);
    let b = user(&sb, 1);
    let find = |evs: &[Value], subj: &str| evs.iter().find(|v| v["subject"] == subj).cloned();
    let ea = g.walk(&format!("/users/{a}/events?$top=100"), None).await.0;
    let eb = g.walk(&format!("/users/{b}/events?$top=100"), None).await.0;
    let wa = find(&ea, "Weekly sales meeting").unwrap();
    let wb = find(&eb, "Weekly sales meeting").unwrap();
    assert_eq!(wa["iCalUId"], wb["iCalUId"]);
    assert_ne!(wa["id"], wb["id"]);
    assert_eq!(wa["isOrganizer"], true);
    assert_eq!(wb["isOrganizer"], false);
    // a new meeting from a to b
    let (st, e) = window(-1, 2);
    let (s, created) = g
        .post(
            &format!("/users/{a}/events"),
            json!({"subject": "Deal review", "start": {"dateTime": st.trim_end_matches('Z'), "timeZone": "W. Europe Standard Time"}, "end": {"dateTime": e.trim_end_matches('Z'), "timeZone": "W. Europe Standard Time"},
                   "attendees": [{"emailAddress": {"address": b, "name": "B"}, "type": "required"}], "transactionId": "crm-4711"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    // a retry with the same transactionId does not create a second event
    let (_, again) = g.post(&format!("/users/{a}/events"), json!({"subject": "Deal review", "start": {"dateTime": st.trim_end_matches('Z'), "timeZone": "UTC"}, "end": {"dateTime": e.trim_end_matches('Z'), "timeZone": "UTC"}, "transactionId": "crm-4711"})).await;
    assert_eq!(again["id"], created["id"]);
    let eb = g.walk(&format!("/users/{b}/events?$top=100"), None).await.0;
    let copy = find(&eb, "Deal review").expect("attendee copy");
    assert_eq!(copy["iCalUId"], created["iCalUId"]);
    let cid = created["id"].as_str().unwrap();
    let (s, _) = g
        .patch(
            &format!("/users/{a}/events/{cid}"),
            json!({"subject": "Deal review (final)"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let c2 = g
        .get(&format!(
            "/users/{b}/events/{}",
            copy["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c2["subject"], "Deal review (final)");
    assert_eq!(
        g.delete(&format!("/users/{a}/events/{cid}")).await,
        StatusCode::NO_CONTENT
    );
    let c3 = g
        .get(&format!(
            "/users/{b}/events/{}",
            copy["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c3["isCancelled"], true);
    assert!(c3["subject"].as_str().unwrap().starts_with("Canceled: "));
    assert_eq!(
        g.get_raw(&format!("/users/{a}/events/{cid}"), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // extended properties on events: written on create, read with $expand, used in $filter
    let pid = "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId";
    let (s, ev) = g
        .post(
            &format!("/users/{a}/events"),
            json!({"subject": "stamped", "start": {"dateTime": "2026-12-03T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-12-03T11:00:00", "timeZone": "UTC"}, "singleValueExtendedProperties": [{"id": pid, "value": "MA-42"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let eid = ev["id"].as_str().unwrap();
    let got = g
        .get(&format!(
            "/users/{a}/events/{eid}?$expand=singleValueExtendedProperties($filter=id eq '{pid}')"
        ))
        .await;
    assert_eq!(got["singleValueExtendedProperties"][0]["value"], "MA-42");
    let found = g.get(&format!("/users/{a}/events?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{pid}' and ep/value eq 'MA-42')")).await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    assert_eq!(found["value"][0]["id"], eid);
    // all-day validation
    let (s, err) = g.post(&format!("/users/{a}/events"), json!({"subject": "x", "isAllDay": true, "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-12-02T10:00:00", "timeZone": "UTC"}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    sb.shutdown().await;
}

#[tokio::test]
async fn calendar_view_delta_window_is_fixed_by_the_first_call() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 0);
    let (s, e) = window(7, 7);
    let (round1, delta) = g
        .walk(
            &format!("/users/{u}/calendarView/delta?startDateTime={s}&endDateTime={e}"),
            Some("odata.maxpagesize=3"),
        )
        .await;
    assert!(round1.len() > 5);
    assert!(round1.iter().all(|v| v["type"] != "seriesMaster"));
    let delta = delta.unwrap();
    assert!(
        !delta.contains("startDateTime"),
        "the token carries the window: {delta}"
    );
    // changes: inside the window, outside the window, a modified occurrence, a deletion
    let today = Timestamp::now();
    let inside = (today + 24.hours())
        .strftime("%Y-%m-%dT12:00:00")
        .to_string();
    let inside_end = (today + 24.hours())
        .strftime("%Y-%m-%dT13:00:00")
        .to_string();
    let outside = (today + (40 * 24).hours())
        .strftime("%Y-%m-%dT12:00:00")
        .to_string();
    let outside_end = (today + (40 * 24).hours())
        .strftime("%Y-%m-%dT13:00:00")
        .to_string();
    let (st, _) = g.post(&format!("/users/{u}/events"), json!({"subject": "inside", "start": {"dateTime": inside, "timeZone": "UTC"}, "end": {"dateTime": inside_end, "timeZone": "UTC"}})).await;
    assert_eq!(st, StatusCode::CREATED);
    g.post(&format!("/users/{u}/events"), json!({"subject": "outside", "start": {"dateTime": outside, "timeZone": "UTC"}, "end": {"dateTime": outside_end, "timeZone": "UTC"}})).await;
    let occ = round1.iter().find(|v| v["type"] == "occurrence").unwrap();
    let (st, patched) = g
        .patch(
            &format!("/users/{u}/events/{}", occ["id"].as_str().unwrap()),
            json!({"subject": "changed occurrence"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{patched}");
    assert_eq!(patched["type"], "exception");
    let single = round1
        .iter()
        .find(|v| v["type"] == "singleInstance" && v["isOrganizer"] == true)
        .unwrap();
    assert_eq!(
        g.delete(&format!(
            "/users/{u}/events/{}",
            single["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::NO_CONTENT
    );
    let (round2, delta2) = g.walk(&delta, None).await;
    let subjects: Vec<&str> = round2
        .iter()
        .filter_map(|v| v["subject"].as_str())
        .collect();
    assert!(subjects.contains(&"inside"), "{subjects:?}");
    assert!(!subjects.contains(&"outside"), "{subjects:?}");
    assert!(subjects.contains(&"changed occurrence"), "{subjects:?}");
    assert!(
        round2
            .iter()
            .any(|v| v["@removed"]["reason"] == "deleted" && v["id"] == single["id"])
    );
    let (round3, _) = g.walk(&delta2.unwrap(), None).await;
    assert!(round3.is_empty(), "{round3:?}");
    sb.shutdown().await;
}

#[tokio::test]
async fn attendee_response_reaches_the_organizer() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let a = user(&sb, 0);
    let b = user(&sb, 1);
    let eb = g.walk(&format!("/users/{b}/events?$top=100"), None).await.0;
    let copy = eb
        .iter()
        .find(|v| v["subject"] == "Weekly sales meeting")
        .unwrap();
    let (s, _) = g
        .post(
            &format!("/users/{b}/events/{}/accept", copy["id"].as_str().unwrap()),
            json!({"sendResponse": true}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let ea = g.walk(&format!("/users/{a}/events?$top=100"), None).await.0;
    let master = ea
        .iter()
        .find(|v| v["subject"] == "Weekly sales meeting")
        .unwrap();
    let me = master["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["emailAddress"]["address"] == b.as_str())
        .unwrap();
    assert_eq!(me["status"]["response"], "accepted");
    // the organizer can't accept its own meeting
    let (s, _) = g
        .post(
            &format!(
                "/users/{a}/events/{}/accept",
                master["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn generated_events_all_fall_inside_the_window() {
    let sb = start().await;
    let g = G::new(&sb).await;
    let u = user(&sb, 1);
    let before = sb.state().event_count(&u).unwrap();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/mailboxes/{u}/events/generate",
            sb.url()
        ))
        .json(&json!({"count": 200, "daysPast": 7, "daysFuture": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ids: Value = r.json().await.unwrap();
    assert_eq!(ids["ids"].as_array().unwrap().len(), 200);
    assert_eq!(sb.state().event_count(&u).unwrap(), before + 200);
    // the exact window of a sync at this moment, not rounded to days
    let now = Timestamp::now();
    let s = (now - (7 * 24).hours()).strftime("%Y-%m-%dT%H:%M:%SZ");
    let e = (now + (7 * 24).hours()).strftime("%Y-%m-%dT%H:%M:%SZ");
    let (items, _) = g
        .walk(
            &format!("/users/{u}/calendarView/delta?startDateTime={s}&endDateTime={e}"),
            None,
        )
        .await;
    let generated: Vec<&Value> = items
        .iter()
        .filter(|v| v["subject"].as_str().unwrap().starts_with("Meeting "))
        .collect();
    assert_eq!(generated.len(), 200);
    assert!(generated.iter().all(|v| v["type"] == "singleInstance"
        && v["attendees"].as_array().unwrap().len() == 1));
    let icals: std::collections::HashSet<&str> = generated
        .iter()
        .map(|v| v["iCalUId"].as_str().unwrap())
        .collect();
    assert_eq!(icals.len(), 200, "each its own meeting");
    // a user without a mailbox is refused
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/mailboxes/nobody@nowhere.example/events/generate",
            sb.url()
        ))
        .json(&json!({"count": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
}
