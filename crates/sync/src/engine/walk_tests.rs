//! The unit tests of the walk: runs of a test kind over scripted pages and faults, and where
//! each leaves the checkpoint. Kept beside the walk, as the e-mail kind's decision keeps its
//! tests, so that the walk itself reads in one file.

#![allow(clippy::unwrap_used)]
use gc_store::Kind;
use tokio_util::sync::CancellationToken;

use crate::engine::testkit::{Fault, TestKind, engine, target};
use crate::engine::{MailboxOutcome, NoProgress, RunPolicy};

#[tokio::test]
async fn the_checkpoint_advances_only_over_finished_pages() {
    let (e, store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
    k.fault("c", Fault::Transient(1));
    let c = CancellationToken::new();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(
        (r.created, r.delayed, r.outcome),
        (2, 1, MailboxOutcome::Delayed)
    );
    let cur = store
        .get_cursor("1", Kind::Task, "list")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cur.next_link.as_deref(),
        Some("page:1"),
        "page 0 done, page 1 not"
    );
    assert_eq!(cur.delta_link, None);
    // Next run: only the second page is read again, c is done, the round completes.
    k.reads.lock().unwrap().clear();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(
        (r.created, r.outcome),
        (1, MailboxOutcome::Complete),
        "{r:?}"
    );
    assert_eq!(*k.reads.lock().unwrap(), vec![Some("page:1".to_owned())]);
    let cur = store
        .get_cursor("1", Kind::Task, "list")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cur.delta_link.as_deref(), Some("done:2"));
    assert_eq!(k.applied(), vec!["a", "b", "c"]);
}

#[tokio::test]
async fn a_kind_that_reads_ahead_has_the_next_page_read_before_the_items_are_written() {
    let events = |read_ahead: bool| async move {
        let (e, store) = engine(RunPolicy::default()).await;
        let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
        k.script.lock().unwrap().read_ahead = read_ahead;
        let c = CancellationToken::new();
        let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
        assert_eq!(
            (r.created, r.outcome),
            (3, MailboxOutcome::Complete),
            "{r:?}"
        );
        let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
        assert_eq!(cur.unwrap().delta_link.as_deref(), Some("done:2"));
        k.events.lock().unwrap().clone()
    };
    assert_eq!(
        events(true).await,
        ["read start", "read page:1", "apply a", "apply b", "apply c"]
    );
    assert_eq!(
        events(false).await,
        ["read start", "apply a", "apply b", "read page:1", "apply c"]
    );
}

#[tokio::test]
async fn a_page_after_a_delayed_item_is_read_again_next_run() {
    let (e, store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a"], &["b"]]);
    k.script.lock().unwrap().read_ahead = true;
    k.fault("a", Fault::Transient(1));
    let c = CancellationToken::new();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    // The second page was read, and its item worked, while "a" failed; the checkpoint
    // stays before the first page.
    assert_eq!((r.created, r.delayed), (1, 1));
    assert_eq!(*k.reads.lock().unwrap(), [None, Some("page:1".to_owned())]);
    let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
    assert!(cur.is_none_or(|c| c.next_link.is_none() && c.delta_link.is_none()));
    // Next run: both pages again, "b" recognised by its link, nothing written twice.
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(
        (r.created, r.unchanged, r.outcome),
        (1, 1, MailboxOutcome::Complete)
    );
    assert_eq!(k.applied(), ["b", "a"]);
    let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
    assert_eq!(cur.unwrap().delta_link.as_deref(), Some("done:2"));
}

#[tokio::test]
async fn the_next_pages_items_start_while_a_slow_item_of_the_page_before_runs() {
    let (e, store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a", "slow"], &["c"], &["d"]]);
    k.script.lock().unwrap().read_ahead = true;
    k.fault("slow", Fault::Slow(std::time::Duration::from_millis(1000)));
    let c = CancellationToken::new();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(
        (r.created, r.outcome),
        (4, MailboxOutcome::Complete),
        "{r:?}"
    );
    // "c" is written while "slow" still runs; the third page is read only once the first
    // is done (two pages in hand at most).
    assert_eq!(
        *k.events.lock().unwrap(),
        [
            "read start",
            "read page:1",
            "apply a",
            "apply c",
            "apply slow",
            "read page:2",
            "apply d"
        ]
    );
    let cur = store.get_cursor("1", Kind::Task, "list").await.unwrap();
    assert_eq!(cur.unwrap().delta_link.as_deref(), Some("done:3"));
}

#[tokio::test]
async fn an_expired_checkpoint_is_walked_again_from_the_start_once() {
    let (e, _store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a"], &["b"]]);
    let c = CancellationToken::new();
    e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    k.script.lock().unwrap().expire_once = true;
    k.reads.lock().unwrap().clear();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(r.outcome, MailboxOutcome::Complete);
    // From the stored checkpoint (expired), then from the start; linked items are
    // recognised, nothing is written twice.
    let reads = k.reads.lock().unwrap().clone();
    assert_eq!(reads[0].as_deref(), Some("done:2"));
    assert_eq!(reads[1], None);
    assert_eq!((r.created, r.unchanged), (0, 2));
    assert_eq!(k.applied(), vec!["a", "b"]);
}

#[tokio::test]
async fn a_reconciling_walk_from_the_start_hands_over_what_vanished() {
    let (e, store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a", "b"], &["c"]]);
    k.script.lock().unwrap().reconcile = true;
    let c = CancellationToken::new();
    e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert!(k.vanished.lock().unwrap().is_empty());
    // "b" disappears while the checkpoint expires: only a full enumeration can tell.
    {
        let mut s = k.script.lock().unwrap();
        s.pages = vec![vec!["a".into()], vec!["c".into()]];
        s.expire_once = true;
    }
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(r.outcome, MailboxOutcome::Complete);
    assert_eq!(*k.vanished.lock().unwrap(), vec!["b".to_owned()]);
    // A walk from a valid checkpoint does not reconcile.
    e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(k.vanished.lock().unwrap().len(), 1);
    assert!(
        store
            .get_cursor("1", Kind::Task, "list")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_reconciling_enumeration_with_a_delay_stores_no_checkpoint() {
    let (e, store) = engine(RunPolicy::default()).await;
    let k = TestKind::with_pages(&[&["a"], &["b"]]);
    k.script.lock().unwrap().reconcile = true;
    k.fault("a", Fault::Transient(1));
    let c = CancellationToken::new();
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!((r.created, r.delayed), (1, 1));
    assert!(
        store
            .get_cursor("1", Kind::Task, "list")
            .await
            .unwrap()
            .is_none()
    );
    let r = e.run_mailbox(&k, &target(1), &NoProgress, &c).await;
    assert_eq!(
        (r.created, r.unchanged, r.outcome),
        (1, 1, MailboxOutcome::Complete)
    );
    assert!(
        store
            .get_cursor("1", Kind::Task, "list")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn stop_after_errors_leaves_the_rest_for_the_next_run() {
    let policy = RunPolicy {
        stop_after_errors: Some(2),
        ..RunPolicy::default()
    };
    let (e, _store) = engine(policy).await;
    let k = TestKind::with_pages(&[&["a", "b"], &["c", "d"], &["e"]]);
    for i in ["a", "b", "c", "d"] {
        k.fault(i, Fault::Always(crate::ErrorClass::Item));
    }
    let r = e
        .run_mailbox(&k, &target(1), &NoProgress, &CancellationToken::new())
        .await;
    assert_eq!((r.failed, r.outcome), (2, MailboxOutcome::Failed));
    assert!(r.error.unwrap().contains("stop_after_errors"));
    assert!(!k.finished().contains_key("c"));
}
