//! End to end: e-mail filing against the in-process sandbox (Microsoft 365 + CRM.interface).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Env, SYNC, decisions, final_state};
use gc_sandbox::{NewMessage, SandboxOptions};
use gc_store::{Kind, LedgerAction, LedgerFilter};
use gc_sync::NoProgress;
use graph_connector::commands::sync::Runtime;

fn opts(users: usize, seed: u64) -> SandboxOptions {
    SandboxOptions {
        users,
        seed,
        messages_per_mailbox: 24,
        ..SandboxOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_messages_across_twenty_mailboxes() {
    let env = Env::start(
        opts(28, 7),
        "[emails]\nattachments = \"limited\"\nmax_attachment_kb = 1024\n\n[mailboxes]\nparallel = 8\n",
    )
    .await;
    let users = env.enabled_users().await;
    let st = env.demo.sandbox.state();
    let (u0, u1, u2, u3) = (&users[0], &users[1], &users[2], &users[3]);
    // Crafted cases, delivered straight into the sync folder.
    for u in [u0, u1, u2, u3] {
        st.create_folder_path(u, SYNC).unwrap();
    }
    let long = format!("<p>{}</p><!-- comment -->", "lorem ipsum ".repeat(5_000));
    st.deliver(
        u0,
        NewMessage {
            subject: "Oversized body".into(),
            to: vec![u0.clone()],
            body_html: Some(long),
            folder: Some(SYNC.into()),
            ..Default::default()
        },
    )
    .unwrap();
    st.deliver(
        u1,
        NewMessage {
            subject: "Unknown participants".into(),
            from: Some("stranger@unknown.example".into()),
            to: vec![u1.clone()],
            cc: vec!["ghost@unknown.example".into()],
            body_text: Some("Who are we?".into()),
            folder: Some(SYNC.into()),
            ..Default::default()
        },
    )
    .unwrap();
    st.deliver(
        u2,
        NewMessage {
            subject: "External only".into(),
            from: Some(u2.clone()),
            to: vec!["a@outside.example".into(), "b@outside.example".into()],
            body_text: Some("Only externals".into()),
            folder: Some(SYNC.into()),
            ..Default::default()
        },
    )
    .unwrap();
    st.deliver(u3, common::service::bcc_only("Blind copy only"))
        .unwrap();
    let before = env.file_all_inbox(usize::MAX);

    let config = env.config();
    let rt = Runtime::build(&config).await.unwrap();
    let (report, runs) = common::converge(&rt, 3).await;
    eprintln!("first sync complete after {runs} run(s)");
    // Only mailboxes of reps enabled for e-mails are worked.
    let total: usize = before
        .iter()
        .filter(|(u, _)| report.mailboxes.iter().any(|m| &m.mailbox == *u))
        .map(|(_, n)| n)
        .sum();
    assert!(total >= 200, "only {total} messages filed");
    let t = report.total(gc_store::Kind::Email);
    assert!(
        report.mailboxes.len() >= 20,
        "{} mailboxes",
        report.mailboxes.len()
    );
    assert!(!report.any_mailbox_failed(), "{report:#?}");
    assert_eq!(t.delayed, 0, "{report:#?}");
    assert_eq!(t.handled() as usize, total, "{report:#?}");
    assert!(t.adopted > 0, "shared messages must be adopted: {t:?}");
    assert!(t.warnings > 0);
    assert!(t.skipped >= 1);

    // Every message left the sync folder, into success or failure.
    for (u, n) in &before {
        if !report.mailboxes.iter().any(|m| &m.mailbox == u) {
            continue;
        }
        assert_eq!(
            env.count(u, SYNC),
            0,
            "{u} still has messages in the sync folder"
        );
        let moved = env.count(u, &format!("{SYNC}/Sync_Success"))
            + env.count(u, &format!("{SYNC}/Sync_Failure"));
        assert_eq!(moved, *n, "{u}");
    }

    // One activity per distinct message; every filing rep is a participant.
    let f = final_state(&*rt.store).await;
    let crm = env.crm();
    let master = crm.master();
    let mut shared = 0;
    for (key, (mailboxes, ids)) in &f.by_key {
        assert_eq!(ids.len(), 1, "{key}: {ids:?}");
        if mailboxes.len() > 1 {
            shared += 1;
            let id = *ids.iter().next().unwrap();
            let a = master.activity(gc_crm::CrmId(id)).await.unwrap().unwrap();
            let reps: BTreeSet<String> = a
                .participants
                .iter()
                .filter_map(|p| p.rep.map(|r| r.get().to_string()))
                .collect();
            for m in mailboxes {
                assert!(reps.contains(m), "{key}: rep {m} not among {reps:?}");
            }
        }
    }
    assert!(shared > 0, "no message was filed by several reps");
    let keys: Vec<String> = f.by_key.keys().cloned().collect();
    let xks = master.find_external_keys(None, &keys).await.unwrap();
    for key in &keys {
        let targets: BTreeSet<u64> = xks
            .iter()
            .filter(|x| &x.ext_key == key)
            .filter_map(|x| x.record.as_ref().map(|r| r.1.get()))
            .collect();
        assert_eq!(
            targets.len(),
            1,
            "{key}: external keys point to {targets:?}"
        );
    }

    // Fields of the crafted messages.
    let acts = env.email_activities().await;
    let find = |subject: &str| {
        let id = acts
            .iter()
            .find(|a| a.get("Subject") == Some(subject))
            .unwrap_or_else(|| panic!("no activity {subject}"))
            .id;
        async move { master.activity(id).await.unwrap().unwrap() }
    };
    let big = find("Oversized body").await;
    assert!(big.get("Text").unwrap().chars().count() <= 32_000);
    assert!(!big.get("Text").unwrap().contains("<!--"));
    let unknown = find("Unknown participants").await;
    let missing = unknown.get("MissingParticipants").unwrap_or_default();
    assert!(
        missing.contains("ghost@unknown.example") && missing.contains("stranger@unknown.example"),
        "{missing}"
    );
    let ext = find("External only").await;
    assert!(
        ext.get("MissingParticipants")
            .unwrap_or_default()
            .contains("a@outside.example")
    );
    assert!(
        acts.iter()
            .all(|a| a.get("Subject") != Some("Blind copy only"))
    );
    assert!(env.count(u3, &format!("{SYNC}/Sync_Failure")) >= 1);
    // The user is told in one notice per run (the subject names the message when it is the
    // only one), and the ledger says which messages it told of.
    let inbox = st.messages(u3, "inbox").unwrap();
    let notices: Vec<&str> = inbox
        .iter()
        .map(|m| m.subject.as_str())
        .filter(|s| s.starts_with("Not filed in CRM: "))
        .collect();
    assert!(
        notices.len() == 1
            && (notices[0] == "Not filed in CRM: Blind copy only"
                || notices[0].ends_with(" messages")),
        "{notices:?}"
    );
    let bcc = st
        .messages(u3, &format!("{SYNC}/Sync_Failure"))
        .unwrap()
        .into_iter()
        .find(|m| m.subject == "Blind copy only")
        .expect("the BCC message in the failure folder");
    let told = rt
        .store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Email),
            action: Some(LedgerAction::Notified),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        told.iter()
            .any(|e| e.item_key == bcc.immutable_id || e.item_key == bcc.rest_id),
        "{told:#?}"
    );
    let filed = st.messages(u1, &format!("{SYNC}/Sync_Success")).unwrap();
    assert!(
        filed
            .iter()
            .all(|m| m.categories.iter().any(|c| c == "Aurea CRM"))
    );

    // The ledger has exactly one decision per message, and warnings for truncation and
    // skipped attachments.
    let dec = decisions(&*rt.store).await;
    assert_eq!(dec.len(), total);
    assert!(dec.values().all(|v| v.len() == 1), "{dec:?}");
    let warnings = rt
        .store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Email),
            action: Some(LedgerAction::Warning),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.reason.starts_with("body truncated"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.reason.contains("skipped: larger than the limit"))
    );

    // A second run changes nothing.
    let n_acts = acts.len();
    let again = rt
        .cycle(None, &NoProgress, &Default::default())
        .await
        .unwrap();
    let t2 = again.total(gc_store::Kind::Email);
    assert_eq!(
        (
            t2.created,
            t2.adopted,
            t2.unchanged,
            t2.failed,
            t2.skipped,
            t2.delayed
        ),
        (0, 0, 0, 0, 0, 0),
        "{again:#?}"
    );
    assert_eq!(env.email_activities().await.len(), n_acts);
    assert_eq!(decisions(&*rt.store).await, dec);
}

/// The administrator's mailbox sends at most `[microsoft] admin_sends_per_minute` notices: the
/// ones over it are refused before they leave (Exchange would block the mailbox), their
/// mailboxes' runs end delayed saying why, and the notices wait in the store for a later run,
/// which sends them: none is lost, none goes twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_over_the_admin_mailbox_sending_limit_wait_for_a_later_run() {
    let env = Env::start(
        SandboxOptions {
            users: 8,
            seed: 11,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "",
    )
    .await;
    let users: Vec<String> = env.enabled_users().await.into_iter().take(4).collect();
    assert_eq!(users.len(), 4, "four reps filing e-mails");
    let st = env.demo.sandbox.state();
    for u in &users {
        st.create_folder_path(u, SYNC).unwrap();
        // Only in BCC: not filed, so its user is told.
        st.deliver(u, common::service::bcc_only(format!("Blind copy for {u}")))
            .unwrap();
    }
    let limited = || {
        graph_connector::config::load(
            &env.config_path(),
            [(
                "GRAPH_CONNECTOR__MICROSOFT__ADMIN_SENDS_PER_MINUTE".to_owned(),
                "2".to_owned(),
            )],
        )
        .unwrap()
    };
    let notices = |u: &str| {
        st.messages(u, "inbox")
            .unwrap()
            .into_iter()
            .filter(|m| m.subject.starts_with("Not filed in CRM: "))
            .count()
    };
    let pending = |rt: &Runtime| {
        let store = rt.store.clone();
        let users = users.clone();
        async move {
            let mut n = 0;
            for u in &users {
                let rep = store
                    .list_mailboxes()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|m| m.address.eq_ignore_ascii_case(u))
                    .unwrap()
                    .rep_id;
                n += store
                    .resolved_of(&rep, Kind::Email)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|(name, _)| name.starts_with("pending:notice:"))
                    .count();
            }
            n
        }
    };

    // One process: two notices go, two wait.
    let rt = Runtime::build(&limited()).await.unwrap();
    let first = rt
        .cycle(None, &NoProgress, &Default::default())
        .await
        .unwrap();
    let told: usize = users.iter().map(|u| notices(u)).sum();
    assert_eq!(told, 2, "two notices within the limit");
    let waiting: Vec<_> = first
        .mailboxes
        .iter()
        .filter(|m| users.contains(&m.mailbox))
        .filter(|m| m.outcome == gc_sync::MailboxOutcome::Delayed)
        .collect();
    assert_eq!(waiting.len(), 2, "{first:#?}");
    for m in &waiting {
        let why = m.error.as_deref().unwrap_or_default();
        assert!(
            why.contains("admin_sends_per_minute") && why.contains("2 messages per minute"),
            "{why}"
        );
    }
    assert!(!first.any_mailbox_failed(), "{first:#?}");
    assert_eq!(pending(&rt).await, 2, "the refused notices are kept");
    // Every message is in the failure folder all the same.
    for u in &users {
        assert_eq!(env.count(u, SYNC), 0, "{u}");
    }

    // A later process (its own count) sends the two that waited, and nothing twice.
    drop(rt);
    let rt = Runtime::build(&limited()).await.unwrap();
    let second = rt
        .cycle(None, &NoProgress, &Default::default())
        .await
        .unwrap();
    assert!(!second.any_mailbox_failed(), "{second:#?}");
    for u in &users {
        assert_eq!(notices(u), 1, "{u}: one notice, once");
    }
    assert_eq!(pending(&rt).await, 0);
}
