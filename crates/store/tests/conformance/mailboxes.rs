//! The mailbox records: registration, enabling, failures, health and exclusion, and the store's clock.

use super::*;

pub(crate) fn mb(rep: &str, address: &str) -> MailboxUpsert {
    MailboxUpsert {
        rep_id: rep.into(),
        address: address.into(),
        graph_user_id: None,
        enabled: true,
    }
}

pub(crate) fn access_denied() -> MailboxFailure {
    MailboxFailure {
        kind: "access_denied".into(),
        text: "ErrorAccessDenied: mailbox not reachable".into(),
    }
}

pub(crate) async fn clock(s: &dyn StateStore) {
    let db = s.now().await.unwrap();
    let local = Timestamp::now();
    let skew = db.duration_since(local).as_secs().abs();
    assert!(skew < 5, "database clock {db} vs local {local}");
    let later = s.now().await.unwrap();
    assert!(later >= db);
    // What the database stamps is never ahead of what `now` says afterwards (SQLite's `now`
    // reads the clock without asking the database).
    s.upsert_mailbox(&mb("r1", "a@c.com")).await.unwrap();
    let stamped = s.get_mailbox("r1").await.unwrap().unwrap().created_at;
    let after = s.now().await.unwrap();
    assert!(stamped <= after, "stamped {stamped}, now {after}");
    assert!(after.duration_since(stamped).as_secs() < 5);
}

pub(crate) async fn mailboxes(s: &dyn StateStore) {
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

pub(crate) async fn mailbox_health(s: &dyn StateStore) {
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
    // The run's check reads the same exclusion, with the error that led to it.
    let e = s.exclusion("r1").await.unwrap().expect("r1 is excluded");
    assert_eq!(e.until, until);
    assert!(e.last_error_text.unwrap().contains("ErrorAccessDenied"));
    assert_eq!(s.exclusion("r2").await.unwrap(), None, "r2 is not excluded");
    assert_eq!(s.exclusion("nobody").await.unwrap(), None);

    // Excluded mailboxes are not due.
    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.rep_id.as_str()).collect::<Vec<_>>(),
        ["r2"]
    );

    s.clear_exclusion("r1").await.unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    assert!(m.excluded_until.is_none());
    assert_eq!(s.exclusion("r1").await.unwrap(), None, "cleared");
    assert_eq!(
        m.consecutive_failures, 3,
        "clearing the exclusion keeps the counter"
    );

    s.record_failure("r1", &access_denied(), Some(policy))
        .await
        .unwrap();
    s.record_success("r1").await.unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
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
    assert_eq!(
        s.exclusion("r2").await.unwrap(),
        None,
        "an exclusion that has ended is none"
    );
}
