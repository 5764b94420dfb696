//! End to end: "enable after review" (`[mailboxes] confirm_first_sync_above`) and the admin
//! page's confirmations. A first sync larger than the threshold waits; the admin page lists
//! it with its plan, computes a mailbox's plan on request, and its confirm button (a POST with
//! the session's CSRF token) lets the next run go ahead; the confirmation is in the ledger
//! with who asked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LedgerAction, LedgerFilter};
use gc_sync::MailboxOutcome;
use gc_sync::engine::holds;
use graph_connector::commands::sync::Runtime;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_first_sync_waits_for_the_confirm_button_on_the_admin_page() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 5,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\n",
    )
    .await;
    let mut config = env.config();
    config.mailboxes.confirm_first_sync_above = 3;
    let rt = Runtime::build(&config).await.unwrap();
    let first = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    let held: Vec<_> = first
        .mailboxes
        .iter()
        .filter(|m| m.kind == Kind::Appointment)
        .collect();
    assert!(!held.is_empty());
    for m in &held {
        assert_eq!(m.outcome, MailboxOutcome::Held, "{m:?}");
        assert_eq!(m.created + m.adopted + m.updated + m.deleted, 0, "{m:?}");
        assert!(
            m.error
                .as_deref()
                .unwrap()
                .contains("first sync waits for review")
        );
    }
    let user = held[0].mailbox.clone();
    let rep_id = rt
        .store
        .list_mailboxes()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.address == user)
        .unwrap()
        .rep_id;
    let links = rt
        .store
        .list_links(&rep_id, Kind::Appointment, None, 10)
        .await
        .unwrap();
    assert!(links.is_empty(), "nothing linked while waiting: {links:?}");

    // The admin server over the same store.
    let admin = common::admin::Admin::start(env.config(), rt.store.clone()).await;
    let base = admin.base.clone();
    let client = common::admin::client();

    // The waiting list, with the plan that was held and a confirm button.
    let (cookie, page) = common::admin::visit(&client, &format!("{base}/holds")).await;
    assert!(page.contains(&user), "{page}");
    assert!(page.contains("first sync waits for review"), "{page}");
    assert!(
        page.contains(&format!("/mailboxes/{rep_id}/confirm")),
        "{page}"
    );
    let csrf = common::admin::csrf(&page);

    // The plan of the mailbox, computed on request (JSON and page).
    let plans: serde_json::Value = client
        .get(format!(
            "{base}/api/mailboxes/{rep_id}/plan?kind=appointment"
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = &plans["plans"][0];
    assert_eq!(p["first_sync"], true, "{plans:#}");
    let planned = p["create"].as_u64().unwrap() + p["adopt"].as_u64().unwrap();
    assert!(p["create"].as_u64().unwrap() > 3, "{plans:#}");
    let page = client
        .get(format!("{base}/mailboxes/{rep_id}/plan"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"plan\"") && page.contains("first sync"),
        "{page}"
    );

    // A confirm without the CSRF token is refused; with it, the hold is confirmed.
    let r = client
        .post(format!("{base}/mailboxes/{rep_id}/confirm"))
        .header("cookie", &cookie)
        .form(&[("kind", "appointment"), ("back", "/holds")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(format!("{base}/mailboxes/{rep_id}/confirm"))
        .header("cookie", &cookie)
        .form(&[
            ("kind", "appointment"),
            ("back", "/holds"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/holds");
    let hold = holds::get(rt.store.as_ref(), &rep_id, Kind::Appointment)
        .await
        .unwrap()
        .unwrap();
    assert!(
        hold.confirmed_by
            .as_deref()
            .unwrap()
            .starts_with("admin page"),
        "{hold:?}"
    );
    let confirmed = rt
        .store
        .query_ledger(&LedgerFilter {
            action: Some(LedgerAction::Confirmed),
            ..LedgerFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(confirmed.len(), 1);
    assert!(confirmed[0].reason.contains("admin page"), "{confirmed:?}");

    // The next run goes ahead for that mailbox only, as planned; its hold is gone.
    let next = rt
        .cycle(None, &gc_sync::NoProgress, &Default::default())
        .await
        .unwrap();
    for m in next
        .mailboxes
        .iter()
        .filter(|m| m.kind == Kind::Appointment)
    {
        if m.mailbox == user {
            assert_eq!(m.outcome, MailboxOutcome::Complete, "{m:?}");
            assert_eq!(m.created + m.adopted, planned, "{m:?}");
        } else {
            assert_eq!(m.outcome, MailboxOutcome::Held, "{m:?}");
        }
    }
    assert!(
        holds::get(rt.store.as_ref(), &rep_id, Kind::Appointment)
            .await
            .unwrap()
            .is_none()
    );
    admin.stop().await;
}
