//! End to end: CRM tasks ↔ Microsoft To Do against the in-process sandbox (Graph over HTTP,
//! CRM.interface over HTTP, SQLite state).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use gc_crm::{CrmId, NewTask, TaskUpdate};
use gc_graph::GraphClient;
use gc_graph::models::TodoTask;
use gc_sandbox::{SandboxOptions, Target, Tripwire, When};
use gc_store::{Kind, LedgerAction, LedgerFilter};
use gc_sync::{MailboxReport, NoProgress};
use graph_connector::commands::sync::Runtime;
use jiff::civil::Date;
use serde_json::json;

const LIST: &str = "CRM";

struct T {
    env: Env,
    rt: Runtime,
    graph: GraphClient,
    crm: gc_crm::CrmClient,
    user: String,
    rep_id: String,
    today: Date,
}

impl T {
    async fn start(extra: &str) -> T {
        let env = Env::start(
            SandboxOptions {
                users: 6,
                seed: 41,
                messages_per_mailbox: 2,
                ..SandboxOptions::default()
            },
            &format!("[emails]\nenabled = false\n\n[tasks]\n{extra}\n"),
        )
        .await;
        let config = env.config();
        let crm = env.crm();
        let users = env.users();
        let rep = crm
            .master()
            .enabled_reps()
            .await
            .unwrap()
            .into_iter()
            .find(|r| {
                r.sync_tasks
                    && r.email
                        .as_deref()
                        .is_some_and(|e| users.iter().any(|u| u.eq_ignore_ascii_case(e)))
            })
            .expect("a rep with the tasks flag and a mailbox");
        let graph =
            GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap()).unwrap();
        let today = gc_crm::localtime::to_local(jiff::Timestamp::now(), crm.time_zone()).0;
        let rt = Runtime::build(&config).await.unwrap();
        T {
            user: rep.email.clone().unwrap().to_ascii_lowercase(),
            rep_id: rep.rep_id.clone(),
            env,
            rt,
            graph,
            crm,
            today,
        }
    }

    fn day(&self, offset: i64) -> Date {
        self.today
            .checked_add(jiff::Span::new().days(offset))
            .unwrap()
    }

    async fn add(&self, subject: &str, due: Option<i64>, start: Option<i64>) -> CrmId {
        self.crm
            .master()
            .insert_task(&NewTask {
                rep_id: self.rep_id.clone(),
                subject: subject.into(),
                text: format!("{subject}: details"),
                start_date: start.map(|d| self.day(d)),
                due_date: due.map(|d| self.day(d)),
                status: "Open".into(),
                priority: Some("High".into()),
            })
            .await
            .unwrap()
    }

    async fn update(&self, id: CrmId, u: TaskUpdate) {
        self.crm.master().update_task(id, &u).await.unwrap();
    }

    /// One cycle; the task report of the rep's mailbox.
    async fn cycle(&self) -> MailboxReport {
        let r = self
            .rt
            .cycle(None, &NoProgress, &Default::default())
            .await
            .unwrap();
        assert!(r.stopped.is_none(), "{r:#?}");
        let m = r
            .mailboxes
            .iter()
            .find(|m| m.kind == Kind::Task && m.mailbox == self.user)
            .cloned()
            .unwrap_or_else(|| panic!("no task run for {}: {r:#?}", self.user));
        assert_eq!(m.failed, 0, "{m:#?}");
        m
    }

    async fn list_id(&self) -> Option<String> {
        self.graph
            .list_todo_lists(&self.user)
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.display_name.as_deref() == Some(LIST))
            .map(|l| l.id)
    }

    /// The tasks of the list, with their linked resources.
    async fn todo(&self) -> Vec<TodoTask> {
        let Some(list) = self.list_id().await else {
            return Vec::new();
        };
        self.graph
            .list_todo_tasks(&self.user, &list)
            .collect_ok()
            .await
            .unwrap()
    }

    async fn todo_of(&self, id: CrmId) -> Vec<TodoTask> {
        self.todo()
            .await
            .into_iter()
            .filter(|t| crm_of(t) == Some(id))
            .collect()
    }

    async fn one(&self, id: CrmId) -> TodoTask {
        let mut v = self.todo_of(id).await;
        assert_eq!(v.len(), 1, "CRM task {id}: {v:#?}");
        v.remove(0)
    }

    async fn patch(&self, id: CrmId, body: serde_json::Value) {
        let t = self.one(id).await;
        let list = self.list_id().await.unwrap();
        self.graph
            .update_todo_task(&self.user, &list, &t.id, &body)
            .await
            .unwrap();
    }

    async fn ledger(&self, id: CrmId) -> Vec<(LedgerAction, String)> {
        self.rt
            .store
            .query_ledger(&LedgerFilter {
                kind: Some(Kind::Task),
                item_key: Some(format!("crm:{id}")),
                ..LedgerFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.reason))
            .collect()
    }

    /// Every CRM task has at most one To Do task.
    async fn assert_no_duplicates(&self) {
        let mut ids: Vec<CrmId> = self.todo().await.iter().filter_map(crm_of).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "a CRM task is in the list twice");
    }
}

fn crm_of(t: &TodoTask) -> Option<CrmId> {
    t.linked_resources
        .as_ref()?
        .iter()
        .find_map(|l| l.external_id.as_deref()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_go_to_todo_and_status_and_deletions_come_back() {
    // Every run walks the window in full, so that deletions in CRM are seen at once.
    let t = T::start("full_walk_minutes = 0").await;
    let today = t.add("Due today", Some(0), None).await;
    let first_day = t.add("Due on the first day", Some(-7), None).await;
    let last_day = t.add("Due on the last day", Some(7), None).await;
    let before = t.add("Due the day before", Some(-8), None).await;
    let after = t.add("Due the day after", Some(8), None).await;
    let start_only = t.add("Starts in three days", None, Some(3)).await;
    let start_after = t.add("Starts after the window", None, Some(9)).await;

    let r = t.cycle().await;
    assert!(r.created >= 4, "{r:#?}");
    for id in [today, first_day, last_day, start_only] {
        let task = t.one(id).await;
        assert_eq!(task.importance.as_deref(), Some("high"));
        let actions: Vec<LedgerAction> = t.ledger(id).await.into_iter().map(|e| e.0).collect();
        assert_eq!(actions, vec![LedgerAction::Created], "{id}");
    }
    for id in [before, after, start_after] {
        assert!(t.todo_of(id).await.is_empty(), "{id} is outside the window");
    }
    assert_eq!(
        t.one(last_day).await.due_date(),
        Some(t.day(7)),
        "the due date travels"
    );
    // The To Do id is in the external key table as well.
    let todo_id = t.one(today).await.id;
    let keys = t
        .crm
        .master()
        .find_external_keys(None, std::slice::from_ref(&todo_id))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0].record.as_ref().map(|r| r.1), Some(today));

    // A second run writes nothing.
    let count = t.todo().await.len();
    let r = t.cycle().await;
    assert_eq!((r.created, r.updated, r.deleted), (0, 0, 0), "{r:#?}");
    assert_eq!(t.todo().await.len(), count);

    // A CRM change follows.
    t.update(
        today,
        TaskUpdate {
            subject: Some("Due today, call first".into()),
            ..TaskUpdate::default()
        },
    )
    .await;
    let r = t.cycle().await;
    assert_eq!(r.updated, 1, "{r:#?}");
    assert_eq!(
        t.one(today).await.title.as_deref(),
        Some("Due today, call first")
    );

    // Completed in To Do: completed in CRM; reopened: open again.
    t.patch(last_day, json!({"status": "completed"})).await;
    t.cycle().await;
    let c = t.crm.master().task(last_day).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.percent_complete),
        ("Completed", Some(100))
    );
    t.patch(last_day, json!({"status": "notStarted"})).await;
    t.cycle().await;
    let c = t.crm.master().task(last_day).await.unwrap().unwrap();
    assert_eq!((c.status.as_str(), c.percent_complete), ("Open", Some(0)));
    assert!(
        t.ledger(last_day)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Updated && r.contains("To Do → CRM: status")),
        "{:?}",
        t.ledger(last_day).await
    );

    // A title edit in To Do does not go back one way, and is not overwritten either.
    t.patch(first_day, json!({"title": "My own words"})).await;
    t.cycle().await;
    let c = t.crm.master().task(first_day).await.unwrap().unwrap();
    assert_eq!(c.subject, "Due on the first day");
    assert_eq!(
        t.one(first_day).await.title.as_deref(),
        Some("My own words")
    );
    assert!(
        t.ledger(first_day)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Skipped && r.contains("not sent back")),
    );

    // Deleted in To Do: marked in CRM, never deleted, and not sent again.
    let list = t.list_id().await.unwrap();
    let gone = t.one(start_only).await.id;
    t.graph
        .delete_todo_task(&t.user, &list, &gone)
        .await
        .unwrap();
    let r = t.cycle().await;
    assert_eq!(r.deleted, 1, "{r:#?}");
    let c = t.crm.master().task(start_only).await.unwrap();
    assert!(c.expect("still in CRM").deleted, "marked ConnectorDeleted");
    t.cycle().await;
    assert!(t.todo_of(start_only).await.is_empty(), "not sent again");

    // Deleted in CRM: removed from the list.
    let table = t.crm.dialect().task.table.clone();
    t.crm.master().delete(&table, today).await.unwrap();
    let r = t.cycle().await;
    assert_eq!(r.deleted, 1, "{r:#?}");
    assert!(t.todo_of(today).await.is_empty());
    assert!(
        t.ledger(today)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Deleted && r.contains("deleted in CRM"))
    );

    // Leaving the window is not a deletion.
    t.update(
        last_day,
        TaskUpdate {
            due_date: Some(Some(t.day(30))),
            ..TaskUpdate::default()
        },
    )
    .await;
    let r = t.cycle().await;
    assert_eq!(r.deleted, 0, "{r:#?}");
    assert_eq!(t.todo_of(last_day).await.len(), 1);
    assert!(
        t.ledger(last_day)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Skipped && r.contains("left the window"))
    );
    let r = t.cycle().await;
    assert_eq!(r.skipped, 0, "recorded once: {r:#?}");
    t.assert_no_duplicates().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_ways_title_and_date_edits_go_back_and_changes_are_read_since_the_checkpoint() {
    let t = T::start("direction = \"both\"").await;
    let id = t.add("Prepare the offer", Some(1), None).await;
    let r = t.cycle().await;
    assert!(r.created >= 1);
    let cursor =
        t.rt.store
            .get_cursor(&t.rt_mailbox().await, Kind::Task, "crm")
            .await
            .unwrap()
            .unwrap();
    let cp = cursor.delta_link.unwrap();
    assert!(cp.starts_with("crm-v1;") && !cp.ends_with("since="), "{cp}");

    t.patch(
        id,
        json!({
            "title": "Prepare the offer (v2)",
            "dueDateTime": {"dateTime": format!("{}T00:00:00.0000000", t.day(3)), "timeZone": "UTC"},
        }),
    )
    .await;
    let r = t.cycle().await;
    assert_eq!(r.updated, 1, "{r:#?}");
    let c = t.crm.master().task(id).await.unwrap().unwrap();
    assert_eq!(c.subject, "Prepare the offer (v2)");
    assert_eq!(c.due_date, Some(t.day(3)));
    // CRM's stamp changed with our write: read again, recognised, nothing flows back.
    let r = t.cycle().await;
    assert_eq!((r.updated, r.created), (0, 0), "{r:#?}");

    // A CRM change between full walks is read through the checkpoint.
    t.update(
        id,
        TaskUpdate {
            subject: Some("Send the offer".into()),
            ..TaskUpdate::default()
        },
    )
    .await;
    let r = t.cycle().await;
    assert_eq!(r.updated, 1, "{r:#?}");
    assert_eq!(t.one(id).await.title.as_deref(), Some("Send the offer"));
    // Both changed the title: CRM wins.
    t.patch(id, json!({"title": "To Do title"})).await;
    t.update(
        id,
        TaskUpdate {
            subject: Some("CRM title".into()),
            ..TaskUpdate::default()
        },
    )
    .await;
    t.cycle().await;
    t.cycle().await;
    assert_eq!(t.one(id).await.title.as_deref(), Some("CRM title"));
    let c = t.crm.master().task(id).await.unwrap().unwrap();
    assert_eq!(c.subject, "CRM title");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_list_is_created_again_without_duplicates() {
    let t = T::start("").await;
    let ids = [
        t.add("One", Some(0), None).await,
        t.add("Two", Some(1), None).await,
        t.add("Three", Some(2), None).await,
    ];
    t.cycle().await;
    let before = t.todo().await.len();
    let old = t.list_id().await.unwrap();
    t.graph.delete_todo_list(&t.user, &old).await.unwrap();
    let r = t.cycle().await;
    let new = t.list_id().await.unwrap();
    assert_ne!(old, new);
    assert_eq!(r.created as usize, before, "{r:#?}");
    for id in ids {
        t.one(id).await;
        assert!(
            t.ledger(id)
                .await
                .iter()
                .any(|(a, r)| *a == LedgerAction::Created && r.contains("again")),
        );
    }
    let r = t.cycle().await;
    assert_eq!((r.created, r.updated), (0, 0), "{r:#?}");
    assert_eq!(t.todo().await.len(), before);
    t.assert_no_duplicates().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_create_is_adopted_not_duplicated() {
    let t = T::start("").await;
    t.cycle().await;
    let id = t.add("Written before the crash", Some(2), None).await;
    // The To Do task is created, but the answer never arrives.
    let wire = t.env.demo.sandbox.arm_tripwire(
        Tripwire {
            target: Target::GraphWrite,
            nth: 1,
            when: When::BeforeResponse,
        },
        || {},
    );
    let r = t.cycle().await;
    assert!(wire.fired());
    drop(wire);
    assert_eq!((r.created, r.delayed), (0, 1), "{r:#?}");
    assert_eq!(t.todo_of(id).await.len(), 1, "written once");
    let r = t.cycle().await;
    assert_eq!((r.adopted, r.created), (1, 0), "{r:#?}");
    let todo = t.one(id).await;
    let keys = t
        .crm
        .master()
        .find_external_keys(None, std::slice::from_ref(&todo.id))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        t.ledger(id)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Adopted && r.contains("linked resource"))
    );
    t.assert_no_duplicates().await;
}

/// A To Do task written by a run whose list round never stored its checkpoint (another
/// item of its page was delayed), then deleted by the user before the next run: the next
/// delta, read from the old checkpoint, reports it neither created nor removed, so the run
/// reads the links written after that checkpoint by id, and the deletion reaches CRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_written_by_a_round_without_checkpoint_and_then_deleted_is_marked_in_crm() {
    // A CRM request that fails is not tried again in the run: its item is delayed.
    let t = T::start("direction = \"both\"\n\n[errors]\nmax_retries = 0").await;
    let edited = t.add("Edited in To Do", Some(1), None).await;
    t.cycle().await;
    let written = t.add("Written, then deleted in To Do", Some(2), None).await;
    t.patch(edited, json!({"title": "Edited in To Do (v2)"}))
        .await;
    // The edit's write to CRM never arrives: its item is delayed, so the list's page (the
    // only one) keeps the old checkpoint, while the new task was written and linked.
    let wire = t.env.demo.sandbox.arm_tripwire(
        Tripwire {
            target: Target::Crm {
                command: Some(gc_sandbox::monitor::CrmCommand::Update),
                table: Some(t.crm.dialect().task.table.clone()),
            },
            nth: 1,
            when: When::BeforeProcessing,
        },
        || {},
    );
    let r = t.cycle().await;
    assert!(wire.fired());
    drop(wire);
    assert_eq!((r.created, r.delayed), (1, 1), "{r:#?}");
    let todo = t.one(written).await;
    let list = t.list_id().await.unwrap();
    t.graph
        .delete_todo_task(&t.user, &list, &todo.id)
        .await
        .unwrap();
    let r = t.cycle().await;
    assert_eq!((r.updated, r.deleted), (1, 1), "{r:#?}");
    assert!(
        t.ledger(written)
            .await
            .iter()
            .any(|(a, r)| *a == LedgerAction::Deleted && r.contains("deleted in Microsoft To Do")),
        "{:?}",
        t.ledger(written).await
    );
    assert!(t.todo_of(written).await.is_empty(), "not written again");
    let quiet = t.cycle().await;
    assert_eq!(
        (quiet.created, quiet.updated, quiet.deleted),
        (0, 0, 0),
        "{quiet:#?}"
    );
}

impl T {
    /// The store's mailbox id of the user.
    async fn rt_mailbox(&self) -> String {
        self.rt
            .store
            .list_mailboxes()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.address == self.user)
            .unwrap()
            .rep_id
    }
}
