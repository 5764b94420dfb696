//! Links, cursors, resolved names and item retries: what ties a Graph item to a CRM record and where a walk resumes.

use super::*;

pub(crate) async fn cursors(s: &dyn StateStore) {
    assert!(
        s.get_cursor("r1", Kind::Email, "inbox/crm")
            .await
            .unwrap()
            .is_none()
    );
    let mut c = Cursor::new("r1", Kind::Email, "inbox/crm");
    c.next_link = Some("https://graph.microsoft.com/v1.0/delta?$skiptoken=abc".into());
    s.put_cursor(&c, &[]).await.unwrap();
    let got = s
        .get_cursor("r1", Kind::Email, "inbox/crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.next_link, c.next_link);
    assert!(got.delta_link.is_none());
    assert!(got.updated_at.is_some());

    let start = Timestamp::from_second(1_790_000_000).unwrap();
    let end = Timestamp::from_second(1_791_209_600).unwrap();
    c.next_link = None;
    c.delta_link = Some("https://graph.microsoft.com/v1.0/delta?$deltatoken=xyz".into());
    c.window_start = Some(start);
    c.window_end = Some(end);
    s.put_cursor(&c, &[]).await.unwrap();
    let got = s
        .get_cursor("r1", Kind::Email, "inbox/crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.next_link, None);
    assert_eq!(got.delta_link, c.delta_link);
    assert_eq!((got.window_start, got.window_end), (Some(start), Some(end)));

    s.put_cursor(&Cursor::new("r1", Kind::Appointment, "calendar"), &[])
        .await
        .unwrap();
    s.put_cursor(&Cursor::new("r1", Kind::Appointment, "calendar-2"), &[])
        .await
        .unwrap();
    s.put_cursor(&Cursor::new("r2", Kind::Email, "inbox/crm"), &[])
        .await
        .unwrap();
    let all = s.list_cursors("r1", None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.kind, c.scope.as_str()))
            .collect::<Vec<_>>(),
        [
            (Kind::Appointment, "calendar"),
            (Kind::Appointment, "calendar-2"),
            (Kind::Email, "inbox/crm")
        ]
    );
    assert_eq!(
        s.list_cursors("r1", Some(Kind::Email)).await.unwrap().len(),
        1
    );

    assert!(
        s.clear_cursor("r1", Kind::Email, "inbox/crm", &[])
            .await
            .unwrap()
    );
    assert!(
        !s.clear_cursor("r1", Kind::Email, "inbox/crm", &[])
            .await
            .unwrap()
    );
    assert!(
        s.get_cursor("r1", Kind::Email, "inbox/crm")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.clear_cursors("r1", Some(Kind::Appointment))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.clear_cursors("r2", None).await.unwrap(), 1);
    assert!(s.list_cursors("r2", None).await.unwrap().is_empty());
}

pub(crate) fn full_link(mailbox: &str, graph_id: &str) -> Link {
    let mut l = Link::new(Kind::Email, mailbox, graph_id);
    l.global_key = Some("<CAF=abc@mail.example>".into());
    l.crm_id = Some(CrmId(4_294_967_394));
    l.graph_version = Some("CQAAABYAAAB".into());
    l.crm_version = Some("2026-11-27T10:00:00".into());
    l.graph_hash = Some("h-graph".into());
    l.crm_hash = Some("h-crm".into());
    l
}

pub(crate) async fn links(s: &dyn StateStore) {
    assert!(s.get_link(Kind::Email, "r1", "g1").await.unwrap().is_none());
    let l1 = full_link("r1", "g1");
    s.upsert_link(&l1, &[]).await.unwrap();
    let got = s.get_link(Kind::Email, "r1", "g1").await.unwrap().unwrap();
    let first_update = got.updated_at.unwrap();
    assert_eq!(
        Link {
            updated_at: None,
            ..got
        },
        l1
    );

    // Same message filed by three reps: three links, one global key, one CRM record.
    s.upsert_links(&[full_link("r2", "g-other-id"), full_link("r3", "g3")])
        .await
        .unwrap();
    let same = s
        .links_by_global_key(Kind::Email, "<CAF=abc@mail.example>")
        .await
        .unwrap();
    assert_eq!(
        same.iter().map(|l| l.mailbox.as_str()).collect::<Vec<_>>(),
        ["r1", "r2", "r3"]
    );
    assert!(
        s.links_by_global_key(Kind::Appointment, "<CAF=abc@mail.example>")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.links_by_crm_id(Kind::Email, CrmId(4_294_967_394))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        s.links_by_crm_id(Kind::Email, CrmId(98))
            .await
            .unwrap()
            .is_empty()
    );

    // Update: every field replaced, state with reason round-trips; ids ≥ 2^63 survive.
    let mut l1b = l1.clone();
    l1b.crm_id = Some(CrmId(u64::MAX));
    l1b.graph_version = Some("CQAAABYAAAC".into());
    l1b.global_key = None;
    l1b.crm_hash = None;
    l1b.state = LinkState::Failed {
        reason: "CRM error 511: record locked".into(),
    };
    s.upsert_link(&l1b, &[]).await.unwrap();
    let got = s.get_link(Kind::Email, "r1", "g1").await.unwrap().unwrap();
    assert!(got.updated_at.unwrap() >= first_update);
    assert_eq!(
        Link {
            updated_at: None,
            ..got
        },
        l1b
    );
    assert_eq!(
        s.links_by_crm_id(Kind::Email, CrmId(u64::MAX))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.links_by_global_key(Kind::Email, "<CAF=abc@mail.example>")
            .await
            .unwrap()
            .len(),
        2
    );
    for state in [
        LinkState::SoftDeleted,
        LinkState::Conflict,
        LinkState::Active,
    ] {
        let mut l = l1b.clone();
        l.state = state.clone();
        s.upsert_link(&l, &[]).await.unwrap();
        assert_eq!(
            s.get_link(Kind::Email, "r1", "g1")
                .await
                .unwrap()
                .unwrap()
                .state,
            state
        );
    }

    // Paging through one mailbox's links.
    let batch: Vec<Link> = (0..25)
        .map(|i| Link::new(Kind::Appointment, "r9", format!("ev-{i:03}")))
        .collect();
    s.upsert_links(&batch).await.unwrap();
    s.upsert_link(&Link::new(Kind::Appointment, "r8", "ev-x"), &[])
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .list_links("r9", Kind::Appointment, after.as_deref(), 10)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        after = page.last().map(|l| l.graph_id.clone());
        seen.extend(page.into_iter().map(|l| l.graph_id));
    }
    assert_eq!(
        seen,
        batch.iter().map(|l| l.graph_id.clone()).collect::<Vec<_>>()
    );

    assert!(
        s.delete_link(Kind::Appointment, "r9", "ev-000")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_link(Kind::Appointment, "r9", "ev-000")
            .await
            .unwrap()
    );
    assert!(
        s.get_link(Kind::Appointment, "r9", "ev-000")
            .await
            .unwrap()
            .is_none()
    );
}

/// Intents without a CRM id and written-but-unreported Graph items, and nothing else.
pub(crate) async fn unsettled_links(s: &dyn StateStore) {
    let link = |id: &str, state: LinkState, crm: Option<u64>, version: bool, hash: bool| {
        let mut l = Link::new(Kind::Appointment, "r1", id);
        l.state = state;
        l.crm_id = crm.map(CrmId);
        l.graph_version = version.then(|| "ck".to_owned());
        l.graph_hash = hash.then(|| "h".to_owned());
        l
    };
    let all = [
        link("intent", LinkState::Interrupted, None, false, false),
        link("unconfirmed", LinkState::Active, Some(1), true, false),
        // An intent that knows its record: resolved by its record, not read by id.
        link(
            "intent-known",
            LinkState::Interrupted,
            Some(2),
            false,
            false,
        ),
        link("confirmed", LinkState::Active, Some(3), true, true),
        // A link a resync forgot (neither version nor hash).
        link("resync", LinkState::Active, Some(4), false, false),
        link("deleted", LinkState::SoftDeleted, Some(5), true, false),
    ];
    s.upsert_links(&all).await.unwrap();
    let mut other = link("elsewhere", LinkState::Interrupted, None, false, false);
    other.mailbox = "r2".into();
    s.upsert_link(&other, &[]).await.unwrap();
    let mut task = link("task", LinkState::Interrupted, None, false, false);
    task.kind = Kind::Task;
    s.upsert_link(&task, &[]).await.unwrap();
    let unsettled = |since| async move {
        s.unsettled_links("r1", Kind::Appointment, since)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.graph_id)
            .collect::<Vec<String>>()
    };
    let ids = unsettled(None).await;
    assert_eq!(ids, ["intent", "unconfirmed"]);
    // The query and the link's own predicates say the same.
    let expected: Vec<&str> = all
        .iter()
        .filter(|l| l.is_intent() || l.is_unconfirmed())
        .map(|l| l.graph_id.as_str())
        .collect();
    assert_eq!(ids, expected);
    // Since a checkpoint stored after every write: the same. Since one stored before a
    // write: the active links to a CRM record written after it as well.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let stored = s.now().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(unsettled(Some(stored)).await, ["intent", "unconfirmed"]);
    let mut again = all[3].clone();
    again.crm_version = Some("v2".into());
    let mut closed = all[5].clone();
    closed.crm_version = Some("v2".into());
    s.upsert_links(&[again, closed]).await.unwrap();
    assert_eq!(
        unsettled(Some(stored)).await,
        ["confirmed", "intent", "unconfirmed"],
        "a soft-deleted link is settled whenever it was written"
    );
}

/// What the idle pre-pass reads for a batch: the asked mailboxes' cursors, kept names and
/// unsettled links of one kind, grouped by mailbox, with the store's clock.
pub(crate) async fn probe_reads(s: &dyn StateStore) {
    for rep in ["r1", "r2", "r3"] {
        s.upsert_mailbox(&mailboxes::mb(rep, &format!("{rep}@c.com")))
            .await
            .unwrap();
    }
    let before = s.now().await.unwrap();
    let r = s.probe_reads(Kind::Appointment, &[]).await.unwrap();
    assert!(r.now >= before);
    assert!(r.mailbox("r1").cursors.is_empty());
    for (mailbox, kind, scope, delta) in [
        ("r1", Kind::Appointment, "calendar", "d1"),
        ("r1", Kind::Appointment, "crm", "c1"),
        ("r1", Kind::Task, "crm", "t1"),
        ("r2", Kind::Appointment, "calendar", "d2"),
        ("r3", Kind::Appointment, "calendar", "d3"),
    ] {
        let mut c = Cursor::new(mailbox, kind, scope);
        c.delta_link = Some(delta.into());
        s.put_cursor(&c, &[]).await.unwrap();
    }
    s.put_resolved("r1", Kind::Appointment, "/calendar", Some("AAMk-1"))
        .await
        .unwrap();
    s.put_resolved("r1", Kind::Task, "/list", Some("L1"))
        .await
        .unwrap();
    let mut intent = Link::new(Kind::Appointment, "r1", "e-intent");
    intent.state = LinkState::Interrupted;
    let mut confirmed = Link::new(Kind::Appointment, "r1", "e-confirmed");
    confirmed.crm_id = Some(CrmId(1));
    confirmed.graph_version = Some("ck".into());
    confirmed.graph_hash = Some("h".into());
    let mut unasked = Link::new(Kind::Appointment, "r3", "e-r3");
    unasked.state = LinkState::Interrupted;
    s.upsert_links(&[intent, confirmed, unasked]).await.unwrap();

    let asked: Vec<String> = ["r1", "r2", "nobody"].map(String::from).to_vec();
    let r = s.probe_reads(Kind::Appointment, &asked).await.unwrap();
    let r1 = r.mailbox("r1");
    let mut scopes: Vec<&str> = r1.cursors.iter().map(|c| c.scope.as_str()).collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["calendar", "crm"], "the kind's cursors only");
    assert_eq!(
        r1.cursor("calendar").and_then(|c| c.delta_link.as_deref()),
        Some("d1")
    );
    assert_eq!(r1.resolved("/calendar"), Some("AAMk-1"));
    assert_eq!(r1.resolved("/list"), None, "another kind's name");
    assert_eq!(r1.unsettled, ["e-intent"]);
    // The last link write: after the cursors were stored, before the reads.
    let written = r1.last_link_write.unwrap();
    assert!(written >= r1.cursor("calendar").unwrap().updated_at.unwrap() && written <= r.now);
    let r2 = r.mailbox("r2");
    assert_eq!(r2.cursors.len(), 1);
    assert!(r2.unsettled.is_empty() && r2.resolved.is_empty());
    assert_eq!(r2.last_link_write, None, "no link");
    // Not asked, or unknown: nothing.
    assert!(r.mailbox("r3").cursors.is_empty() && r.mailbox("r3").unsettled.is_empty());
    assert!(r.mailbox("nobody").cursors.is_empty());
}

pub(crate) async fn item_retries(s: &dyn StateStore) {
    assert!(
        s.get_retry(Kind::Email, "r1", "m1")
            .await
            .unwrap()
            .is_none()
    );
    let before = s.now().await.unwrap();
    let r = s
        .record_retry(Kind::Email, "r1", "m1", "CRM busy", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((r.attempts, r.last_error.as_str()), (1, "CRM busy"));
    assert!(r.retry_at >= before.checked_add(SignedDuration::from_secs(59)).unwrap());
    let r = s
        .record_retry(Kind::Email, "r1", "m1", "timeout", Duration::from_secs(0))
        .await
        .unwrap();
    assert_eq!((r.attempts, r.last_error.as_str()), (2, "timeout"));
    assert!(r.retry_at <= s.now().await.unwrap());
    // Another kind and another mailbox are other items.
    s.record_retry(Kind::Appointment, "r1", "m1", "x", Duration::ZERO)
        .await
        .unwrap();
    s.record_retry(Kind::Email, "r2", "m9", "y", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(s.get_retry(Kind::Email, "r1", "m1").await.unwrap(), Some(r));
    assert_eq!(s.list_retries(Some("r1"), 10).await.unwrap().len(), 2);
    assert_eq!(s.list_retries(None, 10).await.unwrap().len(), 3);
    assert_eq!(s.list_retries(None, 1).await.unwrap().len(), 1);

    // A commit told there is no retry row does not look for one (the engine says so only
    // when it read none): here there is one, and it stays.
    let mut l = Link::new(Kind::Email, "r1", "m1");
    l.crm_id = Some(CrmId(7));
    s.commit_item(&ItemCommit {
        link: Some(l.clone()),
        no_retry_row: true,
        release: vec![],
        ..ItemCommit::default()
    })
    .await
    .unwrap();
    assert_eq!(
        s.get_retry(Kind::Email, "r1", "m1")
            .await
            .unwrap()
            .map(|r| r.attempts),
        Some(2)
    );
    // Committing the item's link forgets its retry state, and only its own.
    s.commit_item(&ItemCommit {
        link: Some(l),
        ..ItemCommit::default()
    })
    .await
    .unwrap();
    assert!(
        s.get_retry(Kind::Email, "r1", "m1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get_retry(Kind::Appointment, "r1", "m1")
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.clear_retry(Kind::Email, "r2", "m9").await.unwrap());
    assert!(!s.clear_retry(Kind::Email, "r2", "m9").await.unwrap());
}

pub(crate) async fn resolved_names(s: &dyn StateStore) {
    let get = |m: &'static str, k: Kind, n: &'static str| async move {
        s.get_resolved(m, k, n).await.unwrap()
    };
    assert_eq!(get("r1", Kind::Email, "/Inbox/crm").await, None);
    s.put_resolved("r1", Kind::Email, "/Inbox/crm", Some("AAMk-1"))
        .await
        .unwrap();
    s.put_resolved("r2", Kind::Email, "/Inbox/crm", Some("AAMk-2"))
        .await
        .unwrap();
    s.put_resolved("r1", Kind::Task, "/Inbox/crm", Some("list-1"))
        .await
        .unwrap();
    assert_eq!(
        get("r1", Kind::Email, "/Inbox/crm").await.as_deref(),
        Some("AAMk-1")
    );
    // Replaced, and kept apart per mailbox and kind.
    s.put_resolved("r1", Kind::Email, "/Inbox/crm", Some("AAMk-3"))
        .await
        .unwrap();
    assert_eq!(
        get("r1", Kind::Email, "/Inbox/crm").await.as_deref(),
        Some("AAMk-3")
    );
    assert_eq!(
        get("r2", Kind::Email, "/Inbox/crm").await.as_deref(),
        Some("AAMk-2")
    );
    assert_eq!(
        get("r1", Kind::Task, "/Inbox/crm").await.as_deref(),
        Some("list-1")
    );
    // All of one mailbox and kind in one read, by name; other mailboxes and kinds apart.
    s.put_resolved("r1", Kind::Email, "hold", Some("{}"))
        .await
        .unwrap();
    let of = |m: &'static str, k: Kind| async move { s.resolved_of(m, k).await.unwrap() };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        of("r1", Kind::Email).await,
        pairs(&[("/Inbox/crm", "AAMk-3"), ("hold", "{}")])
    );
    assert_eq!(
        of("r1", Kind::Task).await,
        pairs(&[("/Inbox/crm", "list-1")])
    );
    assert!(of("r3", Kind::Email).await.is_empty());
    s.put_resolved("r1", Kind::Email, "hold", None)
        .await
        .unwrap();
    assert_eq!(
        of("r1", Kind::Email).await,
        pairs(&[("/Inbox/crm", "AAMk-3")])
    );
    // Forgotten (a 404 for the id): only that row.
    s.put_resolved("r1", Kind::Email, "/Inbox/crm", None)
        .await
        .unwrap();
    assert_eq!(get("r1", Kind::Email, "/Inbox/crm").await, None);
    assert_eq!(
        get("r2", Kind::Email, "/Inbox/crm").await.as_deref(),
        Some("AAMk-2")
    );
    s.put_resolved("r1", Kind::Email, "/Inbox/crm", None)
        .await
        .unwrap();
}

/// An item's link and retry state read together are what the two reads give apart, whichever
/// of them exists, and only the item's own (not another kind's, mailbox's or item's).
pub(crate) async fn link_and_retry(s: &dyn StateStore) {
    assert_eq!(
        s.link_and_retry(Kind::Email, "r1", "g1").await.unwrap(),
        (None, None)
    );
    // A retry only: a first attempt failed before any link was written.
    s.record_retry(Kind::Email, "r1", "g1", "CRM busy", Duration::from_secs(60))
        .await
        .unwrap();
    s.record_retry(Kind::Appointment, "r1", "g1", "other kind", Duration::ZERO)
        .await
        .unwrap();
    let retry = s.get_retry(Kind::Email, "r1", "g1").await.unwrap();
    assert!(retry.is_some());
    assert_eq!(
        s.link_and_retry(Kind::Email, "r1", "g1").await.unwrap(),
        (None, retry.clone())
    );
    // Both: an interrupted write left its link, and the attempt's failure its retry.
    let mut intent = full_link("r1", "g1");
    intent.state = LinkState::Interrupted;
    s.upsert_link(&intent, &[]).await.unwrap();
    s.upsert_link(&full_link("r2", "g1"), &[]).await.unwrap();
    let link = s.get_link(Kind::Email, "r1", "g1").await.unwrap();
    assert_eq!(
        link.as_ref().map(|l| l.state.clone()),
        Some(LinkState::Interrupted)
    );
    assert_eq!(
        s.link_and_retry(Kind::Email, "r1", "g1").await.unwrap(),
        (link, retry)
    );
    // A link only: the commit forgot the retry.
    s.commit_item(&ItemCommit {
        link: Some(full_link("r1", "g1")),
        ..ItemCommit::default()
    })
    .await
    .unwrap();
    let (link, retry) = s.link_and_retry(Kind::Email, "r1", "g1").await.unwrap();
    assert_eq!(link, s.get_link(Kind::Email, "r1", "g1").await.unwrap());
    assert_eq!(link.map(|l| l.state), Some(LinkState::Active));
    assert_eq!(retry, None);
    assert_eq!(
        s.link_and_retry(Kind::Email, "r1", "g2").await.unwrap(),
        (None, None)
    );
}
