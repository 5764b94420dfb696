//! End to end, through the binary against the sandbox: `plan` says what the following
//! `sync --once` does, number for number, and writes nothing (the sandbox's request counter
//! sees no Graph or CRM write, the state store is unchanged); the mass-delete guard holds an
//! emptied calendar and a mass deletion in CRM, alerts, and lets the deletions through after
//! `graph-connector confirm`; a CRM filter change that takes most appointments out of the
//! filter deletes nothing (so nothing is held), and the ledger says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{Env, day, new_event};
use gc_crm::NewActivity;
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};
use serde_json::{Value, json};

/// Every run walks the CRM window in full, so CRM deletions are seen at once.
const APPOINTMENTS: &str =
    "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n";

/// Run the binary; its exit code and standard output.
fn bin(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(args)
        .arg("--config")
        .arg(env.config_path())
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{args:?}: exit {:?}\n{stderr}", out.status.code());
    (out.status.code().unwrap_or(-1), stdout)
}

fn json_of(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Value {
    let (_, out) = bin(env, args, vars);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

async fn stats(env: &Env) -> Value {
    reqwest::get(format!("{}/_sandbox/stats", env.demo.sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reset(env: &Env) {
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/stats/reset", env.demo.sandbox.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Writes the sandbox saw since the last reset: Graph requests other than GET (also inside
/// `$batch`), CRM insert/update/delete/import commands.
fn writes(s: &Value) -> (Value, Vec<(String, u64)>) {
    let crm: Vec<(String, u64)> = s["crm"]["by_command"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "insert" | "update" | "delete" | "import"))
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    (s["graph"]["writes"].clone(), crm)
}

async fn store(env: &Env) -> std::sync::Arc<dyn StateStore> {
    graph_connector::wiring::store(&env.config()).await.unwrap()
}

/// Everything the state store holds, as text.
async fn snapshot(store: &dyn StateStore) -> String {
    let mut out = String::new();
    let mailboxes = store.list_mailboxes().await.unwrap();
    out.push_str(&format!("{mailboxes:?}\n"));
    for m in &mailboxes {
        out.push_str(&format!(
            "{:?}\n",
            store.list_cursors(&m.rep_id, None).await.unwrap()
        ));
        for k in Kind::ALL {
            out.push_str(&format!(
                "{:?}\n",
                store.list_links(&m.rep_id, *k, None, 10_000).await.unwrap()
            ));
        }
    }
    out.push_str(&format!(
        "{:?}\n",
        store.list_runs(None, 10_000).await.unwrap()
    ));
    let ledger = store
        .query_ledger(&LedgerFilter {
            limit: Some(100_000),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    out.push_str(&format!("{ledger:?}\n"));
    out.push_str(&format!(
        "{:?}\n",
        store.list_retries(None, 10_000).await.unwrap()
    ));
    out.push_str(&format!("{:?}\n", store.list_leases().await.unwrap()));
    out.push_str(&format!("{:?}\n", store.list_alerts(10_000).await.unwrap()));
    out.push_str(&format!(
        "{:?}\n",
        store.list_resolved("hold").await.unwrap()
    ));
    out
}

/// Per kind: (create, adopt, update, delete, skip, fail) of a plan and of a sync report.
fn plan_totals(plans: &Value) -> BTreeMap<String, [u64; 6]> {
    let mut t = BTreeMap::new();
    for p in plans["plans"].as_array().unwrap() {
        assert!(p.get("error").is_none(), "{p:#}");
        let e: &mut [u64; 6] = t.entry(p["kind"].as_str().unwrap().to_owned()).or_default();
        for (i, k) in ["create", "adopt", "update", "delete", "skip", "fail"]
            .iter()
            .enumerate()
        {
            e[i] += p[k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k} is not a number: {p}"));
        }
    }
    t
}

fn sync_totals(report: &Value) -> BTreeMap<String, [u64; 6]> {
    let mut t = BTreeMap::new();
    for m in report["mailboxes"].as_array().unwrap() {
        let e: &mut [u64; 6] = t.entry(m["kind"].as_str().unwrap().to_owned()).or_default();
        for (i, k) in [
            "created", "adopted", "updated", "deleted", "skipped", "failed",
        ]
        .iter()
        .enumerate()
        {
            e[i] += m[k].as_u64().unwrap();
        }
    }
    t
}

fn graph(env: &Env) -> gc_graph::GraphClient {
    gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
        .unwrap()
}

/// `graph-connector plan --json` of `user`'s appointments.
fn appointment_plan(env: &Env, user: &str) -> Value {
    json_of(
        env,
        &["plan", "--json", "--mailbox", user, "--kind", "appointment"],
        &[],
    )
}

/// The events of `user` in the window.
async fn events(g: &gc_graph::GraphClient, user: &str) -> Vec<gc_graph::models::Event> {
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    g.calendar_view(user, now - day * 7, now + day * 14)
        .collect_ok()
        .await
        .unwrap()
}

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

/// The report of `mailbox` and `kind` in a `sync --json` report.
fn report_of<'a>(report: &'a Value, mailbox: &str, kind: &str) -> &'a Value {
    report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mailbox"] == mailbox && m["kind"] == kind)
        .unwrap_or_else(|| panic!("no {mailbox} {kind} in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_says_what_the_next_sync_does_and_writes_nothing() {
    let env = Env::start(
        SandboxOptions {
            users: 4,
            seed: 16,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        },
        // Calendars to CRM only: a run that writes a CRM meeting into an organizer's calendar
        // also puts copies into its invitees' calendars, which that same run then finds and
        // counts; a plan cannot see those (docs/SAFETY.md).
        &format!("{APPOINTMENTS}direction = \"microsoft365_to_crm\"\n"),
    )
    .await;
    env.file_all_inbox(3);
    let g = graph(&env);
    let s = store(&env).await;

    for round in 1..=2 {
        let before = snapshot(s.as_ref()).await;
        reset(&env).await;
        let plans = json_of(&env, &["plan", "--json"], &[]);
        let (graph_writes, crm_writes) = writes(&stats(&env).await);
        assert_eq!(
            graph_writes,
            json!({}),
            "round {round}: plan wrote to Graph"
        );
        assert!(
            crm_writes.is_empty(),
            "round {round}: plan wrote to CRM: {crm_writes:?}"
        );
        assert_eq!(
            snapshot(s.as_ref()).await,
            before,
            "round {round}: plan changed the state store"
        );
        let planned = plan_totals(&plans);
        assert!(planned.contains_key("email") && planned.contains_key("appointment"));
        let report = json_of(&env, &["sync", "--once", "--json"], &[]);
        assert_eq!(
            planned,
            sync_totals(&report),
            "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
        );
        // Per mailbox too, but for the copies of one record in several mailboxes: the first
        // to be worked writes it, the others adopt it, and which is first is the run's order.
        for p in plans["plans"].as_array().unwrap() {
            let kind = p["kind"].as_str().unwrap();
            let r = report_of(&report, p["mailbox"].as_str().unwrap(), kind);
            let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
            assert_eq!(
                n(p, "create") + n(p, "adopt"),
                n(r, "created") + n(r, "adopted"),
                "{p:#} {r:#}"
            );
            for (a, b) in [
                ("update", "updated"),
                ("delete", "deleted"),
                ("skip", "skipped"),
            ] {
                assert_eq!(n(p, a), n(r, b), "{a}: {p:#} {r:#}");
            }
        }
        if round == 1 {
            assert!(
                planned["email"][0] > 0 && planned["appointment"][0] > 0,
                "{planned:?}"
            );
            // Work for the second round: more filed messages, a new event, a deleted one,
            // an edited CRM appointment.
            for u in env.users() {
                let st = env.demo.sandbox.state();
                if let Ok(msgs) = st.messages(&u, "inbox")
                    && let Some(m) = msgs.first()
                {
                    st.file_message(&u, &m.immutable_id, common::SYNC).unwrap();
                }
            }
            let user = &env.users()[1];
            new_event(&g, user, "Planned new meeting", 3).await;
            let own: Vec<_> = events(&g, user)
                .await
                .into_iter()
                .filter(|e| {
                    e.subject
                        .as_deref()
                        .is_some_and(|s| s.starts_with("Call with"))
                })
                .collect();
            if let Some(e) = own.first() {
                g.delete_event(user, &e.id).await.unwrap();
            }
        } else {
            assert!(
                planned.values().any(|t| t.iter().any(|n| *n > 0)),
                "the second round has work: {planned:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_an_emptied_calendar_until_confirmed() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 7,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        APPOINTMENTS,
    )
    .await;
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
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 9,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        APPOINTMENTS,
    )
    .await;
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

/// forms.xml with the VeventFilter an installation starts with (deleted and published
/// appointments stay out of calendars), and `extra` conditions of a narrowed filter.
fn forms_xml(extra: &str) -> String {
    format!(
        r#"<?xml version='1.0'?>
<root>
  <SyncHandler type="ExchangeConnector_VeventFilter">
    <condition>
      <lop value="and">
        <cond tablename="Contact" fieldname="ConnectorDeleted" op="!=" value="true"/>
      </lop>
      <lop value="and">
        <cond tablename="Contact" fieldname="ConnectorPublished" op="!=" value="true"/>
      </lop>{extra}
    </condition>
  </SyncHandler>
  <options>
    <vevent>
      <key name='delete_sync_process_410' value='true'/>
    </vevent>
  </options>
</root>
"#
    )
}

/// The subjects of `user`'s events starting with `prefix`.
async fn subjects(g: &gc_graph::GraphClient, user: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = events(g, user)
        .await
        .into_iter()
        .filter_map(|e| e.subject)
        .filter(|s| s.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// The ledger's "no longer passes the filter" entries of appointments.
async fn left_filter(s: &dyn StateStore) -> Vec<gc_store::LedgerEntry> {
    s.query_ledger(&LedgerFilter {
        kind: Some(Kind::Appointment),
        action: Some(LedgerAction::Skipped),
        limit: Some(10_000),
        ..LedgerFilter::default()
    })
    .await
    .unwrap()
    .into_iter()
    .filter(|e| e.reason.contains("no longer passes the filter"))
    .collect()
}

/// A CRM filter change that takes most of a rep's linked appointments out of the filter
/// (forms.xml's VeventFilter narrowed to one activity type, later `[appointments] types`) is
/// not a deletion: the kind leaves their events alone (docs/SYNC.md, "Deletions"), so there
/// is nothing for the mass-delete guard to hold; the ledger says why, once per appointment;
/// CRM edits of them wait until they pass again, and widening the filter again duplicates
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_filter_change_deletes_no_appointment_and_the_ledger_says_why() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 12,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        APPOINTMENTS,
    )
    .await;
    // The installation's forms.xml, as the admin configured it.
    let forms = env.dir.path().join("forms.xml");
    std::fs::write(&forms, forms_xml("")).unwrap();
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(config.contains("[crm]\n"), "{config}");
    std::fs::write(
        env.config_path(),
        config.replacen(
            "[crm]\n",
            &format!("[crm]\nforms_xml = {}\n", toml_string(&forms)),
            1,
        ),
    )
    .unwrap();

    let g = graph(&env);
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let user = env.users().last().unwrap().clone();
    let rep = crm
        .master()
        .enabled_reps()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.email.as_deref() == Some(user.as_str()))
        .unwrap();
    // 12 visits and 3 meetings of the rep in CRM.
    let mut visits = Vec::new();
    let mut meetings = Vec::new();
    for i in 0..15i64 {
        let (ty, subject) = if i < 12 {
            ("Visit", format!("CRM visit {i:02}"))
        } else {
            ("Meeting", format!("CRM meeting {i:02}"))
        };
        let mut a = NewActivity::new(ty, &subject, day(i % 10 + 1));
        a.time = Some(jiff::civil::time(6 + i as i8 % 10, 0, 0, 0));
        a.rep_id = Some(rep.rep_id.clone());
        let id = crm.as_rep(&user).insert_activity(&a).await.unwrap();
        if i < 12 { &mut visits } else { &mut meetings }.push(id);
    }
    let first = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&first, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "{r:#}");
    assert!(r["created"].as_u64().unwrap() >= 15, "{r:#}");
    assert_eq!(subjects(&g, &user, "CRM visit").await.len(), 12);
    assert_eq!(subjects(&g, &user, "CRM meeting").await.len(), 3);
    let s = store(&env).await;
    let rep_id = s
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap()
        .rep_id;
    let active = |links: Vec<gc_store::Link>| {
        links
            .into_iter()
            .filter(|l| l.state == gc_store::LinkState::Active)
            .count()
    };
    let linked = active(
        s.list_links(&rep_id, Kind::Appointment, None, 10_000)
            .await
            .unwrap(),
    );
    assert!(linked >= 15, "{linked}");
    assert!(left_filter(s.as_ref()).await.is_empty());

    // The admin narrows the filter to meetings: 12 of the rep's 15 appointments (and any
    // other visit of the rep) no longer pass.
    std::fs::write(
        &forms,
        forms_xml(
            r#"
      <lop value="and">
        <cond tablename="Contact" fieldname="Contact" op="=" value="Meeting"/>
      </lop>"#,
        ),
    )
    .unwrap();
    // The plan shows no deletion.
    let plans = appointment_plan(&env, &user);
    let p = &plans["plans"][0];
    assert_eq!(p["delete"], 0, "{plans:#}");
    assert!(p["skip"].as_u64().unwrap() >= 12, "{plans:#}");

    reset(&env).await;
    let after = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&after, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "not held: {r:#}");
    assert_eq!(r["deleted"], 0, "{r:#}");
    assert!(r["skipped"].as_u64().unwrap() >= 12, "{r:#}");
    assert_eq!(r["skipped"], p["skip"], "as planned: {r:#} {plans:#}");
    // Nothing deleted on either side; no hold waits.
    assert_eq!(subjects(&g, &user, "CRM visit").await.len(), 12);
    assert_eq!(subjects(&g, &user, "CRM meeting").await.len(), 3);
    let (_, crm_writes) = writes(&stats(&env).await);
    assert!(
        crm_writes.iter().all(|(c, _)| c != "delete"),
        "{crm_writes:?}"
    );
    for id in &visits {
        let a = crm.master().activity(*id).await.unwrap().unwrap();
        assert_ne!(
            a.get(&dl.activity.deleted),
            Some(dl.format_bool(true).as_str())
        );
    }
    assert!(
        gc_sync::engine::holds::get(s.as_ref(), &rep_id, Kind::Appointment)
            .await
            .unwrap()
            .is_none()
    );
    let (_, listed) = bin(&env, &["confirm", "--list"], &[]);
    assert!(listed.contains("nothing waits"), "{listed}");
    assert_eq!(
        active(
            s.list_links(&rep_id, Kind::Appointment, None, 10_000)
                .await
                .unwrap()
        ),
        linked,
        "every link kept"
    );
    // The ledger says why, once per visit, naming its record.
    let why = left_filter(s.as_ref()).await;
    for id in &visits {
        let n = why.iter().filter(|e| e.crm_id == Some(*id)).count();
        assert_eq!(n, 1, "{id}: {why:#?}");
    }
    assert!(
        why.iter()
            .all(|e| e.mailbox == rep_id && e.reason.contains("not a deletion")),
        "{why:#?}"
    );
    assert!(
        meetings
            .iter()
            .all(|id| why.iter().all(|e| e.crm_id != Some(*id))),
        "meetings still pass: {why:#?}"
    );

    // CRM edits: the meeting's goes to its event, the visit's waits; nothing is recorded twice.
    let subject = dl.activity.subject.clone();
    crm.as_rep(&user)
        .update_activity(visits[0], &[(subject.clone(), "CRM visit edited".into())])
        .await
        .unwrap();
    crm.as_rep(&user)
        .update_activity(
            meetings[0],
            &[(subject.clone(), "CRM meeting edited".into())],
        )
        .await
        .unwrap();
    let again = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&again, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "{r:#}");
    assert_eq!(
        (&r["deleted"], &r["created"]),
        (&json!(0), &json!(0)),
        "{r:#}"
    );
    assert_eq!(r["updated"], 1, "{r:#}");
    assert!(subjects(&g, &user, "CRM meeting edited").await.len() == 1);
    assert!(subjects(&g, &user, "CRM visit edited").await.is_empty());
    assert_eq!(left_filter(s.as_ref()).await.len(), why.len());

    // The admin widens the filter again: the waiting edit goes through, nothing is created
    // twice, and the links are the CRM source's again.
    std::fs::write(&forms, forms_xml("")).unwrap();
    let widened = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&widened, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "{r:#}");
    assert_eq!(
        (&r["deleted"], &r["created"]),
        (&json!(0), &json!(0)),
        "{r:#}"
    );
    assert_eq!(r["updated"], 1, "{r:#}");
    assert_eq!(subjects(&g, &user, "CRM visit").await.len(), 12);
    assert_eq!(subjects(&g, &user, "CRM visit edited").await.len(), 1);

    // The same with `[appointments] types`: narrowed to meetings, nothing deleted, not held,
    // the ledger says why again (the visits passed in between).
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    std::fs::write(
        env.config_path(),
        config.replacen(
            "[appointments]\nenabled = true\n",
            "[appointments]\nenabled = true\ntypes = [\"Meeting\"]\n",
            1,
        ),
    )
    .unwrap();
    let typed = json_of(&env, &["sync", "--once", "--json"], &[]);
    let r = report_of(&typed, &user, "appointment");
    assert_eq!(r["outcome"], "complete", "not held: {r:#}");
    assert_eq!(r["deleted"], 0, "{r:#}");
    assert_eq!(subjects(&g, &user, "CRM visit").await.len(), 12);
    let why = left_filter(s.as_ref()).await;
    for id in &visits {
        let n = why.iter().filter(|e| e.crm_id == Some(*id)).count();
        assert_eq!(n, 2, "{id}: {why:#?}");
    }
}

fn toml_string(p: &std::path::Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}
