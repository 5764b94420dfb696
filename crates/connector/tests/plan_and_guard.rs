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

/// Mailboxes worked one after the other, in the order of the mailbox list.
const ONE_AT_A_TIME: [(&str, &str); 1] = [("GRAPH_CONNECTOR__MAILBOXES__PARALLEL", "1")];

/// A sandbox of `users` users without messages, appointments on.
async fn calendars(users: usize, seed: u64) -> Env {
    Env::start(
        SandboxOptions {
            users,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        APPOINTMENTS,
    )
    .await
}

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

/// `plan --json`, with the proof that it wrote nothing: the sandbox saw no Graph or CRM
/// write while it ran, and the state store is as it was.
async fn checked_plan(env: &Env, s: &dyn StateStore, round: usize) -> Value {
    let before = snapshot(s).await;
    reset(env).await;
    let plans = json_of(env, &["plan", "--json"], &[]);
    let (graph_writes, crm_writes) = writes(&stats(env).await);
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
        snapshot(s).await,
        before,
        "round {round}: plan changed the state store"
    );
    plans
}

/// Per mailbox, a sync's report is its plan: update, delete, skip and fail number for number;
/// create + adopt together (the copies of one record in several mailboxes: the first to be
/// worked writes it, the others adopt it, and which is first is the run's order). `copies`:
/// per mailbox (address in lower case), how many more adoptions the run may count than its
/// plan, the copies other mailboxes' plans expect to arrive there (`expected_copies`); what it
/// counted is returned.
fn assert_as_planned(
    round: usize,
    plans: &Value,
    report: &Value,
    copies: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut extra = BTreeMap::new();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
    for p in plans["plans"].as_array().unwrap() {
        let (mailbox, kind) = (p["mailbox"].as_str().unwrap(), p["kind"].as_str().unwrap());
        let r = report_of(report, mailbox, kind);
        let planned = n(p, "create") + n(p, "adopt");
        let done = n(r, "created") + n(r, "adopted");
        let allowed = match kind {
            "appointment" => copies
                .get(&mailbox.to_ascii_lowercase())
                .copied()
                .unwrap_or(0),
            _ => 0,
        };
        assert!(
            done >= planned && done - planned <= allowed,
            "round {round}: create + adopt of {mailbox} {kind} (up to {allowed} expected copies more)\nplan: {p:#}\nsync: {r:#}"
        );
        if done > planned {
            extra.insert(mailbox.to_owned(), done - planned);
        }
        for (a, b) in [
            ("update", "updated"),
            ("delete", "deleted"),
            ("skip", "skipped"),
            ("fail", "failed"),
        ] {
            assert_eq!(
                n(p, a),
                n(r, b),
                "round {round}: {a} of {mailbox} {kind}\nplan: {p:#}\nsync: {r:#}"
            );
        }
    }
    extra
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
        // Calendars to CRM only, with e-mail alongside; both directions, with the copies a
        // CRM meeting's invitations make, are the next test's.
        &format!("{APPOINTMENTS}direction = \"microsoft365_to_crm\"\n"),
    )
    .await;
    env.file_all_inbox(3);
    let g = graph(&env);
    let s = store(&env).await;

    for round in 1..=2 {
        let plans = checked_plan(&env, s.as_ref(), round).await;
        let planned = plan_totals(&plans);
        assert!(planned.contains_key("email") && planned.contains_key("appointment"));
        let report = json_of(&env, &["sync", "--once", "--json"], &[]);
        assert_eq!(
            planned,
            sync_totals(&report),
            "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
        );
        assert_as_planned(round, &plans, &report, &BTreeMap::new());
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

/// A CRM appointment of `rep` (`user`'s), `days` from today at `hour`, for an hour, with
/// these other participants (addresses, and the rep record of those who are reps).
async fn crm_appointment(
    env: &Env,
    user: &str,
    rep: &gc_crm::Rep,
    subject: &str,
    days: i64,
    hour: i8,
    others: &[(&str, Option<gc_crm::CrmId>)],
) -> gc_crm::CrmId {
    let mut a = NewActivity::new("Meeting", subject, day(days));
    a.time = Some(jiff::civil::time(hour, 0, 0, 0));
    a.end_date = Some(day(days));
    a.end_time = Some(jiff::civil::time(hour + 1, 0, 0, 0));
    a.rep_id = Some(rep.rep_id.clone());
    a.participants = others
        .iter()
        .map(|(email, rep)| gc_crm::NewParticipant {
            role: gc_crm::ParticipantRole::Required,
            email: (*email).to_owned(),
            person: None,
            rep: *rep,
            status: None,
        })
        .collect();
    env.crm().as_rep(user).insert_activity(&a).await.unwrap()
}

/// `user`'s event with this subject (exactly one).
async fn event_titled(g: &gc_graph::GraphClient, user: &str, subject: &str) -> String {
    let found: Vec<_> = events(g, user)
        .await
        .into_iter()
        .filter(|e| e.subject.as_deref() == Some(subject))
        .collect();
    assert_eq!(found.len(), 1, "{user}: {subject:?}: {found:#?}");
    found[0].id.clone()
}

/// Both directions (`direction = "both"`, the default): the CRM → Microsoft 365 half of a plan
/// (events created, updated and deleted from CRM appointments, an appointment deleted in CRM
/// physically, both sides changed) is what the following sync does, number for number per
/// kind and per mailbox, over rounds of work on either side, and the plan writes nothing. A CRM
/// meeting with other synced reps invites them; the copies in their calendars are adopted by
/// their runs, which a plan of theirs cannot see: the organizer's plan names them
/// (`expected_copies`), and after the sync and one more exactly that many were adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_says_what_the_next_two_way_sync_does_and_writes_nothing() {
    let env = calendars(4, 17).await;
    let g = graph(&env);
    let s = store(&env).await;
    let crm = env.crm();
    let dl = crm.dialect().clone();
    let reps = env.appointment_reps().await;
    assert!(
        reps.len() >= 3,
        "three reps synchronize appointments: {reps:?}"
    );
    let (anna, anna_rep) = &reps[0];
    let (bob, bob_rep) = &reps[1];
    let person = env.demo.sandbox.directory().externals[0].email.clone();
    let customer = [(person.as_str(), None)];

    // Round 1, a first sync: new CRM appointments of Anna's (one with a customer) and of
    // Bob's, each with no other synced rep; new events in Anna's calendar.
    let visit1 = crm_appointment(&env, anna, anna_rep, "Two-way visit 1", 2, 8, &customer).await;
    let visit2 = crm_appointment(&env, anna, anna_rep, "Two-way visit 2", 3, 8, &[]).await;
    let conflict = crm_appointment(&env, anna, anna_rep, "Two-way conflict", 4, 8, &[]).await;
    let visit4 = crm_appointment(&env, bob, bob_rep, "Two-way visit 4", 5, 8, &customer).await;
    new_event(&g, anna, "Calendar edit me", 2).await;
    new_event(&g, anna, "Calendar delete me", 3).await;

    let mut round = 1;
    let work = |plans: &Value| {
        let t = plan_totals(plans);
        let mut sides = [0u64; 6];
        for p in plans["plans"].as_array().unwrap() {
            if p["kind"] == "appointment" {
                for (i, (side, k)) in [
                    ("microsoft365", "create"),
                    ("microsoft365", "update"),
                    ("microsoft365", "delete"),
                    ("crm", "create"),
                    ("crm", "update"),
                    ("crm", "delete"),
                ]
                .iter()
                .enumerate()
                {
                    sides[i] += p["sides"][side][k].as_u64().unwrap();
                }
            }
        }
        (t, sides)
    };
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let (planned, sides) = work(&plans);
    assert!(sides[0] >= 4 && sides[3] >= 2, "{sides:?} {plans:#}");
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    for p in plans["plans"].as_array().unwrap() {
        assert_eq!(p["expected_copies"], 0, "no shared meeting yet: {p:#}");
    }
    event_titled(&g, anna, "Two-way visit 1").await;
    event_titled(&g, bob, "Two-way visit 4").await;

    // Round 2: a CRM edit of a linked appointment, one marked deleted, one deleted for good;
    // an event edited, one deleted; both sides of one changed (CRM later: CRM wins); a new
    // CRM appointment.
    round = 2;
    crm.as_rep(anna)
        .update_activity(
            visit1,
            &[
                (
                    dl.activity.subject.clone(),
                    "Two-way visit 1 (moved)".into(),
                ),
                (dl.activity.time.clone(), "13:00".into()),
                (dl.activity.end_time.clone(), "14:00".into()),
            ],
        )
        .await
        .unwrap();
    crm.as_rep(anna)
        .update_activity(
            visit2,
            &[(dl.activity.deleted.clone(), dl.format_bool(true))],
        )
        .await
        .unwrap();
    crm.master()
        .delete(&dl.activity.table, visit4)
        .await
        .unwrap();
    let edited = event_titled(&g, anna, "Calendar edit me").await;
    g.update_event(anna, &edited, &json!({"subject": "Calendar edited"}))
        .await
        .unwrap();
    let deleted = event_titled(&g, anna, "Calendar delete me").await;
    g.delete_event(anna, &deleted).await.unwrap();
    let both = event_titled(&g, anna, "Two-way conflict").await;
    g.update_event(anna, &both, &json!({"subject": "Two-way conflict (event)"}))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    crm.as_rep(anna)
        .update_activity(
            conflict,
            &[(dl.activity.subject.clone(), "Two-way conflict (crm)".into())],
        )
        .await
        .unwrap();
    crm_appointment(&env, anna, anna_rep, "Two-way visit 5", 6, 8, &[]).await;

    let plans = checked_plan(&env, s.as_ref(), round).await;
    let (planned, sides) = work(&plans);
    // Events: one created, two updated (the CRM edit, CRM's side of the conflict), two
    // deleted; appointments: one updated (the event's edit), one marked deleted.
    assert!(
        sides[0] >= 1 && sides[1] >= 2 && sides[2] >= 2 && sides[4] >= 1 && sides[5] >= 1,
        "{sides:?} {plans:#}"
    );
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    event_titled(&g, anna, "Two-way visit 1 (moved)").await;
    event_titled(&g, anna, "Two-way conflict (crm)").await;
    event_titled(&g, anna, "Two-way visit 5").await;
    assert!(subjects(&g, anna, "Two-way visit 2").await.is_empty());
    assert!(subjects(&g, bob, "Two-way visit 4").await.is_empty());

    // Round 3: two CRM meetings with every other synced rep and a customer, one of the
    // mailbox the run works first, one of the mailbox it works last (one at a time, in the
    // order of the mailbox list, which the report keeps). Each organizer's plan creates one
    // event and names the copies its invitations make; the mailboxes worked after the first
    // organizer's adopt its copies in the same run, the last organizer's copies are the next
    // run's, whose plan sees them.
    round = 3;
    let order: Vec<String> = report["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "appointment")
        .map(|m| m["mailbox"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order.len(), reps.len(), "{order:?} {reps:?}");
    let rep_of = |user: &str| reps.iter().find(|(u, _)| u == user).unwrap();
    let mut shared = Vec::new();
    for (organizer, subject) in [
        (order.first().unwrap(), "Shared review (first)"),
        (order.last().unwrap(), "Shared review (last)"),
    ] {
        let invitees: Vec<(&str, Option<gc_crm::CrmId>)> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, r)| (u.as_str(), Some(r.id)))
            .chain([(person.as_str(), None)])
            .collect();
        let id = crm_appointment(
            &env,
            organizer,
            &rep_of(organizer).1,
            subject,
            7,
            9,
            &invitees,
        )
        .await;
        shared.push((organizer.clone(), subject, id));
    }
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let per_invitee = reps.len() as u64 - 1;
    // Per mailbox, the copies other mailboxes' plans expect to arrive there.
    let mut copies: BTreeMap<String, u64> = BTreeMap::new();
    for (organizer, subject, _) in &shared {
        let mine = plans["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["mailbox"] == organizer.as_str() && p["kind"] == "appointment")
            .unwrap();
        assert_eq!(mine["expected_copies"], per_invitee, "{mine:#}");
        assert_eq!(mine["create"], 1, "{mine:#}");
        let mut to: Vec<String> = Vec::new();
        for c in mine["copies"].as_array().unwrap() {
            assert!(
                c["reason"].as_str().unwrap().contains(&format!(
                    "a copy of {subject:?} will arrive in {}'s calendar and be adopted",
                    c["mailbox"].as_str().unwrap()
                )),
                "{c:#}"
            );
            to.push(c["mailbox"].as_str().unwrap().to_owned());
        }
        let mut others: Vec<String> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, _)| u.to_ascii_lowercase())
            .collect();
        others.sort();
        to.sort();
        assert_eq!(to, others, "one copy per invitee: {mine:#}");
        for m in to {
            *copies.entry(m).or_default() += 1;
        }
    }
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    let (planned, _) = work(&plans);
    let done = sync_totals(&report);
    let adopted_now: u64 = assert_as_planned(round, &plans, &report, &copies)
        .values()
        .sum();
    let mut with_copies = planned.clone();
    with_copies.get_mut("appointment").unwrap()[1] += adopted_now;
    assert_eq!(
        with_copies, done,
        "round {round}: the plan and the {adopted_now} copies adopted at once\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_eq!(
        adopted_now, per_invitee,
        "the first organizer's copies, adopted by the mailboxes worked after it\nsync: {report:#}"
    );

    // Round 4: the last organizer's copies, which the plan sees as adoptions; number for
    // number again. Then exactly the expected copies were adopted, one per invitee and meeting.
    round = 4;
    let plans = checked_plan(&env, s.as_ref(), round).await;
    let report = json_of(&env, &["sync", "--once", "--json"], &ONE_AT_A_TIME);
    let (planned, _) = work(&plans);
    assert_eq!(
        planned,
        sync_totals(&report),
        "round {round}: [create, adopt, update, delete, skip, fail] per kind\nplan: {plans:#}\nsync: {report:#}"
    );
    assert_as_planned(round, &plans, &report, &BTreeMap::new());
    assert_eq!(
        planned["appointment"][1], per_invitee,
        "the last organizer's copies\nplan: {plans:#}"
    );
    let mailboxes = s.list_mailboxes().await.unwrap();
    let address = |rep_id: &str| {
        mailboxes
            .iter()
            .find(|m| m.rep_id == rep_id)
            .map(|m| m.address.to_ascii_lowercase())
            .unwrap()
    };
    for (organizer, subject, id) in &shared {
        let mut linked: Vec<String> = s
            .links_by_crm_id(Kind::Appointment, *id)
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.state == gc_store::LinkState::Active)
            .map(|l| address(&l.mailbox))
            .filter(|a| !a.eq_ignore_ascii_case(organizer))
            .collect();
        linked.sort();
        let mut others: Vec<String> = reps
            .iter()
            .filter(|(u, _)| u != organizer)
            .map(|(u, _)| u.to_ascii_lowercase())
            .collect();
        others.sort();
        assert_eq!(linked, others, "{subject}: one adopted copy per invitee");
        let adoptions = s
            .query_ledger(&LedgerFilter {
                kind: Some(Kind::Appointment),
                action: Some(LedgerAction::Adopted),
                limit: Some(10_000),
                ..LedgerFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.crm_id == Some(*id))
            .count() as u64;
        assert_eq!(adoptions, per_invitee, "{subject}");
        assert_eq!(activities_titled(&env, subject).await, 1, "{subject}");
    }
}

/// How many CRM activities have this subject.
async fn activities_titled(env: &Env, subject: &str) -> usize {
    let crm = env.crm();
    let d = crm.dialect().clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: day(-30),
            to: day(30),
            rep_id: None,
            condition: None,
            fields: vec![d.activity.subject.clone()],
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.get(&d.activity.subject) == Some(subject))
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
    let env = calendars(3, 12).await;
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
