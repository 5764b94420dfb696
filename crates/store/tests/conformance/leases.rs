//! Leases and fenced writes: who works a mailbox, and that a writer who lost its lease writes nothing.

use super::*;

pub(crate) fn keys_of(fences: &[LeaseFence]) -> Vec<String> {
    fences.iter().map(|f| f.key.clone()).collect()
}

pub(crate) async fn lease_of(s: &dyn StateStore, key: &str) -> gc_store::Lease {
    s.list_leases()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.key == key)
        .unwrap()
}

pub(crate) async fn leases(s: &dyn StateStore) {
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
    // The one key's row reads the same; a key never leased has none.
    assert_eq!(
        s.lease(&key).await.unwrap().map(|l| l.fence()),
        Some(p1.clone())
    );
    assert!(s.lease("no such key").await.unwrap().is_none());
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
pub(crate) fn item(graph_id: &str, next_link: &str, fences: Vec<LeaseFence>) -> ItemCommit {
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
        no_retry_row: false,
        release: vec![],
    }
}

pub(crate) async fn next_link(s: &dyn StateStore) -> Option<String> {
    s.get_cursor("r1", Kind::Email, "inbox/crm")
        .await
        .unwrap()
        .and_then(|c| c.next_link)
}

/// Fenced writes succeed while every fence is held, and fail with `LeaseLost`, writing
/// nothing, once one of them was taken over, released or renewed away.
pub(crate) async fn fenced_writes(s: &dyn StateStore) {
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
    // A fence given twice is one fence (SQLite counts the held ones in the write itself).
    s.upsert_link(
        &intent,
        &[mailbox.clone(), item_key.clone(), mailbox.clone()],
    )
    .await
    .unwrap();
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
    assert!(
        matches!(&err, StoreError::LeaseLost { key } if key == "r1/email"),
        "{err:?}"
    );
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
    // The lost one is named, not the item key that is still held.
    assert!(
        matches!(&err, StoreError::LeaseLost { key } if key == "r1/email"),
        "{err:?}"
    );
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
pub(crate) fn big_commit(tag: &str, n: usize, fences: Vec<LeaseFence>) -> ItemCommit {
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
        no_retry_row: false,
        release: vec![],
    }
}

/// The fence check holds the lease row until the commit ends: a lease that expires while a
/// fenced commit is writing cannot be taken over before that commit is durable, so the old
/// holder's last writes are ordered before everything the new holder does. (Without the
/// `FOR SHARE` row lock on PostgreSQL, or with `FOR KEY SHARE`, the takeover below returns
/// hundreds of milliseconds before the commit ends.)
pub(crate) async fn takeover_waits_for_a_fenced_commit(s: &dyn StateStore) {
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

/// A commit gives up the item's key lease with its writes (`ItemCommit::release`): the key is
/// free and the link stored at once; a commit that may not write keeps the lease; a release
/// whose fence is stale leaves the new holder's lease alone.
pub(crate) async fn commit_releases_the_key_lease(s: &dyn StateStore) {
    let long = Duration::from_secs(60);
    let mailbox = s
        .try_acquire_lease("r1/email", "proc-a", long)
        .await
        .unwrap()
        .unwrap();
    let key = "email:<m1@contoso.example>";
    let item_key = s
        .try_acquire_lease(key, "proc-a/m1", long)
        .await
        .unwrap()
        .unwrap();
    let mut commit = item("g1", "page-2", vec![mailbox.clone(), item_key.clone()]);
    commit.release = vec![item_key.clone()];
    assert_eq!(s.commit_item(&commit).await.unwrap().len(), 1);
    assert!(s.get_link(Kind::Email, "r1", "g1").await.unwrap().is_some());
    assert!(
        s.list_leases().await.unwrap().iter().all(|l| l.key != key),
        "the key lease went with the commit"
    );
    assert_eq!(lease_of(s, "r1/email").await.fence(), mailbox);
    let next = s
        .try_acquire_lease(key, "proc-a/m1-again", long)
        .await
        .unwrap()
        .expect("the key is free for the next item");

    // A commit under a fence it no longer holds writes nothing and releases nothing.
    let stale_mailbox = LeaseFence {
        holder: "proc-z".into(),
        ..mailbox.clone()
    };
    let mut refused = item("g2", "page-3", vec![stale_mailbox, next.clone()]);
    refused.release = vec![next.clone()];
    assert!(matches!(
        s.commit_item(&refused).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert_eq!(
        lease_of(s, key).await.fence(),
        next,
        "kept: nothing was written"
    );
    assert!(s.get_link(Kind::Email, "r1", "g2").await.unwrap().is_none());

    // The old holder's release (its fence is stale) leaves the new holder's lease alone.
    let mut late = item("g3", "page-3", vec![mailbox.clone()]);
    late.release = vec![item_key];
    s.commit_item(&late).await.unwrap();
    assert_eq!(lease_of(s, key).await.fence(), next);
}
