//! One conformance suite, run against both backends: every `StateStore` method.
//!
//! Each `async fn` below takes a `&dyn StateStore`; the `conformance!` macro at the bottom
//! runs each one on a fresh SQLite file and on a fresh PostgreSQL schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use gc_store::{
    AlertDelivery, CrmId, Cursor, ExclusionPolicy, ItemCommit, Kind, KindRun, LeaseFence,
    LedgerAction, LedgerFilter, Link, LinkState, MailboxFailure, MailboxUpsert, NewAlert,
    NewLedgerEntry, RunCounts, RunOutcome, StateStore, StoreError, StoreErrorClass,
    SubscriptionRecord, lease_key,
};
use jiff::{SignedDuration, Timestamp};

fn mb(rep: &str, address: &str) -> MailboxUpsert {
    MailboxUpsert {
        rep_id: rep.into(),
        address: address.into(),
        graph_user_id: None,
        enabled: true,
    }
}

fn access_denied() -> MailboxFailure {
    MailboxFailure {
        kind: "access_denied".into(),
        text: "ErrorAccessDenied: mailbox not reachable".into(),
    }
}

async fn clock(s: &dyn StateStore) {
    let db = s.now().await.unwrap();
    let local = Timestamp::now();
    let skew = db.duration_since(local).as_secs().abs();
    assert!(skew < 5, "database clock {db} vs local {local}");
    let later = s.now().await.unwrap();
    assert!(later >= db);
}

async fn mailboxes(s: &dyn StateStore) {
    assert!(s.get_mailbox("r1").await.unwrap().is_none());
    assert!(s.list_mailboxes().await.unwrap().is_empty());

    let mut up = mb("r1", "Anna@Contoso.com");
    up.graph_user_id = Some("guid-anna".into());
    let m = s.upsert_mailbox(&up).await.unwrap();
    assert_eq!(m.rep_id, "r1");
    assert_eq!(m.address, "Anna@Contoso.com");
    assert_eq!(m.graph_user_id.as_deref(), Some("guid-anna"));
    assert!(m.enabled);
    assert_eq!(m.consecutive_failures, 0);
    assert!(m.next_due.is_empty());
    assert!(m.last_success_at.is_none() && m.excluded_until.is_none());

    // Refresh with the same address (case differs) and no id: the id is kept.
    let m = s
        .upsert_mailbox(&mb("r1", "anna@contoso.com"))
        .await
        .unwrap();
    assert_eq!(m.graph_user_id.as_deref(), Some("guid-anna"));
    assert_eq!(m.address, "anna@contoso.com");
    // A new address without id: the old id may belong to another mailbox; forget it.
    let m = s
        .upsert_mailbox(&mb("r1", "anna.new@contoso.com"))
        .await
        .unwrap();
    assert_eq!(m.graph_user_id, None);

    s.set_graph_user_id("r1", Some("guid-2")).await.unwrap();
    assert_eq!(
        s.get_mailbox("r1")
            .await
            .unwrap()
            .unwrap()
            .graph_user_id
            .as_deref(),
        Some("guid-2")
    );
    s.set_graph_user_id("r1", None).await.unwrap();
    assert_eq!(
        s.get_mailbox("r1").await.unwrap().unwrap().graph_user_id,
        None
    );

    s.upsert_mailbox(&mb("r0", "bob@contoso.com"))
        .await
        .unwrap();
    let all = s.list_mailboxes().await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.rep_id.as_str()).collect::<Vec<_>>(),
        ["r0", "r1"]
    );

    s.set_enabled("r0", false).await.unwrap();
    assert!(!s.get_mailbox("r0").await.unwrap().unwrap().enabled);
    // The rep list refresh is authoritative for `enabled`.
    let mut again = mb("r0", "bob@contoso.com");
    again.enabled = true;
    assert!(s.upsert_mailbox(&again).await.unwrap().enabled);

    for err in [
        s.set_enabled("nobody", true).await.unwrap_err(),
        s.set_graph_user_id("nobody", None).await.unwrap_err(),
        s.clear_exclusion("nobody").await.unwrap_err(),
        s.record_success("nobody").await.unwrap_err(),
        s.record_failure("nobody", &access_denied(), None)
            .await
            .unwrap_err(),
        s.set_next_due("nobody", Kind::Email, Timestamp::now())
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
}

async fn mailbox_health(s: &dyn StateStore) {
    s.upsert_mailbox(&mb("r1", "a@contoso.com")).await.unwrap();
    s.upsert_mailbox(&mb("r2", "b@contoso.com")).await.unwrap();
    let policy = ExclusionPolicy {
        after_failures: 3,
        exclude_for: Duration::from_secs(3600),
    };

    // Without a policy failures only count.
    let m = s
        .record_failure("r1", &access_denied(), None)
        .await
        .unwrap();
    assert_eq!(m.consecutive_failures, 1);
    assert_eq!(m.last_error_kind.as_deref(), Some("access_denied"));
    assert!(m.last_error_text.unwrap().contains("ErrorAccessDenied"));
    assert!(m.last_error_at.is_some());
    assert!(m.excluded_until.is_none());

    let m = s
        .record_failure("r1", &access_denied(), Some(policy))
        .await
        .unwrap();
    assert_eq!(m.consecutive_failures, 2);
    assert!(m.excluded_until.is_none(), "2 < 3 failures");
    let now = s.now().await.unwrap();
    let m = s
        .record_failure("r1", &access_denied(), Some(policy))
        .await
        .unwrap();
    let after = s.now().await.unwrap();
    assert_eq!(m.consecutive_failures, 3);
    let until = m.excluded_until.expect("excluded after 3");
    // an hour from the failure (database clock), which happened between `now` and `after`
    let hour = SignedDuration::from_secs(3600);
    assert!(
        until >= now + hour && until <= after + hour,
        "{until} not within [{now}, {after}] + 1 h"
    );
    assert!(m.is_excluded_at(now));

    // Excluded mailboxes are not due.
    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.rep_id.as_str()).collect::<Vec<_>>(),
        ["r2"]
    );

    s.clear_exclusion("r1").await.unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    assert!(m.excluded_until.is_none());
    assert_eq!(
        m.consecutive_failures, 3,
        "clearing the exclusion keeps the counter"
    );

    s.record_failure("r1", &access_denied(), Some(policy))
        .await
        .unwrap();
    let m = s.record_success("r1").await.unwrap();
    assert_eq!(m.consecutive_failures, 0);
    assert!(m.excluded_until.is_none());
    assert!(m.last_success_at.is_some());
    assert_eq!(
        m.last_error_kind.as_deref(),
        Some("access_denied"),
        "history kept"
    );

    // A zero-length exclusion ends immediately.
    let short = ExclusionPolicy {
        after_failures: 1,
        exclude_for: Duration::ZERO,
    };
    s.record_failure("r2", &access_denied(), Some(short))
        .await
        .unwrap();
    assert_eq!(s.due_mailboxes(Kind::Email, 10).await.unwrap().len(), 2);
}

/// Mailboxes `r1` to `r4`, enabled, never scheduled.
async fn four_mailboxes(s: &dyn StateStore) {
    for (rep, addr) in [
        ("r1", "a@c.com"),
        ("r2", "b@c.com"),
        ("r3", "c@c.com"),
        ("r4", "d@c.com"),
    ] {
        s.upsert_mailbox(&mb(rep, addr)).await.unwrap();
    }
}

async fn schedule(s: &dyn StateStore) {
    four_mailboxes(s).await;
    s.set_enabled("r4", false).await.unwrap();
    let now = s.now().await.unwrap();
    let hour = SignedDuration::from_hours(1);
    s.set_next_due("r1", Kind::Email, now - hour).await.unwrap();
    s.set_next_due("r2", Kind::Email, now + hour).await.unwrap();
    s.set_next_due("r2", Kind::Appointment, now - hour - hour)
        .await
        .unwrap();
    // r3: never scheduled → due, and first (never beats overdue).

    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.rep_id.as_str()).collect::<Vec<_>>(),
        ["r3", "r1"]
    );
    let due = s.due_mailboxes(Kind::Email, 1).await.unwrap();
    assert_eq!(due.len(), 1);
    let due = s.due_mailboxes(Kind::Appointment, 10).await.unwrap();
    // Appointment: r1 and r3 never scheduled (0), r2 overdue: never-scheduled first.
    assert_eq!(
        due.iter().map(|m| m.rep_id.as_str()).collect::<Vec<_>>(),
        ["r1", "r3", "r2"]
    );

    let r2 = s.get_mailbox("r2").await.unwrap().unwrap();
    assert_eq!(r2.next_due.len(), 2);
    assert_eq!(
        r2.next_due[&Kind::Email].as_microsecond() / 1000,
        (now + hour).as_microsecond() / 1000
    );
    let listed = s.list_mailboxes().await.unwrap();
    assert_eq!(
        listed.iter().find(|m| m.rep_id == "r2").unwrap().next_due,
        r2.next_due
    );
    // Moving the schedule replaces the entry.
    s.set_next_due("r2", Kind::Email, now - hour).await.unwrap();
    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert_eq!(due.len(), 3);
    assert!(
        due.iter().all(|m| m.rep_id != "r4"),
        "disabled mailboxes are never due"
    );
}

/// A local pause (whole mailbox or one kind) keeps the mailbox out of `due_mailboxes`, and
/// the refresh from CRM (`upsert_mailbox`) never undoes it.
async fn pauses(s: &dyn StateStore) {
    for (rep, addr) in [("r1", "a@c.com"), ("r2", "b@c.com")] {
        s.upsert_mailbox(&mb(rep, addr)).await.unwrap();
    }
    let due = |kind| async move {
        s.due_mailboxes(kind, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.rep_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(due(Kind::Email).await, ["r1", "r2"]);

    // Whole mailbox.
    s.set_paused("r1", None, true).await.unwrap();
    let r1 = s.get_mailbox("r1").await.unwrap().unwrap();
    let first = r1.paused_at.expect("paused");
    assert!(r1.is_paused(Kind::Email) && r1.is_paused(Kind::Contact));
    assert_eq!(due(Kind::Email).await, ["r2"]);
    assert_eq!(due(Kind::Task).await, ["r2"]);
    // Pausing again keeps the original time; the refresh keeps the pause.
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.set_paused("r1", None, true).await.unwrap();
    let mut up = mb("r1", "a.new@c.com");
    up.graph_user_id = Some("guid".into());
    let r1 = s.upsert_mailbox(&up).await.unwrap();
    assert_eq!(r1.paused_at, Some(first));
    assert_eq!(due(Kind::Email).await, ["r2"]);
    s.set_paused("r1", None, false).await.unwrap();
    assert!(
        s.get_mailbox("r1")
            .await
            .unwrap()
            .unwrap()
            .paused_at
            .is_none()
    );
    assert_eq!(due(Kind::Email).await, ["r1", "r2"]);

    // One kind of a mailbox that was never scheduled.
    s.set_paused("r2", Some(Kind::Email), true).await.unwrap();
    let r2 = s.get_mailbox("r2").await.unwrap().unwrap();
    assert!(r2.is_paused(Kind::Email) && !r2.is_paused(Kind::Appointment));
    assert!(r2.kinds[&Kind::Email].paused_at.is_some());
    assert!(
        r2.next_due.contains_key(&Kind::Email),
        "the row holding the pause"
    );
    assert_eq!(due(Kind::Email).await, ["r1"]);
    assert_eq!(due(Kind::Appointment).await, ["r1", "r2"]);
    s.upsert_mailbox(&mb("r2", "b@c.com")).await.unwrap();
    // A scheduled run does not resume it either.
    let now = s.now().await.unwrap();
    s.record_kind_run(
        "r2",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Success,
            error: None,
            backlog: Some(0),
            next_due: now - SignedDuration::from_secs(1),
        },
    )
    .await
    .unwrap();
    assert_eq!(due(Kind::Email).await, ["r1"]);
    let listed = s.list_mailboxes().await.unwrap();
    assert!(
        listed
            .iter()
            .find(|m| m.rep_id == "r2")
            .unwrap()
            .is_paused(Kind::Email)
    );
    s.set_paused("r2", Some(Kind::Email), false).await.unwrap();
    assert_eq!(due(Kind::Email).await.len(), 2);

    assert!(matches!(
        s.set_paused("nobody", None, true).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_paused("nobody", Some(Kind::Email), true).await,
        Err(StoreError::NotFound(_))
    ));
}

/// The scheduler's record of the last run per kind.
async fn kind_runs(s: &dyn StateStore) {
    s.upsert_mailbox(&mb("r1", "a@c.com")).await.unwrap();
    let now = s.now().await.unwrap();
    let later = now + SignedDuration::from_mins(10);
    s.record_kind_run(
        "r1",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Success,
            error: None,
            backlog: Some(0),
            next_due: later,
        },
    )
    .await
    .unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    let k = &m.kinds[&Kind::Email];
    assert_eq!(k.last_outcome, Some(RunOutcome::Success));
    let success = k.last_success_at.expect("success time");
    assert_eq!(k.last_run_at, Some(success));
    assert_eq!(k.backlog, Some(0));
    assert_eq!(
        m.next_due[&Kind::Email].as_microsecond() / 1000,
        later.as_microsecond() / 1000
    );
    assert!(s.due_mailboxes(Kind::Email, 10).await.unwrap().is_empty());

    // A partial run keeps the last success and records the error and backlog.
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.record_kind_run(
        "r1",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Partial,
            error: Some("3 messages delayed: HTTP 503".into()),
            backlog: Some(3),
            next_due: now,
        },
    )
    .await
    .unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    let k = &m.kinds[&Kind::Email];
    assert_eq!(k.last_outcome, Some(RunOutcome::Partial));
    assert_eq!(k.last_success_at, Some(success));
    assert!(k.last_run_at.unwrap() > success);
    assert_eq!(
        k.last_error.as_deref(),
        Some("3 messages delayed: HTTP 503")
    );
    assert_eq!(k.backlog, Some(3));
    assert_eq!(s.due_mailboxes(Kind::Email, 10).await.unwrap().len(), 1);
    assert!(matches!(
        s.record_kind_run(
            "nobody",
            Kind::Email,
            &KindRun {
                outcome: RunOutcome::Success,
                error: None,
                backlog: None,
                next_due: now,
            },
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Alerts: rate-limited per key, listed newest first, delivery recorded.
async fn alerts(s: &dyn StateStore) {
    let alert = |key: &str| NewAlert {
        key: key.into(),
        kind: "mailbox_excluded".into(),
        mailbox: Some("r1".into()),
        subject: format!("alert {key}"),
        body: "the mailbox is excluded".into(),
    };
    let hour = Duration::from_secs(3600);
    let a = s
        .raise_alert(&alert("excluded/r1"), hour)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.delivery, AlertDelivery::Pending);
    assert_eq!(a.mailbox.as_deref(), Some("r1"));
    // Same key within the interval: suppressed. Another key: raised.
    assert!(
        s.raise_alert(&alert("excluded/r1"), hour)
            .await
            .unwrap()
            .is_none()
    );
    let b = s
        .raise_alert(&alert("excluded/r2"), hour)
        .await
        .unwrap()
        .unwrap();
    assert!(b.id > a.id);
    // A short interval lets it through again once elapsed.
    let short = Duration::from_millis(50);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        s.raise_alert(&alert("excluded/r1"), short)
            .await
            .unwrap()
            .is_some()
    );

    s.set_alert_delivery(a.id, AlertDelivery::Sent, None)
        .await
        .unwrap();
    s.set_alert_delivery(b.id, AlertDelivery::Failed, Some("HTTP 403"))
        .await
        .unwrap();
    let listed = s.list_alerts(10).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let a2 = listed.iter().find(|x| x.id == a.id).unwrap();
    assert_eq!(a2.delivery, AlertDelivery::Sent);
    assert!(a2.delivered_at.is_some());
    let b2 = listed.iter().find(|x| x.id == b.id).unwrap();
    assert_eq!(b2.delivery, AlertDelivery::Failed);
    assert_eq!(b2.delivery_error.as_deref(), Some("HTTP 403"));
    assert!(b2.delivered_at.is_none());
    assert_eq!(s.list_alerts(2).await.unwrap().len(), 2);
    assert!(matches!(
        s.set_alert_delivery(999_999, AlertDelivery::Sent, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.purge_alerts_older_than(hour).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        s.purge_alerts_older_than(Duration::from_millis(1))
            .await
            .unwrap(),
        4
    );
    assert!(s.list_alerts(10).await.unwrap().is_empty());

    // Raised at once from several connections: exactly one gets through.
    let tenant = alert("tenant");
    let raced = futures::future::join_all((0..8).map(|_| s.raise_alert(&tenant, hour))).await;
    assert_eq!(
        raced
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_some())
            .count(),
        1
    );
}

async fn cursors(s: &dyn StateStore) {
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

fn full_link(mailbox: &str, graph_id: &str) -> Link {
    let mut l = Link::new(Kind::Email, mailbox, graph_id);
    l.global_key = Some("<CAF=abc@mail.example>".into());
    l.crm_id = Some(CrmId(4_294_967_394));
    l.graph_version = Some("CQAAABYAAAB".into());
    l.crm_version = Some("2026-11-27T10:00:00".into());
    l.graph_hash = Some("h-graph".into());
    l.crm_hash = Some("h-crm".into());
    l
}

async fn links(s: &dyn StateStore) {
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
async fn unsettled_links(s: &dyn StateStore) {
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
    let ids: Vec<String> = s
        .unsettled_links("r1", Kind::Appointment)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.graph_id)
        .collect();
    assert_eq!(ids, ["intent", "unconfirmed"]);
    // The query and the link's own predicates say the same.
    let expected: Vec<&str> = all
        .iter()
        .filter(|l| l.is_intent() || l.is_unconfirmed())
        .map(|l| l.graph_id.as_str())
        .collect();
    assert_eq!(ids, expected);
}

async fn commit_item(s: &dyn StateStore) {
    let run = s.start_run("r1", Kind::Email).await.unwrap();
    let mut cursor = Cursor::new("r1", Kind::Email, "inbox/crm");
    cursor.next_link = Some("page-2".into());
    let mut entry =
        NewLedgerEntry::new("r1", Kind::Email, "g1", LedgerAction::Created, "new e-mail");
    entry.run_id = Some(run.id);
    entry.crm_id = Some(CrmId(77));
    let mut moved = entry.clone();
    moved.action = LedgerAction::Moved;
    moved.reason = "moved to Sync_Success".into();
    let ids = s
        .commit_item(&ItemCommit {
            link: Some(full_link("r1", "g1")),
            ledger: vec![entry, moved],
            cursor: Some(cursor.clone()),
            fences: vec![],
        })
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[1] > ids[0]);
    assert!(s.get_link(Kind::Email, "r1", "g1").await.unwrap().is_some());
    assert_eq!(
        s.get_cursor("r1", Kind::Email, "inbox/crm")
            .await
            .unwrap()
            .unwrap()
            .next_link
            .as_deref(),
        Some("page-2")
    );
    let entries = s
        .query_ledger(&LedgerFilter {
            run_id: Some(run.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );

    // A commit with only a cursor (page checkpoint) or only ledger entries is fine.
    cursor.next_link = Some("page-3".into());
    assert!(
        s.commit_item(&ItemCommit {
            cursor: Some(cursor.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty()
    );
    assert!(
        s.commit_item(&ItemCommit::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// A commit whose ledger insert fails (empty item key violates a CHECK constraint) changes
/// neither the link nor the cursor, and writes no ledger entry.
async fn commit_item_is_atomic(s: &dyn StateStore) {
    let before_link = full_link("r1", "g1");
    let mut before_cursor = Cursor::new("r1", Kind::Email, "inbox/crm");
    before_cursor.delta_link = Some("delta-1".into());
    s.upsert_link(&before_link, &[]).await.unwrap();
    s.put_cursor(&before_cursor, &[]).await.unwrap();

    let mut new_link = before_link.clone();
    new_link.crm_id = Some(CrmId(999));
    new_link.state = LinkState::Conflict;
    let mut new_cursor = before_cursor.clone();
    new_cursor.delta_link = Some("delta-2".into());
    let good = NewLedgerEntry::new("r1", Kind::Email, "g1", LedgerAction::Updated, "changed");
    let bad = NewLedgerEntry::new("r1", Kind::Email, "", LedgerAction::Updated, "no key");
    let err = s
        .commit_item(&ItemCommit {
            link: Some(new_link),
            ledger: vec![good, bad],
            cursor: Some(new_cursor),
            fences: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    assert_eq!(err.class(), StoreErrorClass::Rejected);

    let link = s.get_link(Kind::Email, "r1", "g1").await.unwrap().unwrap();
    assert_eq!(
        Link {
            updated_at: None,
            ..link
        },
        before_link
    );
    let cursor = s
        .get_cursor("r1", Kind::Email, "inbox/crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cursor.delta_link.as_deref(), Some("delta-1"));
    assert!(
        s.query_ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    // And the store is still usable afterwards (the connection was returned cleanly).
    s.record_ledger(&NewLedgerEntry::new(
        "r1",
        Kind::Email,
        "g1",
        LedgerAction::Skipped,
        "ok",
    ))
    .await
    .unwrap();
}

async fn ledger(s: &dyn StateStore) {
    let run = s.start_run("r1", Kind::Appointment).await.unwrap();
    let t0 = s.now().await.unwrap();
    let mut ids = Vec::new();
    for (i, (mailbox, kind, key, action)) in [
        ("r1", Kind::Email, "m1", LedgerAction::Created),
        ("r1", Kind::Email, "m2", LedgerAction::Adopted),
        ("r2", Kind::Email, "m1", LedgerAction::Skipped),
        ("r1", Kind::Appointment, "e1", LedgerAction::Conflict),
        ("r2", Kind::Appointment, "e1", LedgerAction::Failed),
        ("r1", Kind::Email, "m1", LedgerAction::Warning),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = NewLedgerEntry::new(mailbox, kind, key, action, format!("reason {i}"));
        if kind == Kind::Appointment {
            e.run_id = Some(run.id);
            e.crm_id = Some(CrmId(4_294_967_296 + i as u64));
            e.detail = Some(serde_json::json!({"fields": ["Subject", "Date"], "n": i}));
        }
        ids.push(s.record_ledger(&e).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]));

    let all = s.query_ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].id, ids[5], "newest first");
    assert!(all.iter().all(|e| e.at >= t0));
    let e = all.iter().find(|e| e.id == ids[3]).unwrap();
    assert_eq!(e.action, LedgerAction::Conflict);
    assert_eq!(e.run_id, Some(run.id));
    assert_eq!(e.crm_id, Some(CrmId(4_294_967_299)));
    assert_eq!(e.detail.as_ref().unwrap()["fields"][1], "Date");
    assert_eq!(e.reason, "reason 3");

    let q = |f: LedgerFilter| async move {
        s.query_ledger(&f)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        q(LedgerFilter {
            mailbox: Some("r2".into()),
            ..Default::default()
        })
        .await,
        [ids[4], ids[2]]
    );
    assert_eq!(
        q(LedgerFilter {
            kind: Some(Kind::Appointment),
            ..Default::default()
        })
        .await,
        [ids[4], ids[3]]
    );
    assert_eq!(
        q(LedgerFilter {
            item_key: Some("m1".into()),
            mailbox: Some("r1".into()),
            ..Default::default()
        })
        .await,
        [ids[5], ids[0]]
    );
    assert_eq!(
        q(LedgerFilter {
            action: Some(LedgerAction::Adopted),
            ..Default::default()
        })
        .await,
        [ids[1]]
    );
    assert_eq!(
        q(LedgerFilter {
            crm_id: Some(CrmId(4_294_967_300)),
            ..Default::default()
        })
        .await,
        [ids[4]]
    );
    assert_eq!(
        q(LedgerFilter {
            run_id: Some(run.id),
            ..Default::default()
        })
        .await,
        [ids[4], ids[3]]
    );
    assert_eq!(
        q(LedgerFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await,
        [ids[5], ids[4]]
    );
    assert_eq!(
        q(LedgerFilter {
            before_id: Some(ids[4]),
            limit: Some(2),
            ..Default::default()
        })
        .await,
        [ids[3], ids[2]]
    );
    assert_eq!(
        q(LedgerFilter {
            since: Some(t0),
            ..Default::default()
        })
        .await
        .len(),
        6
    );
    assert!(
        q(LedgerFilter {
            until: Some(t0),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let future = Timestamp::now() + SignedDuration::from_hours(1);
    assert!(
        q(LedgerFilter {
            since: Some(future),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        q(LedgerFilter {
            until: Some(future),
            ..Default::default()
        })
        .await
        .len(),
        6
    );

    // Export: JSON lines, oldest first, filter honoured, limit ignored.
    let mut out = Vec::new();
    let n = s
        .export_ledger_jsonl(
            &LedgerFilter {
                mailbox: Some("r1".into()),
                limit: Some(1),
                ..Default::default()
            },
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(n, 4);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], ids[0]);
    assert_eq!(lines[0]["action"], "created");
    assert_eq!(lines[0]["kind"], "email");
    assert_eq!(lines[2]["detail"]["n"], 3);
    assert_eq!(lines[2]["run_id"], run.id.to_string());
    let back: gc_store::LedgerEntry = serde_json::from_value(lines[2].clone()).unwrap();
    assert_eq!(back, *e);

    // Retention: nothing is a day old; after a pause, only the older batch goes.
    assert_eq!(
        s.purge_ledger_older_than(Duration::from_secs(86_400))
            .await
            .unwrap(),
        0
    );
    let mut purged = 0;
    let mut attempts = 0;
    let mut cutoff = Duration::from_millis(1000);
    let fresh = loop {
        attempts += 1;
        // Everything written before the pause is older than the cut-off when it is purged.
        tokio::time::sleep(cutoff + cutoff / 2).await;
        let fresh = s
            .record_ledger(&NewLedgerEntry::new(
                "r1",
                Kind::Email,
                "m9",
                LedgerAction::Created,
                "late",
            ))
            .await
            .unwrap();
        let fresh_at = s.query_ledger(&LedgerFilter::default()).await.unwrap()[0].at;
        purged += s.purge_ledger_older_than(cutoff).await.unwrap();
        // The fresh entry must survive only if the purge surely ran before it was `cutoff`
        // old (database clock); on a machine that stalled longer, try again with more room.
        if s.now().await.unwrap().duration_since(fresh_at)
            < SignedDuration::try_from(cutoff).unwrap()
        {
            break fresh;
        }
        cutoff *= 2;
    };
    assert_eq!(q(LedgerFilter::default()).await, [fresh]);
    assert_eq!(
        purged,
        6 + attempts - 1,
        "the six older entries and earlier attempts' ones"
    );
}

async fn runs(s: &dyn StateStore) {
    let r1 = s.start_run("r1", Kind::Email).await.unwrap();
    assert!(r1.finished_at.is_none() && r1.outcome.is_none());
    assert_eq!(s.get_run(r1.id).await.unwrap().unwrap(), r1);
    let r2 = s.start_run("r2", Kind::Appointment).await.unwrap();
    let r3 = s.start_run("r1", Kind::Appointment).await.unwrap();

    let counts = RunCounts {
        created: 412,
        adopted: 1380,
        updated: 12,
        skipped: 7,
        deleted: 1,
        failed: 2,
        warnings: 3,
    };
    let done = s
        .finish_run(r1.id, &counts, RunOutcome::Partial, Some("2 items failed"))
        .await
        .unwrap();
    assert_eq!(done.counts, counts);
    assert_eq!(done.outcome, Some(RunOutcome::Partial));
    assert_eq!(done.error.as_deref(), Some("2 items failed"));
    assert!(done.finished_at.unwrap() >= done.started_at);
    assert_eq!(s.get_run(r1.id).await.unwrap().unwrap(), done);

    let recent = s.list_runs(Some("r1"), 10).await.unwrap();
    assert_eq!(
        recent.iter().map(|r| r.id).collect::<Vec<_>>(),
        [r3.id, r1.id]
    );
    let all = s.list_runs(None, 2).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [r3.id, r2.id]);

    let err = s
        .finish_run(uuid::Uuid::now_v7(), &counts, RunOutcome::Success, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(s.get_run(uuid::Uuid::now_v7()).await.unwrap().is_none());

    assert_eq!(
        s.purge_runs_older_than(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    // As for the ledger: a run started after the pause survives a purge that surely ran
    // before it was `cutoff` old (database clock); otherwise try again with more room.
    let mut purged = 0;
    let mut attempts = 0;
    let mut cutoff = Duration::from_millis(800);
    let r4 = loop {
        attempts += 1;
        tokio::time::sleep(cutoff + cutoff / 2).await;
        let r4 = s.start_run("r1", Kind::Task).await.unwrap();
        purged += s.purge_runs_older_than(cutoff).await.unwrap();
        if s.now().await.unwrap().duration_since(r4.started_at)
            < SignedDuration::try_from(cutoff).unwrap()
        {
            break r4;
        }
        cutoff *= 2;
    };
    assert_eq!(purged, 3 + attempts - 1);
    assert_eq!(
        s.list_runs(None, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [r4.id]
    );
}

fn keys_of(fences: &[LeaseFence]) -> Vec<String> {
    fences.iter().map(|f| f.key.clone()).collect()
}

async fn lease_of(s: &dyn StateStore, key: &str) -> gc_store::Lease {
    s.list_leases()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.key == key)
        .unwrap()
}

async fn leases(s: &dyn StateStore) {
    let long = Duration::from_secs(60);
    let key = lease_key("r1", Kind::Email);
    let p1 = s
        .try_acquire_lease(&key, "p1", long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p1.key.as_str(), p1.holder.as_str()), (key.as_str(), "p1"));
    assert!(
        s.try_acquire_lease(&key, "p2", long)
            .await
            .unwrap()
            .is_none(),
        "held by p1"
    );
    let first = s.list_leases().await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].holder, "p1");
    assert_eq!(first[0].fence(), p1);
    // Re-acquiring our own lease extends it and keeps the acquisition time and generation.
    let again_fence = s
        .try_acquire_lease(&key, "p1", long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again_fence, p1);
    let again = s.list_leases().await.unwrap();
    assert_eq!(again[0].acquired_at, first[0].acquired_at);
    assert!(again[0].expires_at >= first[0].expires_at);

    assert!(s.renew_lease(&p1, long).await.unwrap());
    let not_p1 = LeaseFence {
        holder: "p2".into(),
        ..p1.clone()
    };
    assert!(!s.renew_lease(&not_p1, long).await.unwrap());
    assert!(!s.release_lease(&not_p1).await.unwrap());
    let old_generation = LeaseFence {
        generation: p1.generation - 1,
        ..p1.clone()
    };
    assert!(!s.renew_lease(&old_generation, long).await.unwrap());
    assert!(!s.release_lease(&old_generation).await.unwrap());
    assert!(s.release_lease(&p1).await.unwrap());
    assert!(!s.renew_lease(&p1, long).await.unwrap(), "released");
    let p2 = s
        .try_acquire_lease(&key, "p2", long)
        .await
        .unwrap()
        .unwrap();
    assert!(p2.generation > p1.generation);

    // Expiry: a short lease lapses and another holder takes it; the old holder cannot renew.
    let short_key = lease_key("r2", Kind::Email);
    let short_ttl = Duration::from_millis(300);
    let short_p1 = s
        .try_acquire_lease(&short_key, "p1", short_ttl)
        .await
        .unwrap()
        .unwrap();
    let granted = lease_of(s, &short_key).await;
    assert_eq!(
        granted.expires_at.duration_since(granted.acquired_at),
        SignedDuration::try_from(short_ttl).unwrap()
    );
    // Still held, unless the machine stalled past its expiry (database clock).
    let taken = s.try_acquire_lease(&short_key, "p2", long).await.unwrap();
    let after = s.now().await.unwrap();
    assert!(
        taken.is_none() || after >= granted.expires_at,
        "taken while valid"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(!s.renew_lease(&short_p1, long).await.unwrap(), "expired");
    let short_p2 = s
        .try_acquire_lease(&short_key, "p2", long)
        .await
        .unwrap()
        .unwrap();
    assert!(short_p2.generation > short_p1.generation, "takeover");
    let l = s
        .list_leases()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.key == short_key)
        .unwrap();
    assert_eq!(l.fence(), short_p2);
    // The old holder's release leaves the new holding alone.
    assert!(!s.release_lease(&short_p1).await.unwrap());

    // Bulk claims.
    let keys: Vec<String> = (0..10).map(|i| format!("mb-{i:02}/email")).collect();
    let got = s.acquire_leases("p1", &keys, 4, long).await.unwrap();
    assert_eq!(keys_of(&got), keys[..4]);
    assert!(got.iter().all(|f| f.holder == "p1"));
    let got2 = s.acquire_leases("p2", &keys, 100, long).await.unwrap();
    assert_eq!(keys_of(&got2), keys[4..]);
    // p1 asks again: renews its own four first (same generations), nothing else is free.
    assert_eq!(s.acquire_leases("p1", &keys, 100, long).await.unwrap(), got);
    assert_eq!(
        s.acquire_leases("p1", &keys, 2, long).await.unwrap().len(),
        2
    );
    assert!(
        s.acquire_leases("p3", &keys, 100, long)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.acquire_leases("p3", &[], 100, long)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.acquire_leases("p3", &keys, 0, long)
            .await
            .unwrap()
            .is_empty()
    );
    // Duplicate candidates do not confuse the claim.
    let dup = vec!["dup/email".to_owned(), "dup/email".to_owned()];
    assert_eq!(
        keys_of(&s.acquire_leases("p3", &dup, 10, long).await.unwrap()),
        ["dup/email"]
    );

    let mut p2_fences = got2.clone();
    p2_fences.push(p2.clone());
    p2_fences.push(short_p2.clone());
    p2_fences.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(s.renew_leases("p2", long).await.unwrap(), p2_fences);
    assert_eq!(s.release_leases("p2").await.unwrap(), 8);
    assert!(s.renew_leases("p2", long).await.unwrap().is_empty());
    // Released keys are free for p3 now, under new generations.
    let p3 = s.acquire_leases("p3", &keys, 100, long).await.unwrap();
    assert_eq!(keys_of(&p3), keys[4..]);
    for (new, old) in p3.iter().zip(&got2) {
        assert!(new.generation > old.generation, "{new:?} after {old:?}");
    }
    let held: Vec<_> = s
        .list_leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.key, l.holder))
        .collect();
    assert!(held.contains(&(keys[0].clone(), "p1".to_owned())));
    assert!(held.contains(&(keys[9].clone(), "p3".to_owned())));

    // Expired leases are claimable in bulk, too, under new generations.
    let short: Vec<String> = (0..3).map(|i| format!("short-{i}")).collect();
    let short_first = s
        .acquire_leases("p1", &short, 10, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(short_first.len(), 3);
    let first_expiry = {
        let mut e = Vec::new();
        for k in &short {
            e.push(lease_of(s, k).await.expires_at);
        }
        e.into_iter().min().unwrap()
    };
    // Still held, unless the machine stalled past their expiry (database clock).
    let taken = s.acquire_leases("p2", &short, 10, long).await.unwrap();
    let after = s.now().await.unwrap();
    assert!(
        taken.is_empty() || after >= first_expiry,
        "taken while valid: {taken:?}"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let short_second = s.acquire_leases("p2", &short, 10, long).await.unwrap();
    assert_eq!(keys_of(&short_second), short);
    for (new, old) in short_second.iter().zip(&short_first) {
        assert!(new.generation > old.generation, "{new:?} after {old:?}");
    }
    // A holder whose own lease expired gets a new generation when it takes it again.
    let own = s
        .try_acquire_lease("own", "p1", Duration::from_millis(100))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let own_again = s
        .try_acquire_lease("own", "p1", long)
        .await
        .unwrap()
        .unwrap();
    assert!(own_again.generation > own.generation);
    assert!(!s.renew_lease(&own, long).await.unwrap(), "old holding");
    assert!(s.renew_lease(&own_again, long).await.unwrap());
}

/// An item commit with the link, a cursor and a ledger entry, for the fence tests.
fn item(graph_id: &str, next_link: &str, fences: Vec<LeaseFence>) -> ItemCommit {
    let mut link = full_link("r1", graph_id);
    link.state = LinkState::Active;
    let mut cursor = Cursor::new("r1", Kind::Email, "inbox/crm");
    cursor.next_link = Some(next_link.into());
    ItemCommit {
        link: Some(link),
        ledger: vec![NewLedgerEntry::new(
            "r1",
            Kind::Email,
            graph_id,
            LedgerAction::Created,
            "new e-mail",
        )],
        cursor: Some(cursor),
        fences,
    }
}

async fn next_link(s: &dyn StateStore) -> Option<String> {
    s.get_cursor("r1", Kind::Email, "inbox/crm")
        .await
        .unwrap()
        .and_then(|c| c.next_link)
}

/// Fenced writes succeed while every fence is held, and fail with `LeaseLost`, writing
/// nothing, once one of them was taken over, released or renewed away.
async fn fenced_writes(s: &dyn StateStore) {
    let long = Duration::from_secs(60);
    // Long enough for the writes below on a loaded machine; the test then waits it out.
    let ttl = Duration::from_millis(1000);
    let mailbox = s
        .try_acquire_lease("r1/email", "proc-a", ttl)
        .await
        .unwrap()
        .unwrap();
    // The lease was granted before this instant, so it has expired by `granted + ttl`.
    let granted = tokio::time::Instant::now();
    let item_key = s
        .try_acquire_lease("email:<m1@contoso.example>", "proc-a/m1", long)
        .await
        .unwrap()
        .unwrap();
    let both = vec![mailbox.clone(), item_key.clone()];

    // Under held fences: the intent marker, the commit and the cursor writes go through.
    let mut intent = full_link("r1", "g1");
    intent.state = LinkState::Interrupted;
    s.upsert_link(&intent, &both).await.unwrap();
    assert_eq!(
        s.get_link(Kind::Email, "r1", "g1")
            .await
            .unwrap()
            .unwrap()
            .state,
        LinkState::Interrupted
    );
    let ids = s
        .commit_item(&item("g1", "page-2", both.clone()))
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(next_link(s).await.as_deref(), Some("page-2"));
    let mut cursor = Cursor::new("r1", Kind::Email, "inbox/crm");
    cursor.next_link = Some("page-3".into());
    s.put_cursor(&cursor, std::slice::from_ref(&mailbox))
        .await
        .unwrap();
    assert_eq!(next_link(s).await.as_deref(), Some("page-3"));

    // The mailbox lease lapses (the process was paused past its TTL) and another process
    // takes it over.
    tokio::time::sleep_until(granted + ttl + Duration::from_millis(50)).await;
    let taken = s
        .try_acquire_lease("r1/email", "proc-b", long)
        .await
        .unwrap()
        .unwrap();
    assert!(taken.generation > mailbox.generation);
    let ledger_before = s.query_ledger(&LedgerFilter::default()).await.unwrap();

    // Every write of the old holder now fails with LeaseLost and writes nothing.
    let err = s
        .commit_item(&item("g2", "page-4", both.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseLost { key } if key == "r1/email"),
        "{err:?}"
    );
    assert_eq!(err.class(), StoreErrorClass::Conflict);
    assert!(s.get_link(Kind::Email, "r1", "g2").await.unwrap().is_none());
    assert_eq!(next_link(s).await.as_deref(), Some("page-3"));
    assert_eq!(
        s.query_ledger(&LedgerFilter::default()).await.unwrap(),
        ledger_before
    );
    cursor.next_link = Some("page-5".into());
    let err = s
        .put_cursor(&cursor, std::slice::from_ref(&mailbox))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert_eq!(next_link(s).await.as_deref(), Some("page-3"));
    let err = s
        .clear_cursor(
            "r1",
            Kind::Email,
            "inbox/crm",
            std::slice::from_ref(&mailbox),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert_eq!(next_link(s).await.as_deref(), Some("page-3"));
    let mut intent2 = full_link("r1", "g2");
    intent2.state = LinkState::Interrupted;
    let err = s.upsert_link(&intent2, &both).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { .. }), "{err:?}");
    assert!(s.get_link(Kind::Email, "r1", "g2").await.unwrap().is_none());

    // The new holder writes under its own fence; the old item-key fence is still good.
    let new_both = vec![taken.clone(), item_key.clone()];
    s.commit_item(&item("g2", "page-6", new_both))
        .await
        .unwrap();
    assert_eq!(next_link(s).await.as_deref(), Some("page-6"));
    assert!(
        s.clear_cursor("r1", Kind::Email, "inbox/crm", std::slice::from_ref(&taken))
            .await
            .unwrap()
    );
    assert!(next_link(s).await.is_none());

    // A released lease fences its holder out too, and re-acquiring gives a new generation
    // under which the old fence stays dead.
    assert!(s.release_lease(&item_key).await.unwrap());
    let err = s
        .commit_item(&item("g3", "page-7", vec![taken.clone(), item_key.clone()]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseLost { key } if key == "email:<m1@contoso.example>"),
        "{err:?}"
    );
    let item_again = s
        .try_acquire_lease("email:<m1@contoso.example>", "proc-a/m1", long)
        .await
        .unwrap()
        .unwrap();
    assert!(item_again.generation > item_key.generation);
    assert!(
        s.commit_item(&item("g3", "page-7", vec![taken.clone(), item_key.clone()]))
            .await
            .is_err(),
        "same holder name, old generation"
    );
    s.commit_item(&item("g3", "page-7", vec![taken, item_again]))
        .await
        .unwrap();
    assert!(s.get_link(Kind::Email, "r1", "g3").await.unwrap().is_some());
}

/// A commit of `n` ledger entries (slow enough to outlast a short lease).
fn big_commit(tag: &str, n: usize, fences: Vec<LeaseFence>) -> ItemCommit {
    ItemCommit {
        link: Some(full_link("r1", tag)),
        ledger: (0..n)
            .map(|i| {
                NewLedgerEntry::new(
                    "r1",
                    Kind::Email,
                    format!("{tag}-{i}"),
                    LedgerAction::Skipped,
                    "filler",
                )
            })
            .collect(),
        cursor: None,
        fences,
    }
}

/// The fence check holds the lease row until the commit ends: a lease that expires while a
/// fenced commit is writing cannot be taken over before that commit is durable, so the old
/// holder's last writes are ordered before everything the new holder does. (Without the
/// `FOR SHARE` row lock on PostgreSQL, or with `FOR KEY SHARE`, the takeover below returns
/// hundreds of milliseconds before the commit ends.)
async fn takeover_waits_for_a_fenced_commit(s: &dyn StateStore) {
    // Size the commit so that it takes at least 600 ms on this machine.
    let mut n = 500;
    let took = loop {
        let start = std::time::Instant::now();
        s.commit_item(&big_commit(&format!("calibrate-{n}"), n, vec![]))
            .await
            .unwrap();
        let took = start.elapsed();
        if took >= Duration::from_millis(600) || n >= 200_000 {
            break took;
        }
        n *= 2;
    };
    // The lease expires a third of the way into the commit.
    let ttl = took / 3;
    let fence = s
        .try_acquire_lease("slow/email", "old", ttl)
        .await
        .unwrap()
        .unwrap();
    let (committed, taken) = tokio::join!(
        async {
            let r = s
                .commit_item(&big_commit("slow", n, vec![fence.clone()]))
                .await;
            (r, std::time::Instant::now())
        },
        async {
            tokio::time::sleep(ttl + Duration::from_millis(20)).await;
            loop {
                if let Some(f) = s.try_acquire_lease("slow/email", "new", ttl).await.unwrap() {
                    break (f, std::time::Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    );
    let (result, committed_at) = committed;
    let (new_fence, taken_at) = taken;
    assert!(new_fence.generation > fence.generation);
    let written = s
        .query_ledger(&LedgerFilter {
            action: Some(LedgerAction::Skipped),
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .filter(|e| e.item_key.starts_with("slow-"))
        .count();
    match result {
        Ok(ids) => {
            assert_eq!(ids.len(), n);
            assert_eq!(written, n);
            // The instants are taken when each future resumes, not when the transaction
            // ends: on a busy machine the commit's future can resume a little after the
            // takeover that waited for its transaction. A takeover *during* the commit would
            // come about two thirds of the commit's time (hundreds of ms) before its end.
            let slack = took / 6;
            assert!(
                taken_at + slack >= committed_at,
                "the lease was taken over {:?} before the fenced commit under it ended",
                committed_at - taken_at
            );
        }
        // The commit started after the expiry (a very slow start): it must write nothing.
        Err(StoreError::LeaseLost { .. }) => assert_eq!(written, 0),
        Err(e) => panic!("{e:?}"),
    }
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::common::sqlite().await;
                    super::$name(&*db.store).await;
                    db.cleanup().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::common::postgres().await else { return };
                    super::$name(&*db.store).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}

/// The scheduler's reading of every mailbox (`schedule`) says what the full records say:
/// pauses (whole or one kind), due times, backlogs, exclusions, failures, disabled ones.
async fn schedule_entries(s: &dyn StateStore) {
    assert!(s.schedule().await.unwrap().is_empty());
    four_mailboxes(s).await;
    let now = s.now().await.unwrap();
    let hour = SignedDuration::from_hours(1);
    s.set_enabled("r4", false).await.unwrap();
    s.set_paused("r1", None, true).await.unwrap();
    s.set_next_due("r1", Kind::Email, now - hour).await.unwrap();
    s.record_kind_run(
        "r2",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Partial,
            error: Some("two items delayed".into()),
            backlog: Some(42),
            next_due: now + hour,
        },
    )
    .await
    .unwrap();
    s.set_next_due("r2", Kind::Appointment, now - hour)
        .await
        .unwrap();
    s.set_paused("r2", Some(Kind::Contact), true).await.unwrap();
    let short = ExclusionPolicy {
        after_failures: 1,
        exclude_for: Duration::from_secs(3600),
    };
    s.record_failure("r3", &access_denied(), Some(short))
        .await
        .unwrap();

    let entries = s.schedule().await.unwrap();
    let records = s.list_mailboxes().await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e.rep_id.as_str())
            .collect::<Vec<_>>(),
        ["r1", "r2", "r3", "r4"]
    );
    for (e, m) in entries.iter().zip(&records) {
        assert_eq!(e.rep_id, m.rep_id);
        assert_eq!(e.enabled, m.enabled, "{}", m.rep_id);
        assert_eq!(e.paused, m.paused_at.is_some(), "{}", m.rep_id);
        assert_eq!(
            e.consecutive_failures, m.consecutive_failures,
            "{}",
            m.rep_id
        );
        assert_eq!(e.excluded_until, m.excluded_until, "{}", m.rep_id);
        assert_eq!(e.created_at, m.created_at, "{}", m.rep_id);
        assert_eq!(
            e.kinds
                .iter()
                .map(|k| k.kind)
                .collect::<std::collections::BTreeSet<_>>(),
            m.next_due.keys().copied().collect(),
            "{}",
            m.rep_id
        );
        for &kind in Kind::ALL {
            assert_eq!(
                e.next_due(kind),
                m.next_due.get(&kind).copied(),
                "{} {kind}",
                m.rep_id
            );
            assert_eq!(e.is_paused(kind), m.is_paused(kind), "{} {kind}", m.rep_id);
            assert_eq!(
                e.kind(kind).and_then(|k| k.backlog),
                m.kinds.get(&kind).and_then(|k| k.backlog),
                "{} {kind}",
                m.rep_id
            );
        }
    }
    assert!(!entries[3].enabled);
    assert!(entries[0].paused && entries[0].is_paused(Kind::Task));
    assert_eq!(entries[1].kind(Kind::Email).unwrap().backlog, Some(42));
    assert!(entries[1].is_paused(Kind::Contact) && !entries[1].is_paused(Kind::Email));
    assert!(entries[2].is_excluded_at(now) && entries[2].consecutive_failures == 1);
}

async fn item_retries(s: &dyn StateStore) {
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

    // Committing the item's link forgets its retry state, and only its own.
    let mut l = Link::new(Kind::Email, "r1", "m1");
    l.crm_id = Some(CrmId(7));
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

async fn resolved_names(s: &dyn StateStore) {
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

async fn subscriptions(s: &dyn StateStore) {
    let at = |sec: i64| Timestamp::from_second(sec).unwrap();
    let sub = |mailbox: &str, kind: Kind, id: &str, expires: i64| SubscriptionRecord {
        mailbox: mailbox.into(),
        kind,
        subscription_id: id.into(),
        resource: format!("users/{mailbox}/events"),
        client_state: format!("secret-{id}"),
        expires_at: at(expires),
    };
    assert!(s.list_subscriptions().await.unwrap().is_empty());
    let a = sub("r1", Kind::Email, "sub-a", 2_000_000_000);
    let b = sub("r1", Kind::Appointment, "sub-b", 2_000_000_100);
    s.put_subscription(&a).await.unwrap();
    s.put_subscription(&b).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    // One per mailbox and kind: a new one replaces the old.
    let a2 = sub("r1", Kind::Email, "sub-a2", 2_000_000_200);
    s.put_subscription(&a2).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), a2.clone()]
    );
    // Renewed: same id, later expiry.
    let renewed = SubscriptionRecord {
        expires_at: at(2_000_000_900),
        ..a2.clone()
    };
    s.put_subscription(&renewed).await.unwrap();
    assert_eq!(
        s.list_subscriptions().await.unwrap(),
        vec![b.clone(), renewed.clone()]
    );
    assert!(!format!("{renewed:?}").contains("secret"));
    assert!(s.delete_subscription("sub-b").await.unwrap());
    assert!(!s.delete_subscription("sub-b").await.unwrap());
    assert_eq!(s.list_subscriptions().await.unwrap(), vec![renewed.clone()]);
    s.delete_subscription("sub-a2").await.unwrap();
}

conformance!(
    clock,
    mailboxes,
    mailbox_health,
    schedule,
    schedule_entries,
    pauses,
    kind_runs,
    alerts,
    cursors,
    resolved_names,
    subscriptions,
    links,
    unsettled_links,
    commit_item,
    commit_item_is_atomic,
    ledger,
    runs,
    leases,
    item_retries,
    fenced_writes,
    takeover_waits_for_a_fenced_commit,
);
