//! End to end, over real HTTP to the admin server: the reprocess controls of a mailbox page
//! (`POST /mailboxes/{id}/items/resync|forget`, `POST /mailboxes/{id}/reset`, with the
//! session's CSRF token) and of the API (`POST /api/mailboxes/{id}/…` with `X-CSRF-Token`) do
//! what they say and nothing else: a dump of the whole state store (links, cursors, retries,
//! the reset's date) before and after each shows exactly the change it names; the next sync
//! does the work (resync rewrites one record, forget leaves the item alone, a reset from a
//! date adopts what is linked no more from that date on); each is in the ledger with who
//! asked; refused requests (no CSRF token, an unknown kind, item, mailbox or date) change
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Env, day, new_event};
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};
use gc_sync::reprocess;
use graph_connector::commands::sync::Runtime;
use serde_json::Value;

/// Everything the store holds about items and walks, one entry per link, cursor, retry and
/// reset date, keyed so that a difference names what changed.
async fn dump(store: &dyn StateStore) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in store.list_mailboxes().await.unwrap() {
        for c in store.list_cursors(&m.rep_id, None).await.unwrap() {
            out.insert(
                format!("cursor {} {} {}", m.rep_id, c.kind, c.scope),
                format!("{c:?}"),
            );
        }
        for k in Kind::ALL {
            for l in store.list_links(&m.rep_id, *k, None, 10_000).await.unwrap() {
                out.insert(
                    format!("link {} {k} {}", m.rep_id, l.graph_id),
                    format!("{l:?}"),
                );
            }
            if let Some(v) = store
                .get_resolved(&m.rep_id, *k, reprocess::RESET_FROM)
                .await
                .unwrap()
            {
                out.insert(format!("reset_from {} {k}", m.rep_id), v);
            }
        }
    }
    for r in store.list_retries(None, 10_000).await.unwrap() {
        let text = format!("{r:?}");
        out.insert(format!("retry {text}"), text);
    }
    out
}

/// The keys whose entries differ between two dumps (added, removed or changed).
fn changed(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

async fn reprocess_entries(store: &dyn StateStore) -> Vec<gc_store::LedgerEntry> {
    let mut v = store
        .query_ledger(&LedgerFilter {
            action: Some(LedgerAction::Reprocess),
            limit: Some(1000),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    v.sort_by_key(|e| e.id);
    v
}

/// The subject of a CRM activity.
async fn crm_subject(env: &Env, id: gc_store::CrmId) -> String {
    let crm = env.crm();
    let a = crm.master().activity(id).await.unwrap().unwrap();
    a.get(&crm.dialect().activity.subject)
        .unwrap_or_default()
        .to_owned()
}

async fn cycle(rt: &Runtime) -> gc_sync::MailboxReport {
    let r = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    r.total(Kind::Appointment)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_reprocess_routes_do_what_they_say_and_nothing_else() {
    // Calendars to CRM only, so that only a resync can put an event's fields back into CRM;
    // e-mail on too, so that another kind's links and cursors are there to stay untouched.
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 31,
            messages_per_mailbox: 4,
            ..SandboxOptions::default()
        },
        "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\ndirection = \"microsoft365_to_crm\"\n",
    )
    .await;
    env.file_all_inbox(3);
    let config = env.config();
    let graph =
        gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
            .unwrap();
    let user = env.users()[1].clone();
    let a = new_event(&graph, &user, "Reprocess A", 2).await;
    let b = new_event(&graph, &user, "Reprocess B", 3).await;
    // Before the reset's date: a reset from today leaves it alone once it is unlinked.
    let c = new_event(&graph, &user, "Reprocess C", -3).await;
    let d = new_event(&graph, &user, "Reprocess D", 4).await;

    let rt = Runtime::build(&config).await.unwrap();
    common::converge(&rt, 3).await;
    let store = rt.store.clone();
    let s = store.as_ref();
    let rep = s
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap()
        .rep_id;
    let link = |id: String| {
        let store = store.clone();
        let rep = rep.clone();
        async move { store.get_link(Kind::Appointment, &rep, &id).await.unwrap() }
    };
    let (la, lb, lc, ld) = (
        link(a.clone()).await.expect("A is linked"),
        link(b.clone()).await.expect("B is linked"),
        link(c.clone()).await.expect("C is linked"),
        link(d.clone()).await.expect("D is linked"),
    );
    let (ida, idb) = (la.crm_id.unwrap(), lb.crm_id.unwrap());
    assert!(
        la.graph_hash.is_some() && la.graph_version.is_some(),
        "{la:?}"
    );

    // Someone edits A's and B's records in CRM (the connector, one way, does not look).
    let crm = env.crm();
    let subject = crm.dialect().activity.subject.clone();
    for id in [ida, idb] {
        crm.master()
            .update_activity(id, &[(subject.clone(), "edited in CRM".into())])
            .await
            .unwrap();
    }

    // The admin server over the same store.
    let admin = common::admin::Admin::start(env.config(), store.clone()).await;
    let base = admin.base.clone();
    let client = common::admin::client();

    // The mailbox page: a session, and the reprocess forms with its CSRF token.
    let (cookie, page) = common::admin::visit(&client, &format!("{base}/mailboxes/{rep}")).await;
    for action in ["items/resync", "items/forget", "reset"] {
        assert!(
            page.contains(&format!("action=\"/mailboxes/{rep}/{action}\"")),
            "{action}: {page}"
        );
    }
    let csrf = common::admin::csrf(&page);
    let back = format!("/mailboxes/{rep}");
    let form = |path: &str, fields: &[(&str, &str)]| {
        client
            .post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .form(fields)
            .send()
    };
    let api = |path: &str, query: &[(&str, &str)]| {
        client
            .post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("x-csrf-token", csrf.as_str())
            .query(query)
            .send()
    };

    // Refused: nothing changes, nothing is recorded.
    let before = dump(s).await;
    let r = form(
        &format!("/mailboxes/{rep}/items/resync"),
        &[
            ("kind", "appointment"),
            ("item", a.as_str()),
            ("back", back.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    /// (route, query, status, what the error says)
    type Refusal<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let refusals: [Refusal; 6] = [
        (
            "items/resync",
            vec![("kind", "appointments-ish"), ("item", a.as_str())],
            400,
            "unknown kind",
        ),
        (
            "items/resync",
            vec![("kind", "appointment"), ("item", "no-such-event")],
            404,
            "no appointment item no-such-event is linked",
        ),
        (
            "items/forget",
            vec![("kind", "appointment"), ("item", "")],
            400,
            "which item",
        ),
        (
            "items/forget",
            vec![("kind", "task"), ("item", a.as_str())],
            404,
            "no task item",
        ),
        (
            "reset",
            vec![("kind", "appointment"), ("from", "yesterday")],
            400,
            "is not a date",
        ),
        ("reset", vec![("from", "2026-01-01")], 400, "unknown kind"),
    ];
    for (op, query, status, says) in &refusals {
        let r = api(&format!("/api/mailboxes/{rep}/{op}"), query)
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), *status, "{op} {query:?}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{op} {query:?}: {body}"
        );
    }
    let r = api(
        "/api/mailboxes/nobody@nowhere.example/items/resync",
        &[("kind", "appointment"), ("item", a.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // The same refusal through a form answers with the reason too.
    let r = form(
        &format!("/mailboxes/{rep}/items/forget"),
        &[
            ("kind", "appointment"),
            ("item", "no-such-event"),
            ("csrf", csrf.as_str()),
            ("back", back.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no-such-event"));
    assert_eq!(dump(s).await, before, "a refused request changed the store");
    assert!(reprocess_entries(s).await.is_empty());

    // resync A (form): A's link forgets its event side, the mailbox's calendar cursors go so
    // the walk meets A again; nothing else changes.
    let before = dump(s).await;
    let r = form(
        &format!("/mailboxes/{rep}/items/resync"),
        &[
            ("kind", "appointment"),
            ("item", a.as_str()),
            ("by", "alice"),
            ("csrf", csrf.as_str()),
            ("back", back.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], back.as_str());
    let after = dump(s).await;
    let diff = changed(&before, &after);
    let calendar_cursors: BTreeSet<String> = before
        .keys()
        .filter(|k| k.starts_with(&format!("cursor {rep} appointment ")))
        .cloned()
        .collect();
    assert!(!calendar_cursors.is_empty());
    let mut expected = calendar_cursors.clone();
    expected.insert(format!("link {rep} appointment {a}"));
    assert_eq!(diff, expected, "resync changed more (or less) than it says");
    assert!(
        calendar_cursors.iter().all(|k| !after.contains_key(k)),
        "the calendar cursors are dropped"
    );
    let now_a = link(a.clone()).await.unwrap();
    assert_eq!((now_a.graph_hash, now_a.graph_version), (None, None));
    assert_eq!(
        (now_a.crm_id, now_a.crm_hash.clone(), now_a.state.clone()),
        (la.crm_id, la.crm_hash.clone(), la.state.clone()),
        "the record side and the link itself stay"
    );
    let asked = reprocess_entries(s).await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].item_key, a);
    assert_eq!(asked[0].mailbox, rep);
    assert_eq!(asked[0].crm_id, Some(ida));
    let detail = asked[0].detail.as_ref().unwrap();
    assert_eq!(detail["reprocess"], "resync");
    assert_eq!(detail["via"], "admin");
    assert_eq!(
        detail["requested_by"],
        "alice (browser session from 127.0.0.1)"
    );
    assert!(asked[0].reason.contains("requested by alice"), "{asked:?}");
    // The next sync rewrites A's record from its event, and only it.
    let t = cycle(&rt).await;
    assert_eq!(
        (t.created, t.adopted, t.updated, t.deleted),
        (0, 0, 1, 0),
        "{t:?}"
    );
    assert_eq!(crm_subject(&env, ida).await, "Reprocess A");
    assert_eq!(
        crm_subject(&env, idb).await,
        "edited in CRM",
        "B is left alone"
    );

    // forget B and C (API): their links go, nothing else; the next sync leaves them alone.
    let before = dump(s).await;
    for (item, lnk) in [(&b, &lb), (&c, &lc)] {
        let r = api(
            &format!("/api/mailboxes/{user}/items/forget"),
            &[
                ("kind", "appointment"),
                ("item", item.as_str()),
                ("by", "bob"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["ok"], true, "{body}");
        assert_eq!(body["rep_id"], rep.as_str(), "{body}");
        assert_eq!(body["item"], item.as_str(), "{body}");
        assert_eq!(body["crm_id"], lnk.crm_id.unwrap().to_string(), "{body}");
        assert_eq!(body["cursors_dropped"], 0, "{body}");
        assert_eq!(
            body["requested_by"], "bob (browser session from 127.0.0.1)",
            "{body}"
        );
    }
    let after = dump(s).await;
    assert_eq!(
        changed(&before, &after),
        BTreeSet::from([
            format!("link {rep} appointment {b}"),
            format!("link {rep} appointment {c}"),
        ]),
        "forget changed more (or less) than it says"
    );
    assert!(link(b.clone()).await.is_none() && link(c.clone()).await.is_none());
    let t = cycle(&rt).await;
    assert_eq!(
        (t.created, t.adopted, t.updated, t.deleted),
        (0, 0, 0, 0),
        "{t:?}"
    );
    assert!(link(b.clone()).await.is_none() && link(c.clone()).await.is_none());

    // reset from today (form): the mailbox's appointment cursors go, the date is kept for the
    // next walk, every link stays.
    let before = dump(s).await;
    let today = day(0).to_string();
    let r = form(
        &format!("/mailboxes/{rep}/reset"),
        &[
            ("kind", "appointment"),
            ("from", today.as_str()),
            ("by", "carol"),
            ("csrf", csrf.as_str()),
            ("back", back.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let after = dump(s).await;
    let mut expected: BTreeSet<String> = before
        .keys()
        .filter(|k| k.starts_with(&format!("cursor {rep} appointment ")))
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    expected.insert(format!("reset_from {rep} appointment"));
    assert_eq!(
        changed(&before, &after),
        expected,
        "reset changed more (or less) than it says"
    );
    assert!(
        after
            .keys()
            .all(|k| !k.starts_with(&format!("cursor {rep} appointment "))),
        "{after:#?}"
    );
    // The walk from the start adopts B (dated after the reset's date) onto its record, leaves
    // C (before it) alone, and creates nothing.
    let t = cycle(&rt).await;
    assert_eq!((t.created, t.adopted, t.deleted), (0, 1, 0), "{t:?}");
    assert_eq!(link(b.clone()).await.unwrap().crm_id, Some(idb));
    assert!(
        link(c.clone()).await.is_none(),
        "C is before the reset's date"
    );
    assert_eq!(link(d.clone()).await.unwrap().crm_id, ld.crm_id);
    assert!(
        s.get_resolved(&rep, Kind::Appointment, reprocess::RESET_FROM)
            .await
            .unwrap()
            .is_none(),
        "the reset's date is gone once its walk completed"
    );

    // A script with the admin token (a server that requires it): a wrong token is refused and
    // changes nothing; with it, a reset without a date walks from the start and adopts C too.
    let mut with_token = env.config();
    with_token.admin.token = Some(secrecy::SecretString::from("s3cret-admin-token"));
    let admin2 = common::admin::Admin::start(with_token, store.clone()).await;
    let tokened = admin2.base.clone();
    let before = dump(s).await;
    for auth in [None, Some("Bearer wrong")] {
        let mut req = client
            .post(format!("{tokened}/api/mailboxes/{rep}/reset"))
            .query(&[("kind", "appointment")]);
        if let Some(h) = auth {
            req = req.header("authorization", h);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
    }
    assert_eq!(dump(s).await, before, "a refused request changed the store");
    let r = client
        .post(format!("{tokened}/api/mailboxes/{rep}/reset"))
        .header("authorization", "Bearer s3cret-admin-token")
        .query(&[("kind", "appointment")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["requested_by"], "admin (bearer token from 127.0.0.1)",
        "{body}"
    );
    assert!(body["cursors_dropped"].as_u64().unwrap() > 0, "{body}");
    let after = dump(s).await;
    assert!(
        changed(&before, &after)
            .iter()
            .all(|k| k.starts_with(&format!("cursor {rep} appointment "))),
        "{:#?}",
        changed(&before, &after)
    );
    let t = cycle(&rt).await;
    assert_eq!((t.created, t.adopted, t.deleted), (0, 1, 0), "{t:?}");
    assert_eq!(link(c.clone()).await.unwrap().crm_id, lc.crm_id);
    admin2.stop().await;

    // Every action in the ledger, with who asked.
    let asked = reprocess_entries(s).await;
    let seen: Vec<(String, String, String)> = asked
        .iter()
        .map(|e| {
            let d = e.detail.as_ref().unwrap();
            (
                d["reprocess"].as_str().unwrap().to_owned(),
                e.item_key.clone(),
                d["requested_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let session = |who: &str| format!("{who} (browser session from 127.0.0.1)");
    assert_eq!(
        seen,
        vec![
            ("resync".into(), a.clone(), session("alice")),
            ("forget".into(), b.clone(), session("bob")),
            ("forget".into(), c.clone(), session("bob")),
            ("reset".into(), "(mailbox)".into(), session("carol")),
            (
                "reset".into(),
                "(mailbox)".into(),
                "admin (bearer token from 127.0.0.1)".into()
            ),
        ]
    );
    assert!(
        asked
            .iter()
            .all(|e| e.kind == Kind::Appointment && e.mailbox == rep)
    );
    assert!(asked[3].reason.contains("dated before"), "{asked:#?}");
    admin.stop().await;
    rt.store.close().await;
}
