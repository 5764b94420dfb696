//! The executor without sockets: in-memory Graph and CRM behind the ports, the real SQLite
//! store. Interruptions are injected exactly where they hurt most.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use fakes::*;
use gc_store::{CrmId, Kind};
use gc_sync::email::model::{Address, Body};
use gc_sync::{EmailRules, MailboxOutcome, MailboxTarget, NoProgress, RunPolicy};

/// The three reps of a `world(3)`.
const ALL: [&str; 3] = [
    "rep1@contoso.example",
    "rep2@contoso.example",
    "rep3@contoso.example",
];

/// One message to all three reps, `<shared@x>`, in each of their sync folders.
fn put_shared(w: &World) {
    for t in &w.targets {
        w.graph.put(
            &t.owner.email,
            message(&format!("g-{}", t.owner.mailbox), "<shared@x>", &ALL),
        );
    }
}

#[tokio::test]
async fn shared_message_in_parallel_mailboxes_gives_one_activity() {
    let w = world(3).await;
    put_shared(&w);
    for t in &w.targets {
        w.graph.put(
            &t.owner.email,
            message(
                &format!("own-{}", t.owner.mailbox),
                &format!("<own{}@x>", t.owner.mailbox),
                &ALL,
            ),
        );
    }
    let reports = w.engine.run_all(&w.targets, 3, &NoProgress).await;
    assert!(
        reports
            .iter()
            .all(|r| r.outcome == MailboxOutcome::Complete),
        "{reports:#?}"
    );
    let acts = w.crm.acts.lock().unwrap().clone();
    assert_eq!(acts.len(), 4, "{acts:#?}");
    let shared = acts
        .iter()
        .find(|a| a.key.as_deref() == Some("<shared@x>"))
        .unwrap();
    let reps: Vec<_> = shared.participants.iter().filter_map(|p| p.rep).collect();
    for n in 1..=3 {
        assert!(reps.contains(&CrmId(n)), "{reps:?}");
    }
    assert_eq!(reports.iter().map(|r| r.adopted).sum::<u64>(), 2);
    for t in &w.targets {
        assert_eq!(w.graph.count(&t.owner.email, SYNC), 0);
        assert_eq!(w.graph.count(&t.owner.email, "Sync_Success"), 2);
    }
}

/// Mailboxes whose page lookups ran before a colleague created the shared message's
/// activity: the process that created it lets the others adopt it without reading it back;
/// another process (a fresh kind, nothing written by it) reads it.
#[tokio::test]
async fn a_colleagues_copy_adopts_what_this_process_just_wrote_without_reading_it() {
    let w = world(3).await;
    put_shared(&w);
    w.crm.pages_before_creates.store(true, Ordering::SeqCst);
    let first = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(first.created, 1, "{first:#?}");
    let reads = w.crm.reads.load(Ordering::SeqCst);
    let second = w.engine.run_mailbox(&w.targets[1], &NoProgress).await;
    assert_eq!(second.adopted, 1, "{second:#?}");
    assert_eq!(w.crm.reads.load(Ordering::SeqCst), reads, "read back");
    // Another process: what the first wrote is not in its memory, so it reads.
    let other = Filing::new(
        &w.graph,
        &w.crm,
        &w.store,
        EmailRules::default(),
        RunPolicy::default(),
        w.reps.clone(),
    );
    let third = other.run_mailbox(&w.targets[2], &NoProgress).await;
    assert_eq!(third.adopted, 1, "{third:#?}");
    assert!(w.crm.reads.load(Ordering::SeqCst) > reads);
    let acts = w.crm.acts.lock().unwrap().clone();
    assert_eq!(acts.len(), 1, "{acts:#?}");
}

#[tokio::test]
async fn interrupted_write_is_adopted_not_duplicated() {
    let w = world(1).await;
    let me = ["rep1@contoso.example"];
    w.graph
        .put("rep1@contoso.example", message("g1", "<k1@x>", &me));
    w.crm.die_after_insert.store(1, Ordering::SeqCst);
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!((r.delayed, r.outcome), (1, MailboxOutcome::Delayed));
    assert_eq!(
        w.graph.count("rep1@contoso.example", SYNC),
        1,
        "must stay in the sync folder"
    );
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!((r.adopted, r.created, r.delayed), (1, 0, 0), "{r:#?}");
    let acts = w.crm.acts.lock().unwrap().clone();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].key.as_deref(), Some("<k1@x>"));
    assert_eq!(
        acts[0].documents,
        vec!["a.txt".to_owned()],
        "documents completed"
    );
    assert_eq!(acts[0].participants.len(), 1);
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Success"), 1);
}

#[tokio::test]
async fn transient_move_failure_keeps_the_checkpoint_and_finishes_next_run() {
    let w = world(1).await;
    let me = ["rep1@contoso.example"];
    for i in 0..5 {
        w.graph.put(
            "rep1@contoso.example",
            message(&format!("g{i}"), &format!("<k{i}@x>"), &me),
        );
    }
    w.graph.fail_moves.store(1, Ordering::SeqCst);
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(r.outcome, MailboxOutcome::Delayed);
    assert_eq!(r.delayed, 1);
    let cursor = w.store.get_cursor("1", Kind::Email, SYNC).await.unwrap();
    assert!(
        cursor.is_none_or(|c| c.delta_link.is_none()),
        "the round must not be complete"
    );
    let r2 = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(r2.outcome, MailboxOutcome::Complete, "{r2:#?}");
    // The delayed message was committed before its move failed: next run only moves it.
    assert_eq!(r2.unchanged, 1, "{r2:#?}");
    assert_eq!(r.created + r2.created + r2.unchanged, 5, "{r:#?} {r2:#?}");
    assert_eq!(w.crm.acts.lock().unwrap().len(), 5);
    assert_eq!(w.graph.count("rep1@contoso.example", SYNC), 0);
}

#[tokio::test]
async fn expired_delta_re_enumerates_idempotently() {
    let w = world(1).await;
    let me = ["rep1@contoso.example"];
    w.graph
        .put("rep1@contoso.example", message("g1", "<k1@x>", &me));
    w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    w.graph
        .put("rep1@contoso.example", message("g2", "<k2@x>", &me));
    w.graph.expire_next_delta.store(true, Ordering::SeqCst);
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(
        (r.created, r.outcome),
        (1, MailboxOutcome::Complete),
        "{r:#?}"
    );
    assert_eq!(w.crm.acts.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn bcc_only_owner_is_skipped_and_notified() {
    let w = world(1).await;
    let mut m = message("g1", "<k1@x>", &["someone@else.example"]);
    m.bcc = vec![Address::new("rep1@contoso.example", None)];
    w.graph.put("rep1@contoso.example", m);
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(r.skipped, 1);
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Failure"), 1);
    assert!(w.crm.acts.lock().unwrap().is_empty());
    let notes = w.graph.notes.lock().unwrap().clone();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].1.starts_with("Not filed in CRM"));
}

#[tokio::test]
async fn mailbox_is_excluded_after_repeated_access_errors() {
    let graph = Arc::new(FakeGraph::default());
    let crm = Arc::new(FakeCrm::default());
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    store
        .upsert_mailbox(&gc_store::MailboxUpsert {
            rep_id: "1".into(),
            address: "rep1@contoso.example".into(),
            graph_user_id: None,
            enabled: true,
        })
        .await
        .unwrap();
    let policy = RunPolicy {
        exclusion: Some(gc_store::ExclusionPolicy {
            after_failures: 2,
            exclude_for: std::time::Duration::from_secs(3600),
        }),
        ..RunPolicy::default()
    };
    let engine = Filing::new(
        &graph,
        &crm,
        &store,
        EmailRules::default(),
        policy,
        Vec::new(),
    );
    let target = MailboxTarget {
        owner: owner(1),
        graph_user: owner(1).email,
    };
    graph.deny.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let r = engine.run_mailbox(&target, &NoProgress).await;
        assert_eq!(r.outcome, MailboxOutcome::Failed);
    }
    graph.deny.store(false, Ordering::SeqCst);
    let r = engine.run_mailbox(&target, &NoProgress).await;
    assert_eq!(r.outcome, MailboxOutcome::Excluded, "{r:#?}");
    assert!(r.error.unwrap().contains("403"));
}

#[tokio::test]
async fn a_systematic_crm_refusal_stops_the_mailbox_run() {
    let graph = Arc::new(FakeGraph::default());
    let crm = Arc::new(FakeCrm::default());
    crm.reject_all.store(true, Ordering::SeqCst);
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    // One item at a time: the limit is checked as items finish, and items already running
    // when it is reached still finish.
    let policy = RunPolicy {
        stop_after_errors: Some(2),
        item_concurrency: 1,
        ..RunPolicy::default()
    };
    let engine = Filing::new(
        &graph,
        &crm,
        &store,
        EmailRules::default(),
        policy,
        Vec::new(),
    );
    let target = MailboxTarget {
        owner: owner(1),
        graph_user: owner(1).email,
    };
    for i in 0..6 {
        graph.put(
            "rep1@contoso.example",
            message(
                &format!("g{i}"),
                &format!("<k{i}@x>"),
                &["rep1@contoso.example"],
            ),
        );
    }
    let r = engine.run_mailbox(&target, &NoProgress).await;
    assert_eq!((r.outcome, r.failed), (MailboxOutcome::Failed, 2), "{r:#?}");
    assert_eq!(graph.count("rep1@contoso.example", "Sync_Failure"), 2);
    assert_eq!(
        graph.count("rep1@contoso.example", SYNC),
        4,
        "the rest waits"
    );
    // One notice for the run's two failed messages.
    let notes = graph.notes.lock().unwrap().clone();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].1, "Not filed in CRM: 2 messages");
}

#[tokio::test]
async fn validate_license_leaves_an_unlicensed_reps_mailbox_untouched() {
    let graph = Arc::new(FakeGraph::default());
    let crm = Arc::new(FakeCrm::default());
    crm.refuse_impersonation.store(true, Ordering::SeqCst);
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    graph.put(
        "rep1@contoso.example",
        message("g1", "<k1@x>", &["rep1@contoso.example"]),
    );
    let target = MailboxTarget {
        owner: owner(1),
        graph_user: owner(1).email,
    };

    // Off: the setting is not evaluated, the message is filed.
    let engine = Filing::new(
        &graph,
        &crm,
        &store,
        EmailRules::default(),
        RunPolicy::default(),
        Vec::new(),
    );
    let r = engine.run_mailbox(&target, &NoProgress).await;
    assert_eq!(r.created, 1, "{r:#?}");

    // On: the refusal stops the mailbox before anything moves.
    graph.put(
        "rep1@contoso.example",
        message("g2", "<k2@x>", &["rep1@contoso.example"]),
    );
    let rules = EmailRules {
        validate_license: true,
        ..EmailRules::default()
    };
    let engine = Filing::new(
        &graph,
        &crm,
        &store,
        rules,
        RunPolicy::default(),
        Vec::new(),
    );
    let r = engine.run_mailbox(&target, &NoProgress).await;
    assert_eq!(r.outcome, MailboxOutcome::Failed, "{r:#?}");
    assert!(r.error.as_deref().unwrap().contains("licence"), "{r:#?}");
    assert_eq!(
        graph.count("rep1@contoso.example", SYNC),
        1,
        "the message waits"
    );
    assert_eq!(graph.count("rep1@contoso.example", "Sync_Failure"), 0);

    // Once CRM accepts the rep again, the message is filed.
    crm.refuse_impersonation.store(false, Ordering::SeqCst);
    let r = engine.run_mailbox(&target, &NoProgress).await;
    assert_eq!(r.created, 1, "{r:#?}");
}

#[tokio::test]
async fn an_insert_killed_before_its_key_is_found_by_its_marker_from_another_reps_copy() {
    for by_marker in [true, false] {
        let w = world(2).await;
        w.crm.by_marker.store(by_marker, Ordering::SeqCst);
        let all = ["rep1@contoso.example", "rep2@contoso.example"];
        w.graph
            .put("rep1@contoso.example", message("g1", "<shared@x>", &all));
        // Rep 2's copy of the same message arrived later and its body was changed by a
        // transport rule: time and text differ, the internetMessageId does not.
        let mut other = message("g2", "<shared@x>", &all);
        other.received = Some("2026-11-20T10:07:00Z".parse().unwrap());
        other.body = Some(Body {
            html: false,
            content: "[External] Body of <shared@x>".into(),
        });
        w.graph.put("rep2@contoso.example", other);
        w.crm.die_after_insert.store(1, Ordering::SeqCst);
        let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
        assert_eq!(r.delayed, 1, "{r:#?}");
        let r = w.engine.run_mailbox(&w.targets[1], &NoProgress).await;
        let r1 = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
        let acts = w.crm.acts.lock().unwrap().clone();
        if by_marker {
            assert_eq!((r.adopted, r.created), (1, 0), "{r:#?}");
            assert_eq!(r1.adopted, 1, "{r1:#?}");
            assert_eq!(acts.len(), 1, "one activity: {acts:#?}");
            assert_eq!(acts[0].key.as_deref(), Some("<shared@x>"));
            let reps: Vec<_> = acts[0].participants.iter().filter_map(|p| p.rep).collect();
            assert!(
                reps.contains(&CrmId(1)) && reps.contains(&CrmId(2)),
                "{reps:?}"
            );
        } else {
            // Without a marker field only an identical copy is recognised: this is why the
            // dialect should name one (docs/CRM-INTERFACE.md).
            assert_eq!(acts.len(), 2, "{acts:#?}");
        }
    }
}

#[tokio::test]
async fn a_tenant_error_mid_run_moves_nothing_and_charges_nobody() {
    let w = world(1).await;
    let me = ["rep1@contoso.example"];
    for i in 0..4 {
        w.graph.put(
            "rep1@contoso.example",
            message(&format!("g{i}"), &format!("<k{i}@x>"), &me),
        );
    }
    *w.crm.unknown_field_after.lock().unwrap() = Some(1);
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(r.outcome, MailboxOutcome::Stopped, "{r:#?}");
    assert!(r.error.as_deref().unwrap().contains("does not exist"));
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Failure"), 0);
    assert!(w.graph.notes.lock().unwrap().is_empty(), "nobody is told");
    assert_eq!(
        w.graph.count("rep1@contoso.example", SYNC)
            + w.graph.count("rep1@contoso.example", "Sync_Success"),
        4
    );
    assert!(w.graph.count("rep1@contoso.example", SYNC) >= 2);
    let m = w.store.get_mailbox("1").await.unwrap();
    assert!(m.is_none_or(|m| m.consecutive_failures == 0 && m.excluded_until.is_none()));
    // Fixed configuration: the next run files the rest, nothing twice.
    *w.crm.unknown_field_after.lock().unwrap() = None;
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(r.outcome, MailboxOutcome::Complete, "{r:#?}");
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Success"), 4);
    assert_eq!(w.crm.acts.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_malformed_item_fails_alone_and_the_page_goes_on() {
    let w = world(1).await;
    let me = ["rep1@contoso.example"];
    for i in 0..3 {
        w.graph.put(
            "rep1@contoso.example",
            message(&format!("g{i}"), &format!("<k{i}@x>"), &me),
        );
    }
    w.graph.broken.lock().unwrap().push("g1".into());
    let r = w.engine.run_mailbox(&w.targets[0], &NoProgress).await;
    assert_eq!(
        (r.created, r.failed, r.outcome),
        (2, 1, MailboxOutcome::Complete),
        "{r:#?}"
    );
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Failure"), 1);
    assert_eq!(w.graph.count("rep1@contoso.example", "Sync_Success"), 2);
    let notes = w.graph.notes.lock().unwrap().clone();
    assert_eq!(notes.len(), 1);
}

#[tokio::test]
async fn a_configuration_error_stops_the_run_before_anything_moves() {
    let w = world(3).await;
    w.crm.unknown_name.store(true, Ordering::SeqCst);
    for t in &w.targets {
        for i in 0..3 {
            w.graph.put(
                &t.owner.email,
                message(
                    &format!("{}-{i}", t.owner.mailbox),
                    &format!("<{}-{i}@x>", t.owner.mailbox),
                    &[t.owner.email.as_str()],
                ),
            );
        }
    }
    let reports = w.engine.run_all(&w.targets, 1, &NoProgress).await;
    let stopped: Vec<_> = reports
        .iter()
        .filter(|r| r.outcome == MailboxOutcome::Stopped)
        .collect();
    assert_eq!(stopped.len(), 1, "{reports:#?}");
    let reason = stopped[0].error.as_deref().unwrap();
    assert!(
        reason.contains("[crm.dialect.external_key] mailbox"),
        "{reason}"
    );
    for (t, r) in w.targets.iter().zip(&reports) {
        // nothing moved, nobody told, no item failed, no mailbox charged
        assert_eq!(w.graph.count(&t.owner.email, SYNC), 3, "{r:#?}");
        assert_eq!((r.failed, r.skipped, r.created), (0, 0, 0), "{r:#?}");
        assert!(
            matches!(
                r.outcome,
                MailboxOutcome::Stopped | MailboxOutcome::Cancelled
            ),
            "{r:#?}"
        );
    }
    assert!(w.graph.notes.lock().unwrap().is_empty());
    for m in w.store.list_mailboxes().await.unwrap() {
        assert_eq!(m.consecutive_failures, 0, "{m:?}");
    }
    let links = w
        .store
        .links_by_global_key(Kind::Email, "<1-0@x>")
        .await
        .unwrap();
    assert!(
        links.is_empty(),
        "no failed link for a configuration error: {links:?}"
    );
}
