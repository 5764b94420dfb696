//! An Aurea installation with other names than the defaults (the sandbox's CRM.interface
//! served with a dialect): `check` names each `[crm.dialect]` key to set; with them, `check`
//! passes and `sync --once` files every message as it does with the default names. And a CRM
//! that lacks one field the connector uses stops the sync before anything moves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Env, SYNC};
use gc_sandbox::SandboxOptions;
use gc_sandbox::crm::CrmDialect;
use serde_json::Value;

/// The installation of the field report: external keys without `Mailbox`, catalogs read
/// through a table `Catalog` with `CatalogName`, another name for "Enable Connector settings".
const OTHER_NAMES: &str = r#"
[crm.dialect.external_key]
mailbox = ""
[crm.dialect.catalog]
table = "Catalog"
catalog = "CatalogName"
[crm.dialect.rep]
connector_enabled = "EnableConnector"
"#;

fn opts(dialect: &str) -> SandboxOptions {
    SandboxOptions {
        users: 5,
        seed: 11,
        messages_per_mailbox: 5,
        crm_dialect: CrmDialect::parse(dialect).unwrap(),
        ..SandboxOptions::default()
    }
}

fn binary(args: &[&str], config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_graph-connector"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

async fn check(config: &Path) -> (i32, Value) {
    let config = config.to_path_buf();
    let out = tokio::task::spawn_blocking(move || binary(&["check", "--json"], &config))
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn failed(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}",
                    c["cause"].as_str().unwrap_or(""),
                    c["fix"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut s = std::fs::read_to_string(path).unwrap();
    s.push_str(text);
    std::fs::write(path, s).unwrap();
}

/// What one sync did: in total (filed, adopted); per mailbox (filed or adopted, already,
/// skipped, failed), since which of the mailboxes sharing a message files it first and which
/// adopt it depends on timing; and the activities in CRM as (subject, participants) of the
/// connector's records.
type Outcome = (
    (u64, u64),
    BTreeMap<String, (u64, u64, u64, u64)>,
    Vec<(String, usize)>,
);

/// `sync --once --json` (the binary), then what landed in CRM.
async fn sync_all(env: &Env) -> Outcome {
    env.file_all_inbox(4);
    let config = env.config_path();
    let out = tokio::task::spawn_blocking(move || binary(&["sync", "--once", "--json"], &config))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut per_mailbox = BTreeMap::new();
    let mut totals = (0, 0);
    for m in report["mailboxes"].as_array().unwrap() {
        let n = |k: &str| m[k].as_u64().unwrap();
        assert_eq!(m["outcome"], "complete", "{m:#}");
        assert_eq!(n("delayed"), 0, "{m:#}");
        let mailbox = m["mailbox"].as_str().unwrap().to_owned();
        assert_eq!(env.count(&mailbox, SYNC), 0, "{mailbox} kept messages");
        // The other kinds ran too (and completed); the comparison is of the filing, whose
        // outcome does not depend on which kind's rows come last.
        if m["kind"] != "email" {
            continue;
        }
        totals.0 += n("created");
        totals.1 += n("adopted");
        per_mailbox.insert(
            mailbox,
            (
                n("created") + n("adopted"),
                n("unchanged"),
                n("skipped"),
                n("failed"),
            ),
        );
    }
    assert!(!per_mailbox.is_empty());
    let mut activities: Vec<(String, usize)> = env
        .email_activities()
        .await
        .into_iter()
        .filter(|a| a.id.stat_no() == 2)
        .map(|a| {
            let subject = a.fields.get("Subject").cloned().unwrap_or_default();
            (subject, a.participants.len())
        })
        .collect();
    activities.sort();
    (totals, per_mailbox, activities)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_names_are_found_by_check_and_then_sync_like_the_defaults() {
    let env = Env::start(opts(OTHER_NAMES), "").await;
    let config = env.config_path();

    // without the matching [crm.dialect]: one failed line per key, naming the value found
    let (code, report) = check(&config).await;
    assert_eq!(code, 1, "{report:#}");
    let failed = failed(&report);
    for (key, value) in [
        ("[crm.dialect.rep] connector_enabled", "ConnectorEnabled"),
        ("[crm.dialect.external_key] mailbox", "Mailbox"),
        ("[crm.dialect.catalog] table", "CatalogValue"),
    ] {
        let line = failed
            .iter()
            .find(|(name, _)| name == key)
            .unwrap_or_else(|| panic!("no failed line {key}: {failed:#?}"));
        assert!(line.1.contains(&format!("\"{value}\"")), "{line:?}");
        assert!(line.1.contains(key), "the fix names the key: {line:?}");
    }
    // the sync refuses to start, naming the keys
    let out = binary(&["sync", "--once"], &config);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[crm.dialect.external_key] mailbox"),
        "{stderr}"
    );

    // with it: check passes, and the sync files like it does with the default names
    append(&config, OTHER_NAMES);
    let (code, report) = check(&config).await;
    assert_eq!(code, 0, "{report:#}");
    let dialect = sync_all(&env).await;

    let defaults = Env::start(opts(""), "").await;
    let default = sync_all(&defaults).await;
    assert!(!default.2.is_empty());
    assert_eq!(dialect, default);

    // the installation's names were used: the connector's external keys have no Mailbox
    let keys: Value = reqwest::get(format!(
        "{}/_sandbox/crm/records/ExternalKey",
        env.demo.sandbox.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ours: Vec<&Value> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["stat_no"] == 2)
        .collect();
    assert!(!ours.is_empty());
    assert!(
        ours.iter().all(|k| k["fields"].get("Mailbox").is_none()),
        "{ours:#?}"
    );

    let printed = binary(&["config", "dialect"], &config);
    let text = String::from_utf8_lossy(&printed.stdout);
    assert!(
        text.contains("table = \"Catalog\"  # overridden (default \"CatalogValue\")"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crm_without_one_field_stops_the_sync_before_anything_moves() {
    let env = Env::start(opts("[crm.dialect.external_key]\nmailbox = \"\"\n"), "").await;
    let filed = env.file_all_inbox(3);
    let inbox: BTreeMap<String, usize> = env
        .users()
        .into_iter()
        .map(|u| {
            let n = env.count(&u, "inbox");
            (u, n)
        })
        .collect();

    let config = env.config_path();
    let out = tokio::task::spawn_blocking(move || binary(&["sync", "--once"], &config))
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // one clear message: one problem, the key to set and the name CRM.interface lacks
    assert!(stderr.contains("(1 problem)"), "{stderr}");
    assert_eq!(stderr.matches("\n  - ").count(), 1, "{stderr}");
    assert!(
        stderr.contains("[crm.dialect.external_key] mailbox"),
        "{stderr}"
    );
    assert!(stderr.contains("\"Mailbox\""), "{stderr}");
    assert!(stderr.contains("nothing was synchronized"), "{stderr}");

    // zero messages moved, zero notifications
    for (u, n) in &filed {
        assert_eq!(env.count(u, SYNC), *n, "{u}: messages moved");
        assert_eq!(env.count(u, &format!("{SYNC}/Sync_Failure")), 0, "{u}");
        assert_eq!(env.count(u, &format!("{SYNC}/Sync_Success")), 0, "{u}");
    }
    for (u, n) in &inbox {
        assert_eq!(env.count(u, "inbox"), *n, "{u} was notified");
    }
    // and no CRM record was written
    let crm = env.crm();
    let ours = crm
        .master()
        .activities(&gc_crm::ActivityFilter {
            from: jiff::civil::date(2000, 1, 1),
            to: jiff::civil::date(2100, 12, 31),
            rep_id: None,
            condition: None,
            fields: Vec::new(),
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.id.stat_no() == 2)
        .count();
    assert_eq!(ours, 0);
}

/// Our activities (station 2) in CRM and, per activity id, how many of our external keys
/// point to it.
async fn activities_and_keys(env: &Env) -> BTreeMap<u64, usize> {
    let get = |table: &'static str| {
        let url = format!("{}/_sandbox/crm/records/{table}", env.demo.sandbox.url());
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let mut out: BTreeMap<u64, usize> = get("Contact")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["stat_no"] == 2 && a["deleted"] == false)
        .map(|a| (a["id"].as_u64().unwrap(), 0))
        .collect();
    for k in get("ExternalKey").await.as_array().unwrap() {
        for l in k["links"].as_array().unwrap() {
            if l[0] == "Contact"
                && let Some(n) = out.get_mut(&l[1].as_u64().unwrap())
            {
                *n += 1;
            }
        }
    }
    out
}

/// `[crm.dialect] child_records` defaults to "nested", which CRM.interface does not document.
/// Against an installation that does not nest (it writes the activity and ignores the records
/// inside it), the first filed message stops the sync at tenant level with the key to set;
/// no message is failed or moved for it. With `child_records = "separate"` the next sync
/// adopts the activity written without its key: every activity ends with exactly one key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nested_child_records_against_a_crm_that_does_not_nest_stop_the_sync() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            ..opts("child_records = \"separate\"\n")
        },
        "[appointments]\nenabled = false\n[tasks]\nenabled = false\n[contacts]\nenabled = false\n\
         [absences]\nenabled = false\n",
    )
    .await;
    let filed = env.file_all_inbox(3);
    let config = env.config_path();
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || binary(&["sync", "--once"], &cfg))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("child_records"), "{stderr}");
    assert!(stderr.contains("\"separate\""), "{stderr}");
    // Not an item's failure: no message failed (those the rules skip before any CRM write
    // go to the failure folder as always, and one adopted from an existing record needs no
    // insert).
    let store = common::service::store_of(&env).await;
    let failed: Vec<_> = common::decisions(&*store)
        .await
        .into_iter()
        .filter(|(_, actions)| actions.contains(&gc_store::LedgerAction::Failed))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // The activities the stopped run wrote have no key (the CRM ignored it): at most the
    // items in flight when the stop came (4 per mailbox).
    let before = activities_and_keys(&env).await;
    let keyless: Vec<u64> = before
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !keyless.is_empty() && keyless.len() <= 4 * filed.len(),
        "{before:?}"
    );

    append(&config, "\n[crm.dialect]\nchild_records = \"separate\"\n");
    let cfg = config.clone();
    let out = tokio::task::spawn_blocking(move || binary(&["sync", "--once"], &cfg))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for u in env.enabled_users().await {
        assert_eq!(
            env.count(&u, SYNC),
            0,
            "{u}: messages left in the sync folder"
        );
    }
    let after = activities_and_keys(&env).await;
    for id in &keyless {
        assert_eq!(
            after.get(id),
            Some(&1),
            "activity {id} not adopted: {after:?}"
        );
    }
    assert!(after.values().all(|n| *n == 1), "{after:?}");
}
