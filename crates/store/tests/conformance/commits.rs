//! Item commits (link, cursor and ledger in one transaction), the ledger and runs.

use super::*;

pub(crate) async fn commit_item(s: &dyn StateStore) {
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
            no_retry_row: false,
            release: vec![],
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
pub(crate) async fn commit_item_is_atomic(s: &dyn StateStore) {
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
            no_retry_row: false,
            release: vec![],
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

pub(crate) async fn ledger(s: &dyn StateStore) {
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

/// `end_run`: the run's row, the mailbox's success and the lease's release in one write; an
/// unknown run writes none of them; a removed mailbox or a lease taken over is no error.
pub(crate) async fn run_end(s: &dyn StateStore) {
    s.upsert_mailbox(&super::mailboxes::mb("r1", "a@contoso.com"))
        .await
        .unwrap();
    let policy = ExclusionPolicy {
        after_failures: 1,
        exclude_for: Duration::from_secs(3600),
    };
    let failing = |s: &'static str| MailboxFailure {
        kind: "access_denied".into(),
        text: s.into(),
    };
    s.record_failure("r1", &failing("denied"), Some(policy))
        .await
        .unwrap();
    let key = lease_key("r1", Kind::Email);
    let ttl = Duration::from_secs(60);
    let fence = s.try_acquire_lease(&key, "p1", ttl).await.unwrap().unwrap();
    let run = s.start_run("r1", Kind::Email).await.unwrap();
    let counts = RunCounts {
        created: 1,
        ..RunCounts::default()
    };
    let end = |id, success, release: Option<LeaseFence>| RunEnd {
        id,
        mailbox: "r1".into(),
        counts,
        outcome: RunOutcome::Success,
        error: None,
        success,
        release,
    };

    // An unknown run: an error, and neither the health nor the lease changes.
    let err = s
        .end_run(&end(uuid::Uuid::now_v7(), true, Some(fence.clone())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    assert_eq!(m.consecutive_failures, 1);
    assert!(m.excluded_until.is_some());
    assert!(s.lease(&key).await.unwrap().is_some(), "the lease is kept");

    let done = s
        .end_run(&end(run.id, true, Some(fence.clone())))
        .await
        .unwrap();
    assert_eq!(done.counts, counts);
    assert_eq!(done.outcome, Some(RunOutcome::Success));
    assert_eq!(s.get_run(run.id).await.unwrap().unwrap(), done);
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    assert_eq!(m.consecutive_failures, 0);
    assert!(m.excluded_until.is_none());
    assert!(m.last_success_at.is_some());
    assert!(s.lease(&key).await.unwrap().is_none(), "released");

    // Not a success: the health stays as it is. A lease another holder took since stays his.
    s.record_failure("r1", &failing("again"), None)
        .await
        .unwrap();
    let taken = s.try_acquire_lease(&key, "p2", ttl).await.unwrap().unwrap();
    let run = s.start_run("r1", Kind::Email).await.unwrap();
    s.end_run(&end(run.id, false, Some(fence))).await.unwrap();
    let m = s.get_mailbox("r1").await.unwrap().unwrap();
    assert_eq!(m.consecutive_failures, 1);
    let held = s.lease(&key).await.unwrap().unwrap();
    assert_eq!(
        (held.holder.as_str(), held.generation),
        ("p2", taken.generation)
    );

    // A mailbox removed during its run: the run still ends.
    let run = s.start_run("gone", Kind::Email).await.unwrap();
    let mut gone = end(run.id, true, None);
    gone.mailbox = "gone".into();
    s.end_run(&gone).await.unwrap();
    assert!(
        s.get_run(run.id)
            .await
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );
}

pub(crate) async fn runs(s: &dyn StateStore) {
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
    // The run's row alone: no success to record, no lease to give back.
    let end = |id, outcome, error: Option<&str>| RunEnd {
        id,
        mailbox: "r1".into(),
        counts,
        outcome,
        error: error.map(str::to_owned),
        success: false,
        release: None,
    };
    let done = s
        .end_run(&end(r1.id, RunOutcome::Partial, Some("2 items failed")))
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
        .end_run(&end(uuid::Uuid::now_v7(), RunOutcome::Success, None))
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
