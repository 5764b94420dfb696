//! The mass-delete guard: an emptied calendar and a mass deletion in CRM are held, alerted
//! and in the ledger, shown by `confirm --list`, and let through after `graph-connector
//! confirm`. Apart from the plan tests: these are about what a run refuses to do.

use gc_crm::NewActivity;
use gc_store::{Kind, LedgerAction, LedgerFilter};

use super::calendars;
use super::harness::{
    appointment_plan, bin, events, graph, json_of, report_of, reset, stats, store, writes,
};
use crate::common::{Env, day, new_event};

/// The "Customer visit" appointments in CRM not marked deleted.
async fn live_visits(env: &Env) -> usize {
    let crm = env.crm();
    let d = crm.dialect().clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: day(-30),
            to: day(30),
            rep_id: None,
            condition: None,
            fields: vec![d.activity.subject.clone(), d.activity.deleted.clone()],
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.get(&d.activity.subject)
                .is_some_and(|s| s.starts_with("Customer visit"))
        })
        .filter(|a| a.get(&d.activity.deleted) != Some(d.format_bool(true).as_str()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_an_emptied_calendar_until_confirmed() {
    let env = calendars(3, 7).await;
    let g = graph(&env);
    let user = env.users()[1].clone();
    for i in 0..5 {
        new_event(&g, &user, &format!("Customer visit {i}"), i + 1).await;
    }
    let vars = [("GRAPH_CONNECTOR__ERRORS__DELETE_GUARD_MIN", "3")];
    let first = json_of(&env, &["sync", "--once", "--json"], &vars);
    assert!(
        report_of(&first, &user, "appointment")["created"]
            .as_u64()
            .unwrap()
            >= 5
    );
    // The calendar is emptied (a migration tool, a wrong script).
    for e in events(&g, &user).await {
        g.delete_event(&user, &e.id).await.unwrap();
    }
    reset(&env).await;
    let held = json_of(&env, &["sync", "--once", "--json"], &vars);
    let r = report_of(&held, &user, "appointment");
    assert_eq!(r["outcome"], "held", "{r:#}");
    assert_eq!(r["deleted"], 0, "{r:#}");
    assert!(
        r["error"].as_str().unwrap().contains("mass-delete guard"),
        "{r:#}"
    );
    // Nothing of the user's was deleted or marked deleted in CRM (the organizers of meetings
    // whose copies went may update their participants: that is no deletion).
    let (_, crm_writes) = writes(&stats(&env).await);
    assert!(
        crm_writes.iter().all(|(c, _)| c != "delete"),
        "nothing deleted in CRM: {crm_writes:?}"
    );
    assert_eq!(live_visits(&env).await, 5);
    // Alerted and in the ledger; still held on the next run.
    let s = store(&env).await;
    let alerts = s.list_alerts(50).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "held" && a.subject.contains(&user)),
        "{alerts:?}"
    );
    let again = json_of(&env, &["sync", "--once", "--json"], &vars);
    assert_eq!(report_of(&again, &user, "appointment")["outcome"], "held");
    let (code, listed) = bin(&env, &["confirm", "--list"], &[]);
    assert_eq!(code, 0);
    assert!(
        listed.contains(&user) && listed.contains("waiting"),
        "{listed}"
    );

    let (code, out) = bin(
        &env,
        &["confirm", "--mailbox", &user, "--kind", "appointment"],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let done = json_of(&env, &["sync", "--once", "--json"], &vars);
    let r = report_of(&done, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "{r:#}");
    assert!(r["deleted"].as_u64().unwrap() >= 5, "{r:#}");
    assert_eq!(live_visits(&env).await, 0);
    let ledger = s
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Appointment),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert!(ledger.iter().any(|e| e.action == LedgerAction::Held));
    assert!(
        ledger
            .iter()
            .any(|e| e.action == LedgerAction::Confirmed && e.reason.contains("command line"))
    );
    // The hold is gone: the next run is an ordinary one.
    let (_, listed) = bin(&env, &["confirm", "--list"], &[]);
    assert!(listed.contains("nothing waits"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_crm_appointments_deleted_en_masse_until_confirmed() {
    let env = calendars(3, 9).await;
    let g = graph(&env);
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let reps = crm.master().enabled_reps().await.unwrap();
    let user = env.users().last().unwrap().clone();
    let rep = reps
        .iter()
        .find(|r| r.email.as_deref() == Some(user.as_str()))
        .unwrap()
        .clone();
    let mut ids = Vec::new();
    for i in 0..15 {
        let mut a = NewActivity::new("Meeting", &format!("CRM planning {i}"), day(i % 10 + 1));
        a.time = Some(jiff::civil::time(6 + i as i8 % 10, 0, 0, 0));
        a.rep_id = Some(rep.rep_id.clone());
        ids.push(crm.as_rep(&user).insert_activity(&a).await.unwrap());
    }
    let first = json_of(&env, &["sync", "--once", "--json"], &[]);
    assert!(
        report_of(&first, &user, "appointment")["created"]
            .as_u64()
            .unwrap()
            >= 15
    );
    let planning = |evs: &[gc_graph::models::Event]| {
        evs.iter()
            .filter(|e| {
                e.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with("CRM planning"))
            })
            .count()
    };
    assert_eq!(planning(&events(&g, &user).await), 15);
    // Marked deleted in CRM en masse (a wrong bulk update).
    for id in &ids {
        crm.as_rep(&user)
            .update_activity(*id, &[(dl.activity.deleted.clone(), dl.format_bool(true))])
            .await
            .unwrap();
    }
    // The plan shows the deletions before anything happens.
    let plans = appointment_plan(&env, &user);
    let p = &plans["plans"][0];
    assert_eq!(p["delete"], 15, "{plans:#}");
    assert_eq!(p["sides"]["microsoft365"]["delete"], 15, "{plans:#}");
    let held = json_of(&env, &["sync", "--once", "--json"], &[]);
    assert_eq!(report_of(&held, &user, "appointment")["outcome"], "held");
    assert_eq!(planning(&events(&g, &user).await), 15, "no event deleted");

    let (code, _) = bin(
        &env,
        &["confirm", "--mailbox", &user, "--kind", "appointments"],
        &[],
    );
    assert_eq!(code, 0);
    let done = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&done, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "{r:#}");
    assert!(r["deleted"].as_u64().unwrap() >= 15, "{r:#}");
    assert_eq!(planning(&events(&g, &user).await), 0);
}
