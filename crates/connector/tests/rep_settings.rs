//! Per-rep behaviour end to end: the rep's flags choose the kinds, its `UserSettings` override
//! the global settings (an unreadable one is a warning, not a failure), the user is told what
//! was left out of a filed message, and `[mailboxes] sync_from` leaves older items alone on
//! the first sync.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, SYNC, converge};
use gc_crm::codec::{CatalogMode, RecordData, WriteKind};
use gc_sandbox::{NewMessage, SandboxOptions};
use gc_store::{Kind, LedgerAction, LedgerFilter};
use graph_connector::commands::sync::Runtime;

/// Sets fields of the rep whose address is `email`.
async fn set_rep(env: &Env, email: &str, fields: &[(&str, String)]) {
    let crm = env.crm();
    let rep = crm
        .master()
        .reps()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.email.as_deref() == Some(email))
        .unwrap();
    let mut rec = RecordData::new(&crm.dialect().rep.table);
    rec.id = Some(rep.id);
    for (k, v) in fields {
        rec = rec.field(k, v.clone());
    }
    crm.master()
        .write_one(WriteKind::Update, CatalogMode::Text, rec)
        .await
        .unwrap();
}

fn with_attachment(subject: &str, to: &str, received: Option<jiff::Timestamp>) -> NewMessage {
    NewMessage {
        subject: subject.into(),
        from: Some("buyer@acme-industries.example".into()),
        to: vec![to.into()],
        body_html: Some(format!("<p>{subject}: {}</p>", "long text ".repeat(20))),
        attachments: vec![(
            "terms.txt".into(),
            "text/plain".into(),
            b"the terms and conditions".to_vec(),
        )],
        received,
        ..Default::default()
    }
}

/// Deliver a message and file it into the sync folder (created when missing).
fn put(env: &Env, user: &str, m: NewMessage) {
    let st = env.demo.sandbox.state();
    let id = st.deliver(user, m).unwrap();
    st.file_message(user, &id, SYNC).unwrap();
}

/// Subjects of the messages in a user's Inbox that start with `prefix`.
fn inbox_notes(env: &Env, user: &str, prefix: &str) -> Vec<String> {
    env.demo
        .sandbox
        .state()
        .messages(user, "inbox")
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .filter(|s| s.starts_with(prefix))
        .collect()
}

/// Number of documents of the activity filed for the message with this subject.
async fn documents_of(env: &Env, subject: &str) -> usize {
    let d = env.crm().dialect().activity.clone();
    let a = env
        .email_activities()
        .await
        .into_iter()
        .find(|a| a.get(&d.subject) == Some(subject))
        .unwrap_or_else(|| panic!("no activity for {subject:?}"));
    env.crm()
        .master()
        .documents(a.id, false)
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_settings_rep_flags_and_warning_messages() {
    let env = Env::start(
        SandboxOptions {
            users: 5,
            seed: 71,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "[emails]\nmax_body_chars = 40\nattachments = \"all\"\n",
    )
    .await;
    let users = env.enabled_users().await;
    assert!(users.len() >= 3, "{users:?}");
    let (plain, own, broken, off) = (&users[0], &users[1], &users[2], users.get(3));
    let user_settings = env.crm().dialect().rep.user_settings.clone();
    set_rep(
        &env,
        own,
        &[(
            &user_settings,
            r#"<SyncSettings><EmailSync SyncAttach="false"/><AppointSync_Ex2Up SyncAttach="true"/></SyncSettings>"#.into(),
        )],
    )
    .await;
    set_rep(
        &env,
        broken,
        &[(&user_settings, "<SyncSettings><EmailSync".into())],
    )
    .await;
    // A rep that no longer synchronizes e-mails (but still appointments) is not worked.
    if let Some(off) = off {
        let flag = env.crm().dialect().rep.sync_emails.clone();
        let no = env.crm().dialect().format_bool(false);
        set_rep(&env, off, &[(&flag, no)]).await;
    }
    for u in [plain, own, broken].into_iter().chain(off) {
        put(&env, u, with_attachment(&format!("Offer for {u}"), u, None));
    }

    let rt = Runtime::build(&env.config()).await.unwrap();
    let (report, _) = converge(&rt, 3).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");

    // Flags: the rep without "Synchronize e-mails" has no e-mail run; its message stays.
    if let Some(off) = off {
        assert!(
            !report
                .mailboxes
                .iter()
                .any(|m| m.kind == Kind::Email && &m.mailbox == off),
            "{report:#?}"
        );
        assert_eq!(env.count(off, SYNC), 1);
    }
    // UserSettings: no attachments for `own`, the global "all" for the others (the broken
    // settings fall back to the global ones and are reported).
    assert_eq!(documents_of(&env, &format!("Offer for {own}")).await, 0);
    assert_eq!(documents_of(&env, &format!("Offer for {plain}")).await, 1);
    assert_eq!(documents_of(&env, &format!("Offer for {broken}")).await, 1);
    assert!(
        report
            .rep_settings
            .iter()
            .any(|w| w.starts_with(broken.as_str()) && w.contains("global settings apply")),
        "{:?}",
        report.rep_settings
    );
    assert!(
        report
            .rep_settings
            .iter()
            .any(|w| w.starts_with(own.as_str()) && w.contains("AppointSync_Ex2Up/@SyncAttach")),
        "what is not honoured is said: {:?}",
        report.rep_settings
    );
    let table = graph_connector::commands::sync::table(&report);
    assert!(table.contains("rep settings:"), "{table}");

    // Warning messages: every filed message's body was cut at 40 characters.
    for u in [plain, own, broken] {
        let notes = inbox_notes(&env, u, "Filed in CRM with warnings:");
        assert_eq!(
            notes,
            vec![format!("Filed in CRM with warnings: Offer for {u}")],
            "{u}"
        );
    }
    let notified = rt
        .store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Email),
            action: Some(LedgerAction::Notified),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(notified.len(), 3);
    rt.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn warning_messages_can_be_switched_off_and_name_skipped_attachments() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 72,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "[emails]\nmax_body_chars = 40\nattachments = \"limited\"\nmax_attachment_kb = 1\nwarn_user_on_truncated_body = false\n",
    )
    .await;
    let users = env.enabled_users().await;
    let u = &users[0];
    let mut big = with_attachment("Big one", u, None);
    big.attachments = vec![(
        "big.bin".into(),
        "application/octet-stream".into(),
        vec![7u8; 4096],
    )];
    put(&env, u, big);
    let mut small = with_attachment("Small one", u, None);
    small.body_html = Some("<p>short</p>".into());
    small.attachments.clear();
    put(&env, u, small);
    let rt = Runtime::build(&env.config()).await.unwrap();
    let (report, _) = converge(&rt, 3).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");
    // Only the skipped attachment is told; the truncation (switched off) and the clean
    // message are not.
    assert_eq!(
        inbox_notes(&env, u, "Filed in CRM with warnings:"),
        vec!["Filed in CRM with warnings: Big one".to_owned()]
    );
    rt.store.close().await;
}

/// Subjects of the e-mail activities, sorted.
async fn filed(env: &Env) -> Vec<String> {
    let d = env.crm().dialect().activity.clone();
    let mut v: Vec<String> = env
        .email_activities()
        .await
        .iter()
        .filter_map(|a| a.get(&d.subject).map(str::to_owned))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_from_leaves_older_items_alone_on_the_first_sync_only() {
    let env = Env::start(
        SandboxOptions {
            users: 3,
            seed: 73,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        },
        "[mailboxes]\nsync_from = \"2026-06-01\"\n",
    )
    .await;
    let users = env.enabled_users().await;
    let u = &users[0];
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().unwrap());
    let st = env.demo.sandbox.state();
    put(
        &env,
        u,
        with_attachment("Old", u, at("2026-05-30T10:00:00Z")),
    );
    put(
        &env,
        u,
        with_attachment("New", u, at("2026-06-02T10:00:00Z")),
    );
    let rt = Runtime::build(&env.config()).await.unwrap();
    let (report, _) = converge(&rt, 2).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");
    let mine = report
        .mailboxes
        .iter()
        .find(|m| m.kind == Kind::Email && &m.mailbox == u)
        .unwrap();
    assert_eq!((mine.created, mine.skipped), (1, 1), "{mine:#?}");
    // The old message stays where the user put it, with a ledger entry saying why.
    let left: Vec<String> = st
        .messages(u, SYNC)
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(left, vec!["Old".to_owned()]);
    let skipped = rt
        .store
        .query_ledger(&LedgerFilter {
            kind: Some(Kind::Email),
            action: Some(LedgerAction::Skipped),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        skipped.iter().any(|e| e.reason.contains("sync_from")),
        "{skipped:#?}"
    );
    assert_eq!(filed(&env).await, vec!["New".to_owned()]);

    // After the first round, an old message filed again by the user is worked as usual.
    let old = st.messages(u, SYNC).unwrap().remove(0);
    st.file_message(u, &old.immutable_id, "Inbox").unwrap();
    st.file_message(u, &old.immutable_id, SYNC).unwrap();
    let (report, _) = converge(&rt, 2).await;
    assert!(!report.any_mailbox_failed(), "{report:#?}");
    assert_eq!(env.count(u, SYNC), 0);
    assert_eq!(filed(&env).await, vec!["New".to_owned(), "Old".to_owned()]);
    rt.store.close().await;
}
