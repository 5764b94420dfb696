//! A plan checked against the sync that follows it: the per-kind totals of both, the proof
//! that `plan` wrote nothing, and the per-mailbox comparison that allows for the copies of
//! shared meetings. Both plan tests (one way and two ways) rest on these.

use std::collections::BTreeMap;

use gc_store::StateStore;
use serde_json::{Value, json};

use super::harness::{json_of, report_of, reset, snapshot, stats, writes};
use crate::common::Env;

/// Per kind: (create, adopt, update, delete, skip, fail) of a plan and of a sync report.
pub(super) fn plan_totals(plans: &Value) -> BTreeMap<String, [u64; 6]> {
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

pub(super) fn sync_totals(report: &Value) -> BTreeMap<String, [u64; 6]> {
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

/// `plan --json`, with the proof that it wrote nothing: the sandbox saw no Graph or CRM
/// write while it ran, and the state store is as it was.
pub(super) async fn checked_plan(env: &Env, s: &dyn StateStore, round: usize) -> Value {
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
pub(super) fn assert_as_planned(
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
