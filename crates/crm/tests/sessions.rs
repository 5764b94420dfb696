//! One request at a time per user: CRM.interface (the sandbox) answers a second concurrent
//! request of the same rep with "User is already active" and runs different reps in
//! parallel; the client sends one rep's requests one after the other. And the duplicate
//! protection answers only the very same request again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use gc_crm::{CrmClient, ErrorKind};

/// Enabled reps with an address (impersonation targets).
async fn reps(c: &CrmClient, n: usize) -> Vec<String> {
    let reps = c.master().enabled_reps().await.unwrap();
    let out: Vec<String> = reps.into_iter().filter_map(|r| r.email).take(n).collect();
    assert_eq!(out.len(), n, "not enough enabled reps");
    out
}

fn without_retries(env: &Env) -> CrmClient {
    client_with_retries(env, 1)
}

async fn join<T: Send + 'static>(
    futs: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_client_sends_one_reps_requests_one_after_the_other() {
    let env = env().await;
    let c = without_retries(&env);
    let me = reps(&c, 1).await.remove(0);
    env.sandbox.set_hold(Duration::from_millis(40));
    // six requests for one rep at once, from clones of one client, without retries: the
    // sandbox would refuse every overlapping one
    let results = join(
        (0..6)
            .map(|_| {
                let (c, me) = (c.clone(), me.clone());
                async move { c.as_rep(&me).ping().await }
            })
            .collect(),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stats = env.sandbox.stats();
    assert_eq!(stats.busy_answers, 0, "{stats:?}");
    assert_eq!(stats.in_flight_peak, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn different_reps_and_the_master_user_run_in_parallel() {
    let env = env().await;
    let c = without_retries(&env);
    let three = reps(&c, 3).await;
    env.sandbox.set_hold(Duration::from_millis(500));
    let mut futs: Vec<_> = three
        .into_iter()
        .map(|me| {
            let c = c.clone();
            tokio::spawn(async move { c.as_rep(&me).ping().await })
        })
        .collect();
    let m = c.clone();
    futs.push(tokio::spawn(async move { m.master().ping().await }));
    for f in futs {
        f.await.unwrap().unwrap();
    }
    let stats = env.sandbox.stats();
    assert_eq!(stats.busy_answers, 0, "{stats:?}");
    // requests were held at the same time: the client did not make one wait for another
    // (all four, unless the machine is too busy to start them within the hold)
    assert!(stats.in_flight_peak >= 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sandbox_refuses_a_second_concurrent_request_of_the_same_rep() {
    let env = env().await;
    // two separate clients (as two processes would be) do not share their turns
    let (a, b) = (without_retries(&env), without_retries(&env));
    let two = reps(&a, 2).await;
    env.sandbox.set_hold(Duration::from_millis(1000));
    let me = two[0].clone();
    let (sa, sb, sc) = (a.as_rep(&me), b.as_rep(&me), b.as_rep(&two[1]));
    let (x, y, z) = tokio::join!(sa.ping(), sb.ping(), sc.ping());
    // one of the two requests for the same rep ran, the other was refused
    let same = [x, y];
    assert_eq!(same.iter().filter(|r| r.is_ok()).count(), 1, "{same:?}");
    let err = same.into_iter().find_map(Result::err).unwrap();
    assert_eq!(err.kind(), ErrorKind::UserAlreadyActive, "{err}");
    // another rep is not affected
    z.unwrap();
    assert_eq!(env.sandbox.stats().busy_answers, 1);
}

#[tokio::test]
async fn only_the_same_request_is_answered_twice() {
    let env = env().await;
    let body = |pwd: &str, company: &str| {
        format!(
            "<request reqid=\"dup-1\" user=\"OCSU\" pwd=\"{}\"><insert><fields><Company><Company>{company}</Company></Company></fields></insert></request>",
            gc_crm::dom::escape_attr(pwd)
        )
    };
    let count = |name: &'static str| {
        let sandbox = env.sandbox.clone();
        async move {
            sandbox
                .records("Company")
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.fields.get("Company").map(String::as_str) == Some(name))
                .count()
        }
    };
    let first = env.sandbox.handle(&body(PASSWORD, "Dup Ltd")).await;
    let second = env.sandbox.handle(&body(PASSWORD, "Dup Ltd")).await;
    assert_eq!(first, second);
    assert!(first.contains("type=\"insert\""), "{first}");
    assert_eq!(env.sandbox.stats().duplicates, 1);
    assert_eq!(count("Dup Ltd").await, 1);

    // the same request id with another body is another request: executed, with its own answer
    let other = env.sandbox.handle(&body(PASSWORD, "Other Ltd")).await;
    assert!(other.contains("type=\"insert\""), "{other}");
    assert_ne!(other, first);
    assert_eq!(count("Other Ltd").await, 1);
    let stats = env.sandbox.stats();
    assert_eq!((stats.duplicates, stats.reqid_reused), (1, 1), "{stats:?}");

    // the same id and body for another session (impersonating a rep) is executed too
    let rep = rep_email(&env);
    let as_rep = format!(
        "<request reqid=\"dup-1\" user=\"OCSU\" pwd=\"{}\" impersonate=\"email={rep}\"><insert><fields><Company><Company>Dup Ltd</Company></Company></fields></insert></request>",
        gc_crm::dom::escape_attr(PASSWORD)
    );
    assert!(
        env.sandbox
            .handle(&as_rep)
            .await
            .contains("type=\"insert\"")
    );
    assert_eq!(count("Dup Ltd").await, 2);

    // a replayed id without the password gets nothing
    let replay = env.sandbox.handle(&body("guess", "Dup Ltd")).await;
    assert!(replay.contains("code=\"401\""), "{replay}");
    assert!(!replay.contains("type=\"insert\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_size_and_concurrency_are_the_configured_ones() {
    use gc_crm::{NewActivity, NewParticipant, ParticipantRole};
    let env = env().await;
    let mut cfg = client(&env).config().clone();
    cfg.retry.max_attempts = 1;
    cfg.concurrency = 2;
    cfg.write_batch = 4;
    let c = CrmClient::new(cfg).unwrap();
    // four reps at once, each request held: never more than two in flight
    let four = reps(&c, 4).await;
    env.sandbox.set_hold(Duration::from_millis(300));
    let results = join(
        four.into_iter()
            .map(|me| {
                let c = c.clone();
                async move { c.as_rep(&me).ping().await }
            })
            .collect(),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(env.sandbox.stats().in_flight_peak, 2);
    env.sandbox.set_hold(Duration::ZERO);
    // nine participants in requests of at most four writes
    let s = c.master();
    let act = s
        .insert_activity(&NewActivity::new(
            "E-mail",
            "batched",
            jiff::civil::date(2026, 11, 27),
        ))
        .await
        .unwrap();
    let parts: Vec<NewParticipant> = (0..9)
        .map(|i| NewParticipant {
            role: ParticipantRole::Informational,
            email: format!("p{i}@x.example"),
            person: None,
            rep: None,
            status: None,
        })
        .collect();
    let before = env.sandbox.stats().requests;
    let res = s.add_participants(act, &parts).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    assert_eq!(env.sandbox.stats().requests - before, 3);
    assert_eq!(env.sandbox.stats().max_writes_per_request, 4);
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_resent_only_under_duplicate_protection() {
    use gc_sandbox::monitor::{Target, Tripwire, When};
    let env = env().await;
    let write_cut = |env: &common::Env| {
        env.sandbox.monitor().arm_tripwire(
            Tripwire {
                target: Target::CrmWrite,
                nth: 1,
                when: When::BeforeResponse,
            },
            || {},
        )
    };
    async fn count(env: &common::Env) -> usize {
        env.sandbox
            .records("Contact")
            .await
            .unwrap()
            .iter()
            .filter(|r| r.fields.values().any(|v| v == "lost answer"))
            .count()
    }
    let activity =
        gc_crm::NewActivity::new("E-mail", "lost answer", jiff::civil::date(2026, 11, 27));

    // With the protection (the default), the same request is re-sent and answered from the
    // first execution: one record, and the caller gets its id.
    let c = client(&env);
    let wire = write_cut(&env);
    c.master().insert_activity(&activity).await.unwrap();
    assert!(wire.fired());
    assert_eq!(count(&env).await, 1);

    // Without it, the write is not re-sent: the caller hears of a transport error and
    // nothing is written twice.
    let mut cfg = c.config().clone();
    cfg.duplicate_protection = false;
    let c = CrmClient::new(cfg).unwrap();
    let wire = write_cut(&env);
    let e = c.master().insert_activity(&activity).await.unwrap_err();
    assert!(wire.fired());
    assert!(e.is_retryable(), "{e}");
    assert_eq!(count(&env).await, 2, "executed once, not re-sent");
    // a query is still re-sent after a lost answer (it changes nothing)
    let _wire = env.sandbox.monitor().arm_tripwire(
        Tripwire {
            target: Target::Crm {
                command: Some(gc_sandbox::monitor::CrmCommand::Query),
                table: None,
            },
            nth: 1,
            when: When::BeforeResponse,
        },
        || {},
    );
    c.master().enabled_reps().await.unwrap();
}

/// The first nested insert of a process is read back once (see the crate's `nested` module),
/// and every nested insert made meanwhile waits for that answer. The read goes as the master
/// user, beside the rep's turn: it does not queue behind what the rep's other items asked for
/// while the insert ran (at a first sync, that held every item of the tenant).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_nested_insert_is_read_back_beside_the_reps_turn() {
    use gc_crm::{NewActivity, NewExternalKey};
    let env = env().await;
    let c = without_retries(&env);
    let me = reps(&c, 1).await.remove(0);
    let mut a = NewActivity::new("E-mail", "read back", jiff::civil::date(2026, 12, 7));
    a.external_key = Some(NewExternalKey {
        ext_system: None,
        // what e-mail filing writes for a message
        content_type: "application/x-mmRecord".into(),
        ext_key: "<read-back@example.test>".into(),
        mailbox: Some(me.clone()),
    });
    env.sandbox.set_hold(Duration::from_millis(400));
    let before = env.sandbox.stats().requests;
    let insert = {
        let (c, me) = (c.clone(), me.clone());
        tokio::spawn(async move { c.as_rep(&me).insert_activity(&a).await })
    };
    // The insert is in the sandbox: two more requests of the same rep queue behind it.
    while env.sandbox.stats().requests == before {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let pings: Vec<_> = (0..2)
        .map(|_| {
            let (c, me) = (c.clone(), me.clone());
            tokio::spawn(async move { c.as_rep(&me).ping().await })
        })
        .collect();
    let id = insert.await.unwrap().unwrap();
    // Confirmed while the first ping ran, before the second could start.
    assert!(
        !pings.iter().all(tokio::task::JoinHandle::is_finished),
        "the read-back waited for the rep's queued requests"
    );
    for p in pings {
        p.await.unwrap().unwrap();
    }
    env.sandbox.set_hold(Duration::ZERO);
    let keys = c
        .as_rep(&me)
        .find_external_keys(None, &["<read-back@example.test>".to_owned()])
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].record.as_ref().map(|(_, r)| *r), Some(id));
    assert_eq!(env.sandbox.stats().busy_answers, 0);
}
