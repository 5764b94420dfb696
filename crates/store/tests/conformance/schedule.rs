//! The scheduler's state: due times, pauses, the record of the last run per kind, and the schedule read of every mailbox.

use super::*;

/// Mailboxes `r1` to `r4`, enabled, never scheduled.
pub(crate) async fn four_mailboxes(s: &dyn StateStore) {
    for (rep, addr) in [
        ("r1", "a@c.com"),
        ("r2", "b@c.com"),
        ("r3", "c@c.com"),
        ("r4", "d@c.com"),
    ] {
        s.upsert_mailbox(&mb(rep, addr)).await.unwrap();
    }
}

pub(crate) async fn schedule(s: &dyn StateStore) {
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
    // Moving the schedule replaces the entry; relative to the store's own clock too: an
    // hour from now is not due, zero from now is.
    let before = s.now().await.unwrap();
    s.set_due_in("r2", Kind::Email, Duration::from_secs(3600))
        .await
        .unwrap();
    let after = s.now().await.unwrap();
    let r2 = s.get_mailbox("r2").await.unwrap().unwrap();
    assert!(
        (before + hour..=after + hour).contains(&r2.next_due[&Kind::Email]),
        "due in an hour: {:?} not within {before}..={after} plus an hour",
        r2.next_due[&Kind::Email]
    );
    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert!(due.iter().all(|m| m.rep_id != "r2"), "not due yet");
    s.set_due_in("r2", Kind::Email, Duration::ZERO)
        .await
        .unwrap();
    let r2 = s.get_mailbox("r2").await.unwrap().unwrap();
    let after = s.now().await.unwrap();
    assert!(
        (before..=after).contains(&r2.next_due[&Kind::Email]),
        "due now: {:?} not within {before}..={after}",
        r2.next_due[&Kind::Email]
    );
    let due = s.due_mailboxes(Kind::Email, 10).await.unwrap();
    assert_eq!(due.len(), 3);
    assert!(matches!(
        s.set_due_in("nobody", Kind::Email, Duration::ZERO).await,
        Err(StoreError::NotFound(_))
    ));
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
pub(crate) async fn pauses(s: &dyn StateStore) {
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
    s.record_kind_run(
        "r2",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Success,
            error: None,
            backlog: Some(0),
            due_in: Duration::ZERO,
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

/// A partial run's record: `backlog` items left for later, `error` saying why.
fn partial(error: &str, backlog: u64, due_in: Duration) -> KindRun {
    KindRun {
        outcome: RunOutcome::Partial,
        error: Some(error.into()),
        backlog: Some(backlog),
        due_in,
    }
}

/// The scheduler's record of the last run per kind.
pub(crate) async fn kind_runs(s: &dyn StateStore) {
    s.upsert_mailbox(&mb("r1", "a@c.com")).await.unwrap();
    let later = Duration::from_secs(600);
    s.record_kind_run(
        "r1",
        Kind::Email,
        &KindRun {
            outcome: RunOutcome::Success,
            error: None,
            backlog: Some(0),
            due_in: later,
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
    // Due ten minutes after the run's record, by the same clock reading.
    assert_eq!(
        m.next_due[&Kind::Email],
        success + SignedDuration::from_mins(10)
    );
    assert!(s.due_mailboxes(Kind::Email, 10).await.unwrap().is_empty());

    // A partial run keeps the last success and records the error and backlog.
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.record_kind_run(
        "r1",
        Kind::Email,
        &partial("3 messages delayed: HTTP 503", 3, Duration::ZERO),
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
                due_in: Duration::ZERO,
            },
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Idle mailboxes recorded together: each as a success with no error and no backlog, due at
/// its own time; the other kinds and unknown mailboxes untouched, a repeat harmless.
pub(crate) async fn idle_runs(s: &dyn StateStore) {
    four_mailboxes(s).await;
    let now = s.now().await.unwrap();
    let hour = SignedDuration::from_hours(1);
    s.record_kind_run(
        "r2",
        Kind::Email,
        &partial("two items delayed", 2, Duration::ZERO),
    )
    .await
    .unwrap();
    s.set_next_due("r3", Kind::Task, now - hour).await.unwrap();
    s.record_idle_runs(Kind::Email, &[]).await.unwrap();
    let idle = [
        ("r1".to_owned(), now + hour),
        ("nobody".to_owned(), now + hour),
        ("r2".to_owned(), now + hour + hour),
        ("r3".to_owned(), now),
        // Listed twice: the last entry counts.
        ("r3".to_owned(), now + hour),
    ];
    for _ in 0..2 {
        s.record_idle_runs(Kind::Email, &idle).await.unwrap();
        let ms = |t: Timestamp| t.as_microsecond() / 1000;
        for (rep, due) in [
            ("r1", now + hour),
            ("r2", now + hour + hour),
            ("r3", now + hour),
        ] {
            let m = s.get_mailbox(rep).await.unwrap().unwrap();
            let k = &m.kinds[&Kind::Email];
            assert_eq!(k.last_outcome, Some(RunOutcome::Success), "{rep}");
            assert_eq!(k.last_error, None, "{rep}");
            assert_eq!(k.backlog, Some(0), "{rep}");
            assert!(k.last_run_at.is_some_and(|t| t >= now), "{rep}");
            assert_eq!(k.last_success_at, k.last_run_at, "{rep}");
            assert_eq!(ms(m.next_due[&Kind::Email]), ms(due), "{rep}");
        }
        let r3 = s.get_mailbox("r3").await.unwrap().unwrap();
        assert_eq!(
            ms(r3.next_due[&Kind::Task]),
            ms(now - hour),
            "another kind moved"
        );
        let r4 = s.get_mailbox("r4").await.unwrap().unwrap();
        assert!(r4.next_due.is_empty(), "an unlisted mailbox moved");
        assert!(s.get_mailbox("nobody").await.unwrap().is_none());
    }
    assert!(
        s.due_mailboxes(Kind::Email, 10)
            .await
            .unwrap()
            .iter()
            .all(|m| m.rep_id == "r4")
    );
}

/// The scheduler's reading of every mailbox (`schedule`) says what the full records say:
/// pauses (whole or one kind), due times, backlogs, exclusions, failures, disabled ones.
pub(crate) async fn schedule_entries(s: &dyn StateStore) {
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
        &partial("two items delayed", 42, Duration::from_secs(3600)),
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
    // Some mailboxes only: the same entries, unknown ones left out.
    let some: Vec<String> = ["r3", "nobody", "r2"].map(String::from).to_vec();
    assert_eq!(s.schedule_of(&some).await.unwrap(), entries[1..3]);
    assert!(s.schedule_of(&[]).await.unwrap().is_empty());
}

pub(crate) async fn needing_runs(s: &dyn StateStore) {
    four_mailboxes(s).await;
    let all: Vec<String> = ["r1", "r2", "r3", "r4", "nobody"]
        .map(String::from)
        .to_vec();
    let now = s.now().await.unwrap();
    assert!(
        s.needing_runs(Kind::Email, &all, now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.needing_runs(Kind::Email, &[], now)
            .await
            .unwrap()
            .is_empty()
    );
    // r1 excluded for an hour; r2 waits to retry an e-mail, r3 an appointment; the retry of a
    // mailbox the store does not know is not listed.
    let policy = ExclusionPolicy {
        after_failures: 1,
        exclude_for: Duration::from_secs(3600),
    };
    s.record_failure("r1", &access_denied(), Some(policy))
        .await
        .unwrap();
    s.record_retry(Kind::Email, "r2", "m1", "CRM busy", Duration::from_secs(60))
        .await
        .unwrap();
    s.record_retry(Kind::Email, "r2", "m2", "CRM busy", Duration::ZERO)
        .await
        .unwrap();
    s.record_retry(Kind::Appointment, "r3", "e1", "x", Duration::ZERO)
        .await
        .unwrap();
    s.record_retry(Kind::Email, "nobody", "m1", "x", Duration::ZERO)
        .await
        .unwrap();
    let now = s.now().await.unwrap();
    assert_eq!(
        s.needing_runs(Kind::Email, &all, now).await.unwrap(),
        ["r1", "r2"]
    );
    assert_eq!(
        s.needing_runs(Kind::Appointment, &all, now).await.unwrap(),
        ["r1", "r3"]
    );
    // Only the mailboxes asked about; an exclusion that has ended does not count.
    assert_eq!(
        s.needing_runs(Kind::Email, &["r2".into(), "r4".into()], now)
            .await
            .unwrap(),
        ["r2"]
    );
    let later = now + SignedDuration::from_secs(7200);
    assert_eq!(
        s.needing_runs(Kind::Email, &all, later).await.unwrap(),
        ["r2"]
    );
    // Once the retries are gone, nothing.
    s.clear_retry(Kind::Email, "r2", "m1").await.unwrap();
    s.clear_retry(Kind::Email, "r2", "m2").await.unwrap();
    assert!(
        s.needing_runs(Kind::Email, &all, later)
            .await
            .unwrap()
            .is_empty()
    );
    // A pending name (a notice not sent yet) of the kind counts; other names and other
    // kinds do not, nor does the prefix without its mark.
    let pending = format!("{}notice:m9", gc_store::PENDING);
    s.put_resolved("r4", Kind::Email, &pending, Some("{}"))
        .await
        .unwrap();
    s.put_resolved("r3", Kind::Email, "folder:pending:", Some("id"))
        .await
        .unwrap();
    s.put_resolved("r2", Kind::Task, &pending, Some("{}"))
        .await
        .unwrap();
    assert_eq!(
        s.needing_runs(Kind::Email, &all, later).await.unwrap(),
        ["r4"]
    );
    assert_eq!(
        s.needing_runs(Kind::Task, &all, later).await.unwrap(),
        ["r2"]
    );
    // Cleared by prefix: only that mailbox and kind.
    let prefix = format!("{}notice:", gc_store::PENDING);
    assert_eq!(
        s.clear_resolved_prefix("r4", Kind::Email, &prefix)
            .await
            .unwrap(),
        1
    );
    assert!(
        s.needing_runs(Kind::Email, &all, later)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.get_resolved("r3", Kind::Email, "folder:pending:")
            .await
            .unwrap()
            .as_deref(),
        Some("id")
    );
    assert_eq!(
        s.needing_runs(Kind::Task, &all, later).await.unwrap(),
        ["r2"]
    );
}
