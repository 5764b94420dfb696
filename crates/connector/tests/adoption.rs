//! End to end: a tenant migrated from the EWS connector (the sandbox's `migrated_from_ews`)
//! syncs without a single duplicate, every pre-existing record adopted and counted by how; and
//! the reprocess controls (`item resync|forget`, `mailbox reset`) do what they say and nothing
//! else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::Env;
use gc_sandbox::SandboxOptions;
use gc_sandbox::migrated::{MigratedItem, Tie};
use gc_store::{Kind, LedgerAction, LedgerFilter, LinkState, StateStore};
use gc_sync::reprocess::{self, Requester};
use graph_connector::commands::sync::Runtime;

fn opts(seed: u64) -> SandboxOptions {
    SandboxOptions {
        users: 6,
        seed,
        messages_per_mailbox: 4,
        migrated_from_ews: true,
        ..SandboxOptions::default()
    }
}

/// Every activity of the whole CRM with this subject.
async fn by_subject(env: &Env, subject: &str) -> Vec<gc_crm::Activity> {
    let crm = env.crm();
    let d = crm.dialect().activity.clone();
    crm.master()
        .activities(&gc_crm::ActivityFilter {
            from: jiff::civil::date(2000, 1, 1),
            to: jiff::civil::date(2100, 12, 31),
            rep_id: None,
            condition: Some(gc_crm::codec::Condition::cond(
                &d.table,
                &d.subject,
                gc_crm::codec::Op::Eq,
                subject,
            )),
            fields: Vec::new(),
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
}

/// The migrated items of these sorts (`event`, `message`, `contact`, `absence`, `task`) whose
/// rep synchronizes their kind, with the rep's store id.
async fn worked(env: &Env, sorts: &[&str]) -> Vec<(MigratedItem, String)> {
    let reps = env.crm().master().enabled_reps().await.unwrap();
    let mut out = Vec::new();
    for item in env.demo.sandbox.migrated_items() {
        if !sorts.contains(&item.item) {
            continue;
        }
        let Some(rep) = reps
            .iter()
            .find(|r| r.email.as_deref() == Some(item.mailbox.as_str()))
        else {
            continue;
        };
        let on = match item.item {
            "event" => rep.sync_appointments,
            "contact" => rep.sync_contacts,
            "absence" => rep.sync_absences,
            "task" => rep.sync_tasks,
            _ => rep.sync_emails,
        };
        if on {
            out.push((item.clone(), rep.id.to_string()));
        }
    }
    out
}

fn kind_of(item: &MigratedItem) -> Kind {
    if item.item == "event" {
        Kind::Appointment
    } else {
        Kind::Email
    }
}

fn expected_how(item: &MigratedItem) -> &'static str {
    match item.tie {
        Tie::EwsId => "by EWS id",
        Tie::EntryId => "by entry id",
        Tie::ICalUId => "by iCalUId",
        Tie::StaleEwsId | Tie::ContentOnly => "by content match",
    }
}

async fn adopted_by(store: &dyn StateStore, kind: Kind, crm_id: gc_store::CrmId) -> Vec<String> {
    store
        .query_ledger(&LedgerFilter {
            kind: Some(kind),
            crm_id: Some(crm_id),
            action: Some(LedgerAction::Adopted),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| {
            e.detail.and_then(|d| {
                d.get("adopted_by")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_migrated_from_the_ews_connector_syncs_without_duplicates() {
    let env = Env::start(opts(21), "[appointments]\nenabled = true\n").await;
    let worked = worked(&env, &["event", "message"]).await;
    assert!(
        worked.iter().filter(|(i, _)| i.item == "event").count() >= 4
            && worked.iter().filter(|(i, _)| i.item == "message").count() >= 4,
        "too few migrated items in synchronized mailboxes: {worked:?}"
    );
    let rt = Runtime::build(&env.config()).await.unwrap();
    let started = std::time::Instant::now();
    let (report, _) = common::converge(&rt, 3).await;
    eprintln!("first sync: {:?}", started.elapsed());
    assert!(!report.any_mailbox_failed(), "{report:#?}");

    let store = rt.store.as_ref();
    let mut by_how: BTreeMap<&str, usize> = BTreeMap::new();
    for (item, rep) in &worked {
        // Exactly one record with the item's (unique) subject: the one the EWS connector wrote.
        let records = by_subject(&env, &item.subject).await;
        assert_eq!(records.len(), 1, "{item:?}: {records:?}");
        let id = records[0].id;
        let link = store
            .get_link(kind_of(item), rep, &item.graph_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no link for {item:?}"));
        assert_eq!(link.state, LinkState::Active, "{item:?}");
        assert_eq!(link.crm_id, Some(id), "{item:?}");
        let how = adopted_by(store, kind_of(item), id).await;
        assert!(
            how.iter().any(|h| h == expected_how(item)),
            "{item:?} adopted {how:?}, expected {}",
            expected_how(item)
        );
        *by_how.entry(expected_how(item)).or_default() += 1;
    }
    eprintln!("adopted by how: {by_how:?}");
    for how in ["by EWS id", "by entry id", "by content match", "by iCalUId"] {
        assert!(
            by_how.get(how).copied().unwrap_or(0) > 0,
            "none {how}: {by_how:?}"
        );
    }

    // A second cycle finds nothing to create or adopt.
    let again = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    for k in [Kind::Email, Kind::Appointment] {
        let t = again.total(k);
        assert_eq!((t.created, t.adopted), (0, 0), "{k}: {t:?}");
    }
    rt.store.close().await;
}

/// The `adopted_by` of the adoptions of `kind` whose ledger detail has `field` = `value`.
async fn adopted_where(
    store: &dyn StateStore,
    kind: Kind,
    field: &str,
    value: &str,
) -> Vec<String> {
    store
        .query_ledger(&LedgerFilter {
            kind: Some(kind),
            action: Some(LedgerAction::Adopted),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.detail)
        .filter(|d| d.get(field).and_then(|v| v.as_str()) == Some(value))
        .filter_map(|d| {
            d.get("adopted_by")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kept_contacts_absences_and_tasks_are_adopted_not_written_twice() {
    let env = Env::start(
        opts(23),
        "[emails]\nenabled = false\n\n[contacts]\nenabled = true\n\n[absences]\nenabled = true\n\n[tasks]\nenabled = true\n",
    )
    .await;
    let worked = worked(&env, &["contact", "absence", "task"]).await;
    for sort in ["contact", "absence", "task"] {
        assert!(
            worked.iter().any(|(i, _)| i.item == sort),
            "no migrated {sort} in a synchronized mailbox: {worked:?}"
        );
    }
    let rt = Runtime::build(&env.config()).await.unwrap();
    let (report, _) = common::converge(&rt, 3).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");

    let state = env.demo.sandbox.state();
    let store = rt.store.as_ref();
    let mut by_how: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (item, _) in &worked {
        // Exactly one item with the (unique) name: the one the EWS connector kept, adopted.
        let (same, kind, field): (Vec<String>, Kind, &str) = match item.item {
            "contact" => (
                state
                    .contacts(&item.mailbox)
                    .unwrap()
                    .into_iter()
                    // the connector's folder (the user's own contacts are not its business)
                    .filter(|c| c.1 == item.subject && c.2 == gc_sandbox::migrated::CONTACT_FOLDER)
                    .map(|c| c.0)
                    .collect(),
                Kind::Contact,
                "name",
            ),
            "absence" => (
                state
                    .events(&item.mailbox)
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.1 == item.subject)
                    .map(|e| e.0)
                    .collect(),
                Kind::Absence,
                "type",
            ),
            _ => (
                state
                    .tasks(&item.mailbox)
                    .unwrap()
                    .into_iter()
                    .filter(|t| t.1 == item.subject)
                    .map(|t| t.1)
                    .collect(),
                Kind::Task,
                "title",
            ),
        };
        assert_eq!(same.len(), 1, "{item:?}: {same:?}");
        if item.item != "task" {
            assert_eq!(same[0], item.graph_id, "{item:?}");
        }
        let how = adopted_where(store, kind, field, &item.subject).await;
        assert_eq!(how, vec![expected_how(item).to_owned()], "{item:?}");
        *by_how.entry((item.item, expected_how(item))).or_default() += 1;
    }
    eprintln!("adopted by how: {by_how:?}");
    for want in [
        ("contact", "by EWS id"),
        ("contact", "by entry id"),
        ("contact", "by content match"),
        ("absence", "by EWS id"),
        ("absence", "by entry id"),
        ("absence", "by content match"),
        ("task", "by content match"),
    ] {
        assert!(by_how.contains_key(&want), "none {want:?}: {by_how:?}");
    }

    // A second cycle creates and adopts nothing of these kinds.
    let again = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    for k in [Kind::Contact, Kind::Absence, Kind::Task] {
        let t = again.total(k);
        assert_eq!((t.created, t.adopted), (0, 0), "{k}: {t:?}");
    }
    rt.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reprocess_controls_do_what_they_say_and_nothing_else() {
    // One direction, so that only the resync can put the event's fields back into CRM.
    let env = Env::start(
        opts(22),
        "[appointments]\nenabled = true\ndirection = \"microsoft365_to_crm\"\n\n[emails]\nenabled = false\n",
    )
    .await;
    let worked = worked(&env, &["event", "message"]).await;
    let events: Vec<&(MigratedItem, String)> =
        worked.iter().filter(|(i, _)| i.item == "event").collect();
    assert!(events.len() >= 2, "{worked:?}");
    let rt = Runtime::build(&env.config()).await.unwrap();
    common::converge(&rt, 3).await;
    let store = rt.store.as_ref();
    let (a, rep) = events[0];
    let (b, rep_b) = events[1];
    let ida = by_subject(&env, &a.subject).await[0].id;
    let idb = by_subject(&env, &b.subject).await[0].id;

    // Someone edits both records in CRM (the connector, one way, does not look).
    let crm = env.crm();
    let subject = crm.dialect().activity.subject.clone();
    for id in [ida, idb] {
        crm.master()
            .update_activity(id, &[(subject.clone(), "edited in CRM".into())])
            .await
            .unwrap();
    }

    // resync A (through the binary, as an administrator would), then one cycle.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["item", "resync", "--config"])
        .arg(env.config_path())
        .args([
            "--mailbox",
            &a.mailbox,
            "--kind",
            "appointment",
            "--item",
            &a.graph_id,
        ])
        .args(["--by", "tester"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let t = run.total(Kind::Appointment);
    assert_eq!((t.created, t.adopted, t.updated), (0, 0, 1), "{t:?}");
    let crm_a = crm.master().activity(ida).await.unwrap().unwrap();
    let crm_b = crm.master().activity(idb).await.unwrap().unwrap();
    assert_eq!(
        crm_a.get(&subject),
        Some(a.subject.as_str()),
        "A is rewritten"
    );
    assert_eq!(
        crm_b.get(&subject),
        Some("edited in CRM"),
        "B is left alone"
    );
    let asked = store
        .query_ledger(&LedgerFilter {
            action: Some(LedgerAction::Reprocess),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].item_key, a.graph_id);
    assert_eq!(asked[0].detail.as_ref().unwrap()["requested_by"], "tester");

    // forget B: only B's link goes; the next cycle leaves B alone (nothing reports it).
    let links_before = store
        .list_links(rep_b, Kind::Appointment, None, 1000)
        .await
        .unwrap()
        .len();
    let who = Requester::new("tester", "cli").unwrap();
    let done = reprocess::forget(store, &b.mailbox, Kind::Appointment, &b.graph_id, &who)
        .await
        .unwrap();
    assert_eq!(done.crm_id, Some(idb));
    let links = store
        .list_links(rep_b, Kind::Appointment, None, 1000)
        .await
        .unwrap();
    assert_eq!(links.len(), links_before - 1);
    assert!(!links.iter().any(|l| l.graph_id == b.graph_id));
    let run = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let t = run.total(Kind::Appointment);
    assert_eq!((t.created, t.adopted, t.updated), (0, 0, 0), "{t:?}");
    assert!(
        store
            .get_link(Kind::Appointment, rep_b, &b.graph_id)
            .await
            .unwrap()
            .is_none()
    );

    // reset B's mailbox: the walk from the start meets B again and adopts its record (by the
    // meeting key the adoption wrote); nothing is duplicated, the other links are kept.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(["mailbox", "reset", "--config"])
        .arg(env.config_path())
        .args([
            "--mailbox",
            &b.mailbox,
            "--kind",
            "appointment",
            "--by",
            "tester",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let t = run.total(Kind::Appointment);
    assert_eq!((t.created, t.adopted), (0, 1), "{t:?}");
    let link = store
        .get_link(Kind::Appointment, rep_b, &b.graph_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.crm_id, Some(idb));
    // One record, B's: adopted again (and completed from the event, as adoption does).
    assert_eq!(by_subject(&env, &b.subject).await.len(), 1);
    assert!(by_subject(&env, "edited in CRM").await.is_empty());
    assert_eq!(
        store
            .list_links(rep_b, Kind::Appointment, None, 1000)
            .await
            .unwrap()
            .len(),
        links_before
    );
    let asked = store
        .query_ledger(&LedgerFilter {
            action: Some(LedgerAction::Reprocess),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(asked.len(), 3, "resync, forget, reset: {asked:#?}");
    let _ = rep;
    rt.store.close().await;
}

/// CRM queries the sandbox counted while one cycle of `rt` filed `subject`, delivered from an
/// external into `user`'s sync folder.
async fn queries_to_file(env: &Env, rt: &Runtime, user: &str, subject: &str) -> u64 {
    let st = env.demo.sandbox.state();
    st.deliver(
        user,
        gc_sandbox::NewMessage {
            subject: subject.into(),
            from: Some("new.customer@outside.example".into()),
            to: vec![user.to_owned()],
            body_text: Some("After the switch-over".into()),
            folder: Some(common::SYNC.into()),
            ..Default::default()
        },
    )
    .unwrap();
    queries_of_a_cycle(env, rt, Kind::Email).await
}

/// Converge every mailbox (the first runs store their switch-over), check that `kind`'s
/// switch-over of the first enabled user's mailbox is stored and lies within the cycle, and
/// wait past its second: Graph gives received and created times in whole seconds, and an
/// item of the switch-over's second is looked up (it may be older). The user.
async fn past_the_switch_over(env: &Env, kind: Kind) -> String {
    let rt = Runtime::build(&env.config()).await.unwrap();
    let before = rt.store.now().await.unwrap();
    let (report, _) = common::converge(&rt, 3).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");
    let user = env.enabled_users().await.remove(0);
    let rep = env.rep_of(&user).await.id.to_string();
    let kept = rt
        .store
        .get_resolved(&rep, kind, gc_sync::adopt::legacy::SWITCH_OVER)
        .await
        .unwrap()
        .expect("the first run stored the switch-over");
    let at: jiff::Timestamp = kept.parse().unwrap();
    assert!(at >= before && at <= rt.store.now().await.unwrap(), "{at}");
    rt.store.close().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    user
}

/// The CRM queries of one cycle of `rt`, which must create one record of `kind`.
async fn queries_of_a_cycle(env: &Env, rt: &Runtime, kind: Kind) -> u64 {
    let monitor = env.demo.sandbox.monitor();
    monitor.reset_stats();
    let report = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    assert_eq!(report.total(kind).created, 1, "{report:#?}");
    monitor
        .stats()
        .crm
        .by_command
        .get("query")
        .copied()
        .unwrap_or(0)
}

/// The first run of a mailbox stores its switch-over; a message received after it is not
/// looked up among the previous connector's keys (one CRM query of up to `max_legacy_keys`
/// keys fewer per new message), unless `legacy_ids_after_switch_over` asks for it. The
/// messages that existed before it are adopted as before (the test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_received_after_the_switch_over_is_not_looked_up_among_legacy_keys() {
    let env = Env::start(opts(23), "").await;
    let user = past_the_switch_over(&env, Kind::Email).await;
    // Each measured on a runtime of its own, so both pay the same start (CRM preflight, reps).
    let rt = Runtime::build(&env.config()).await.unwrap();
    let without = queries_to_file(&env, &rt, &user, "New after the switch-over").await;
    rt.store.close().await;
    let mut config = env.config();
    config.adoption.legacy_ids_after_switch_over = true;
    let rt = Runtime::build(&config).await.unwrap();
    let with = queries_to_file(&env, &rt, &user, "Also new after the switch-over").await;
    assert_eq!(
        with,
        without + 1,
        "the legacy keys' query is the one difference ({without} against {with})"
    );
    rt.store.close().await;
}

/// The same for appointments: an event created after the calendar's switch-over is not looked
/// up among the previous connector's keys, unless `legacy_ids_after_switch_over` asks for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_created_after_the_switch_over_is_not_looked_up_among_legacy_keys() {
    // One way only: the CRM side's walk would add queries of its own to both counts.
    let env = Env::start(
        opts(23),
        "[emails]\nenabled = false\n\n[appointments]\nenabled = true\ndirection = \"microsoft365_to_crm\"\n",
    )
    .await;
    let user = past_the_switch_over(&env, Kind::Appointment).await;
    let graph =
        gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
            .unwrap();
    let tomorrow = gc_crm::localtime::to_local(jiff::Timestamp::now(), env.crm().time_zone())
        .0
        .tomorrow()
        .unwrap();
    let meeting = |subject: &str| {
        serde_json::json!({
            "subject": subject,
            "start": {"dateTime": format!("{tomorrow}T09:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{tomorrow}T10:00:00"), "timeZone": "UTC"},
        })
    };
    let rt = Runtime::build(&env.config()).await.unwrap();
    graph
        .create_event(&user, &meeting("New after the switch-over"))
        .await
        .unwrap();
    let without = queries_of_a_cycle(&env, &rt, Kind::Appointment).await;
    rt.store.close().await;
    let mut config = env.config();
    config.adoption.legacy_ids_after_switch_over = true;
    let rt = Runtime::build(&config).await.unwrap();
    graph
        .create_event(&user, &meeting("Also new after the switch-over"))
        .await
        .unwrap();
    let with = queries_of_a_cycle(&env, &rt, Kind::Appointment).await;
    assert_eq!(
        with,
        without + 1,
        "the legacy keys' query is the one difference ({without} against {with})"
    );
    rt.store.close().await;
}
