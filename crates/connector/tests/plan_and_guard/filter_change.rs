//! A CRM filter change (forms.xml's VeventFilter narrowed, later `[appointments] types`) is
//! no deletion: nothing deleted, nothing for the guard to hold, the ledger says why, edits
//! wait and widening again duplicates nothing. Apart from the guard tests because it proves
//! the guard has nothing to do, with forms.xml helpers of its own.

use gc_crm::NewActivity;
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};
use serde_json::json;

use super::calendars;
use super::harness::{
    appointment_plan, bin, graph, json_of, report_of, reset, stats, store, subjects, writes,
};
use crate::common::day;

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
    let rep = env.rep_of(&user).await;
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
