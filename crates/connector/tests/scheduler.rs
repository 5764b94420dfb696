//! The scheduler against a real SQLite store, with a fake tenant and fake runners (no
//! sockets): due times are stored and survive a restart, pauses hold, a mailbox with a
//! backlog does not starve others, a tenant-level error stops every run without charging a
//! mailbox, a pause stops a running cycle, and shutdown abandons a cycle that does not stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gc_store::{Kind, MailboxUpsert, StateStore};
use gc_sync::email::model::Owner;
use gc_sync::mailboxes::MailboxList;
use gc_sync::{MailboxReport, MailboxTarget};
use graph_connector::daemon::runner::{Cycle, KindRunner, Roster, Tenant, TenantError};
use graph_connector::daemon::scheduler::{Scheduler, Settings};
use graph_connector::daemon::status::Status;
use tokio_util::sync::CancellationToken;

fn target(rep: &str) -> MailboxTarget {
    MailboxTarget {
        owner: Owner {
            mailbox: rep.into(),
            rep_crm_id: gc_store::CrmId(1),
            rep_number: rep.into(),
            name: rep.into(),
            email: format!("{rep}@contoso.example"),
            addresses: vec![format!("{rep}@contoso.example")],
            language: None,
            kinds: gc_sync::engine::RepKinds::ALL,
            settings: Default::default(),
        },
        graph_user: format!("{rep}@contoso.example"),
    }
}

struct FakeTenant {
    reps: Vec<String>,
    gate: Mutex<Result<(), String>>,
}

#[async_trait]
impl Tenant for FakeTenant {
    async fn gate(&self) -> Result<(), TenantError> {
        self.gate.lock().unwrap().clone().map_err(TenantError)
    }
    async fn refresh(&self) -> Result<Roster, TenantError> {
        Ok(Roster {
            list: MailboxList {
                targets: self.reps.iter().map(|r| target(r)).collect(),
                ..Default::default()
            },
            refreshed_at: Some(jiff::Timestamp::now()),
        })
    }
}

/// Records every run; `backlog` mailboxes always report work left; `slow` mailboxes wait for
/// their stop request (or forever with `ignore_stop`).
#[derive(Default)]
struct FakeRunner {
    calls: Mutex<Vec<String>>,
    /// When each call of `calls` started.
    started: Mutex<Vec<std::time::Instant>>,
    stopped: Mutex<Vec<String>>,
    backlog: Vec<String>,
    slow: Vec<String>,
    ignore_stop: bool,
    /// Mailboxes whose probes say nothing changed, and how many were asked.
    idle: Vec<String>,
    probed: Mutex<usize>,
}

#[async_trait]
impl KindRunner for FakeRunner {
    fn kind(&self) -> Kind {
        Kind::Email
    }
    fn mailboxes<'r>(&self, roster: &'r Roster) -> Vec<&'r MailboxTarget> {
        roster.list.targets.iter().collect()
    }
    async fn idle(&self, _roster: &Roster, targets: &[MailboxTarget]) -> Vec<bool> {
        *self.probed.lock().unwrap() += targets.len();
        targets
            .iter()
            .map(|t| self.idle.contains(&t.owner.mailbox))
            .collect()
    }
    async fn run(
        &self,
        _roster: &Roster,
        target: &MailboxTarget,
        stop: CancellationToken,
    ) -> Result<Cycle, TenantError> {
        let rep = target.owner.mailbox.clone();
        self.calls.lock().unwrap().push(rep.clone());
        self.started.lock().unwrap().push(std::time::Instant::now());
        if self.slow.contains(&rep) {
            if self.ignore_stop {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            } else {
                stop.cancelled().await;
                self.stopped.lock().unwrap().push(rep.clone());
            }
        }
        let backlog = if self.backlog.contains(&rep) { 5 } else { 0 };
        let mut report = MailboxReport::new(target.owner.email.clone(), self.kind());
        report.created = 1;
        Ok(Cycle { report, backlog })
    }
}

async fn store_with(reps: &[&str]) -> (tempfile::TempDir, Arc<dyn StateStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = gc_store::open(&url).await.unwrap();
    for r in reps {
        store
            .upsert_mailbox(&MailboxUpsert {
                rep_id: (*r).into(),
                address: format!("{r}@contoso.example"),
                graph_user_id: None,
                enabled: true,
            })
            .await
            .unwrap();
    }
    (dir, store)
}

fn settings(parallel: usize, interval: Duration) -> Settings {
    Settings {
        parallel,
        intervals: [(Kind::Email, interval)].into_iter().collect(),
        floor: Duration::ZERO,
        soon: Duration::ZERO,
        tenant_retry: Duration::from_millis(100),
        idle_wake: Duration::from_millis(100),
        ..Settings::default()
    }
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    status: Arc<Status>,
}

fn start(
    tenant: Arc<FakeTenant>,
    runner: Arc<FakeRunner>,
    store: Arc<dyn StateStore>,
    settings: Settings,
    deadline: Duration,
) -> Running {
    let status = Status::new();
    let s = Scheduler::new(tenant, vec![runner], store, status.clone(), None, settings);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(s.run(shutdown.clone(), deadline));
    Running {
        shutdown,
        task,
        status,
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the scheduler stops")
            .unwrap();
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The scheduler over mailboxes `a`, `b` and `c`, whose probes say nothing changed for
/// `idle`; it gives a stopped cycle a second.
async fn start_abc(
    idle: &[&str],
    settings: Settings,
) -> (
    tempfile::TempDir,
    Arc<dyn StateStore>,
    Arc<FakeRunner>,
    Running,
) {
    let reps = ["a", "b", "c"];
    let (dir, store) = store_with(&reps).await;
    let runner = Arc::new(FakeRunner {
        idle: idle.iter().map(|m| (*m).to_owned()).collect(),
        ..FakeRunner::default()
    });
    let r = start(
        tenant(&reps),
        runner.clone(),
        store.clone(),
        settings,
        Duration::from_secs(1),
    );
    (dir, store, runner, r)
}

/// Whether every mailbox gets an e-mail due time within two seconds.
async fn all_scheduled(store: &Arc<dyn StateStore>) -> bool {
    for _ in 0..100 {
        let ms = store.list_mailboxes().await.unwrap();
        if ms.iter().all(|m| m.next_due.contains_key(&Kind::Email)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn tenant(reps: &[&str]) -> Arc<FakeTenant> {
    Arc::new(FakeTenant {
        reps: reps.iter().map(|r| (*r).to_owned()).collect(),
        gate: Mutex::new(Ok(())),
    })
}

#[tokio::test]
async fn due_times_are_stored_and_survive_a_restart() {
    let (_dir, store) = store_with(&["a", "b"]).await;
    let runner = Arc::new(FakeRunner::default());
    let hour = Duration::from_secs(3600);
    let r = start(
        tenant(&["a", "b"]),
        runner.clone(),
        store.clone(),
        settings(4, hour),
        Duration::from_secs(1),
    );
    until("both mailboxes ran", || {
        runner.calls.lock().unwrap().len() == 2
    })
    .await;
    r.stop().await;
    let now = jiff::Timestamp::now();
    for rep in ["a", "b"] {
        let m = store.get_mailbox(rep).await.unwrap().unwrap();
        let due = m.next_due[&Kind::Email];
        let ahead = now.duration_until(due).as_secs();
        assert!((3500..=3600).contains(&ahead), "{rep} due in {ahead} s");
        let k = &m.kinds[&Kind::Email];
        assert_eq!(k.last_outcome, Some(gc_store::RunOutcome::Success));
        assert_eq!(k.backlog, Some(0));
    }
    // A new process on the same store: nothing is due for an hour.
    let runner2 = Arc::new(FakeRunner::default());
    let r = start(
        tenant(&["a", "b"]),
        runner2.clone(),
        store.clone(),
        settings(4, hour),
        Duration::from_secs(1),
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(runner2.calls.lock().unwrap().is_empty());
    // "sync now" (due now + wake-up) runs it at once.
    store
        .set_next_due("b", Kind::Email, jiff::Timestamp::now())
        .await
        .unwrap();
    r.status.wake();
    until("b ran after sync now", || {
        runner2.calls.lock().unwrap().as_slice() == ["b"]
    })
    .await;
    r.stop().await;
}

#[tokio::test]
async fn a_backlog_does_not_starve_other_mailboxes() {
    let (_dir, store) = store_with(&["a", "b", "c"]).await;
    let runner = Arc::new(FakeRunner {
        backlog: vec!["a".into()],
        ..Default::default()
    });
    let r = start(
        tenant(&["a", "b", "c"]),
        runner.clone(),
        store.clone(),
        settings(1, Duration::from_secs(3600)),
        Duration::from_secs(1),
    );
    until("four runs", || runner.calls.lock().unwrap().len() >= 4).await;
    r.stop().await;
    let calls = runner.calls.lock().unwrap().clone();
    // One slot: a (backlog, due again at once) waits behind b and c, which waited longer.
    assert_eq!(&calls[..4], ["a", "b", "c", "a"], "{calls:?}");
    let a = store.get_mailbox("a").await.unwrap().unwrap();
    assert_eq!(a.kinds[&Kind::Email].backlog, Some(5));
}

#[tokio::test]
async fn paused_mailboxes_and_kinds_wait_and_refresh_does_not_resume_them() {
    let (_dir, store) = store_with(&["a", "b", "c"]).await;
    store.set_paused("a", None, true).await.unwrap();
    store
        .set_paused("b", Some(Kind::Email), true)
        .await
        .unwrap();
    let runner = Arc::new(FakeRunner::default());
    let r = start(
        tenant(&["a", "b", "c"]),
        runner.clone(),
        store.clone(),
        settings(4, Duration::from_secs(3600)),
        Duration::from_secs(1),
    );
    until("c ran", || {
        runner.calls.lock().unwrap().contains(&"c".to_owned())
    })
    .await;
    // Refresh from CRM upserts the mailboxes again: the pauses hold.
    r.status.request_refresh();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runner.calls.lock().unwrap().as_slice(), ["c"]);
    store
        .set_paused("b", Some(Kind::Email), false)
        .await
        .unwrap();
    r.status.wake();
    until("b ran after resume", || {
        runner.calls.lock().unwrap().contains(&"b".to_owned())
    })
    .await;
    assert!(!runner.calls.lock().unwrap().contains(&"a".to_owned()));
    r.stop().await;
}

#[tokio::test]
async fn a_tenant_error_stops_every_run_and_is_not_charged_to_a_mailbox() {
    let (_dir, store) = store_with(&["a", "b"]).await;
    let t = tenant(&["a", "b"]);
    *t.gate.lock().unwrap() = Err("no access token: AADSTS7000222 the secret expired".into());
    let runner = Arc::new(FakeRunner::default());
    let r = start(
        t.clone(),
        runner.clone(),
        store.clone(),
        settings(4, Duration::from_secs(3600)),
        Duration::from_secs(1),
    );
    until("the tenant error is recorded", || {
        r.status.tenant().error.is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(runner.calls.lock().unwrap().is_empty());
    assert!(!r.status.tenant().ok);
    for rep in ["a", "b"] {
        let m = store.get_mailbox(rep).await.unwrap().unwrap();
        assert_eq!(m.consecutive_failures, 0);
        assert!(m.last_error_text.is_none() && m.kinds.is_empty());
    }
    assert!(store.list_runs(None, 10).await.unwrap().is_empty());
    // Fixed: runs start by themselves.
    *t.gate.lock().unwrap() = Ok(());
    until("runs after the fix", || {
        runner.calls.lock().unwrap().len() == 2
    })
    .await;
    assert!(r.status.tenant().ok);
    r.stop().await;
}

#[tokio::test]
async fn a_pause_asks_the_running_cycle_to_stop() {
    let (_dir, store) = store_with(&["a"]).await;
    let runner = Arc::new(FakeRunner {
        slow: vec!["a".into()],
        ..Default::default()
    });
    let r = start(
        tenant(&["a"]),
        runner.clone(),
        store.clone(),
        settings(2, Duration::from_secs(3600)),
        Duration::from_secs(1),
    );
    until("a runs", || r.status.is_running("a", Kind::Email)).await;
    // As `graph-connector mailbox pause` does: only the store changes.
    store.set_paused("a", None, true).await.unwrap();
    until("the run stopped", || {
        runner.stopped.lock().unwrap().as_slice() == ["a"]
    })
    .await;
    r.stop().await;
}

#[tokio::test]
async fn shutdown_abandons_a_cycle_that_does_not_stop() {
    let (_dir, store) = store_with(&["a", "b"]).await;
    let runner = Arc::new(FakeRunner {
        slow: vec!["a".into()],
        ignore_stop: true,
        ..Default::default()
    });
    let r = start(
        tenant(&["a", "b"]),
        runner.clone(),
        store.clone(),
        settings(2, Duration::from_secs(3600)),
        Duration::from_millis(300),
    );
    until("a runs and b finished", || {
        r.status.is_running("a", Kind::Email) && runner.calls.lock().unwrap().len() == 2
    })
    .await;
    let started = std::time::Instant::now();
    r.stop().await;
    eprintln!("stopped in {:?} (deadline 300 ms)", started.elapsed());
    // The abandoned run recorded nothing; b's run did.
    let a = store.get_mailbox("a").await.unwrap().unwrap();
    assert!(a.kinds.is_empty());
    let b = store.get_mailbox("b").await.unwrap().unwrap();
    assert!(b.kinds[&Kind::Email].last_run_at.is_some());
}

#[tokio::test]
async fn mailboxes_whose_probes_say_nothing_changed_are_done_without_a_run() {
    let hour = Duration::from_secs(3600);
    let (_dir, store, runner, r) = start_abc(&["a", "c"], settings(1, hour)).await;
    until("b ran", || runner.calls.lock().unwrap().len() == 1).await;
    let scheduled = all_scheduled(&store).await;
    r.stop().await;
    assert!(scheduled, "every mailbox got its next due time");
    // One slot, yet all three were dealt with in one pass: the idle ones took no slot.
    assert_eq!(*runner.calls.lock().unwrap(), vec!["b".to_owned()]);
    assert_eq!(*runner.probed.lock().unwrap(), 3, "asked together, once");
    let now = jiff::Timestamp::now();
    for rep in ["a", "c"] {
        let m = store.get_mailbox(rep).await.unwrap().unwrap();
        let ahead = now.duration_until(m.next_due[&Kind::Email]).as_secs();
        assert!(
            (3500..=3600).contains(&ahead),
            "{rep} due again after the interval: {ahead}"
        );
    }
}

/// `a`, `b` and `c` after their first pass: all idle by their probes, due again in an hour,
/// no run; notified pairs wait `gather` for each other.
async fn idle_for_an_hour(
    gather: Duration,
    floor: Duration,
) -> (
    tempfile::TempDir,
    Arc<dyn StateStore>,
    Arc<FakeRunner>,
    Running,
) {
    let hour = Duration::from_secs(3600);
    let settings = Settings {
        idle_wake: hour,
        gather,
        floor,
        ..settings(4, hour)
    };
    let (dir, store, runner, r) = start_abc(&["a", "b", "c"], settings).await;
    until("the first pass's probes", || {
        *runner.probed.lock().unwrap() == 3
    })
    .await;
    assert!(all_scheduled(&store).await);
    (dir, store, runner, r)
}

/// A notification starts its pair at once, even when its probe would say nothing changed
/// (Graph may notify before its delta has the change), and without a regular pass: no probe
/// is asked, the other mailboxes are not looked at.
#[tokio::test]
async fn a_notified_pair_runs_at_once_without_a_pass_over_every_mailbox() {
    let (_dir, store, runner, r) = idle_for_an_hour(Duration::ZERO, Duration::ZERO).await;
    // What the notification endpoint does for `b`: due now, then marked.
    let now = store.now().await.unwrap();
    store.set_next_due("b", Kind::Email, now).await.unwrap();
    r.status.notify_change("b", Kind::Email);
    until("b ran", || runner.calls.lock().unwrap().len() == 1).await;
    assert_eq!(*runner.calls.lock().unwrap(), vec!["b".to_owned()]);
    assert_eq!(
        *runner.probed.lock().unwrap(),
        3,
        "no pass asked the probes again"
    );
    assert!(
        !r.status.was_notified("b", Kind::Email),
        "the run took the mark"
    );
    // A paused mailbox's notified pair waits (and keeps its mark for when it is resumed).
    store.set_paused("c", None, true).await.unwrap();
    store.set_next_due("c", Kind::Email, now).await.unwrap();
    r.status.notify_change("c", Kind::Email);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runner.calls.lock().unwrap().len(), 1);
    assert!(r.status.was_notified("c", Kind::Email));
    r.stop().await;
}

/// With a gathering window, a notification waits for the others of that moment, and their
/// pairs start together when the window ends.
#[tokio::test]
async fn notified_pairs_start_together_after_the_gathering_window() {
    let gather = Duration::from_secs(2);
    let (_dir, store, runner, r) = idle_for_an_hour(gather, Duration::ZERO).await;
    let now = store.now().await.unwrap();
    for rep in ["a", "b"] {
        store.set_next_due(rep, Kind::Email, now).await.unwrap();
    }
    let first = std::time::Instant::now();
    r.status.notify_change("b", Kind::Email);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        runner.calls.lock().unwrap().is_empty(),
        "b waits for others"
    );
    r.status.notify_change("a", Kind::Email);
    until("a and b ran", || runner.calls.lock().unwrap().len() == 2).await;
    let started = runner.started.lock().unwrap().clone();
    r.stop().await;
    let mut calls = runner.calls.lock().unwrap().clone();
    calls.sort();
    assert_eq!(calls, ["a", "b"]);
    for at in &started {
        assert!(
            at.duration_since(first) >= gather,
            "started {:?} after the first notification, before the window ended",
            at.duration_since(first)
        );
    }
    assert!(
        started[1].duration_since(started[0]) < Duration::from_millis(500),
        "started together: {:?} apart",
        started[1].duration_since(started[0])
    );
}

/// A finished run brings no pass over every mailbox before its pair is due again (here in an
/// hour): a pass within the floor after every run read the whole schedule every few seconds
/// while notified runs came one by one. A pair made due meanwhile without a notification (what
/// the endpoint does for a change its probe decides on) is found by the next regular pass.
#[tokio::test]
async fn a_finished_run_brings_no_pass_before_its_pair_is_due_again() {
    let floor = Duration::from_millis(200);
    let (_dir, store, runner, r) = idle_for_an_hour(Duration::ZERO, floor).await;
    let now = store.now().await.unwrap();
    store.set_next_due("b", Kind::Email, now).await.unwrap();
    r.status.notify_change("b", Kind::Email);
    until("b ran", || runner.calls.lock().unwrap().len() == 1).await;
    // Due now, not notified: only a regular pass starts (here: probes) it.
    store.set_next_due("a", Kind::Email, now).await.unwrap();
    tokio::time::sleep(floor * 5).await;
    assert_eq!(
        *runner.probed.lock().unwrap(),
        3,
        "no regular pass after b's run"
    );
    r.status.wake();
    until("a probed by the pass the wake-up brings", || {
        *runner.probed.lock().unwrap() == 4
    })
    .await;
    r.stop().await;
}
