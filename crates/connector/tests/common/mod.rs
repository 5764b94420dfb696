//! Helpers of the e-mail end-to-end tests: a sandbox with CRM, a configuration for it, and
//! queries of the final state (folders, links, CRM).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
pub mod all_kinds;
pub mod kill;
pub mod multi;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use gc_sandbox::SandboxOptions;
use gc_store::{Kind, LinkState};
use graph_connector::commands::demo::{DemoSandbox, start_sandbox_with};
use graph_connector::config::{self, Config};

pub const SYNC: &str = "Inbox/crm";

pub struct Env {
    pub demo: DemoSandbox,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(opts: SandboxOptions, extra_toml: &str) -> Env {
        Self::start_with(opts, extra_toml, false).await
    }

    /// With `file_crm`: CRM.interface on its own listener with a SQLite file (clients that
    /// are killed mid-request cannot take its data with them).
    pub async fn start_with(opts: SandboxOptions, extra_toml: &str, file_crm: bool) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let demo = start_sandbox_with(opts, dir.path(), file_crm)
            .await
            .unwrap();
        let mut text = std::fs::read_to_string(&demo.config_path).unwrap();
        text.push('\n');
        text.push_str(extra_toml);
        // The e-mail tests leave the seeded calendars, task lists and contacts alone: every
        // kind but e-mail runs only where a test names its section.
        for section in ["[appointments]", "[tasks]", "[contacts]", "[absences]"] {
            if !extra_toml.contains(section) {
                text.push_str(&format!("\n{section}\nenabled = false\n"));
            }
        }
        std::fs::write(&demo.config_path, text).unwrap();
        Env { demo, dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.demo.config_path.clone()
    }

    pub fn config(&self) -> Config {
        config::load(&self.demo.config_path, Vec::<(String, String)>::new()).unwrap()
    }

    pub fn users(&self) -> Vec<String> {
        self.demo
            .sandbox
            .directory()
            .mailbox_users()
            .map(|p| p.email.clone())
            .collect()
    }

    /// Mailbox users whose rep synchronizes appointments, with their rep record.
    #[allow(dead_code)]
    pub async fn appointment_reps(&self) -> Vec<(String, gc_crm::Rep)> {
        let reps = self.crm().master().enabled_reps().await.unwrap();
        self.users()
            .into_iter()
            .filter_map(|u| {
                reps.iter()
                    .find(|r| r.sync_appointments && r.email.as_deref() == Some(u.as_str()))
                    .map(|r| (u.clone(), r.clone()))
            })
            .collect()
    }

    /// The enabled rep whose e-mail address is `user`'s.
    #[allow(dead_code)]
    pub async fn rep_of(&self, user: &str) -> gc_crm::Rep {
        self.crm()
            .master()
            .enabled_reps()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.email.as_deref() == Some(user))
            .unwrap_or_else(|| panic!("no enabled rep for {user}"))
    }

    /// Mailbox users whose rep is enabled for e-mails in CRM.
    pub async fn enabled_users(&self) -> Vec<String> {
        let reps = self.crm().master().enabled_reps().await.unwrap();
        self.users()
            .into_iter()
            .filter(|u| {
                reps.iter()
                    .any(|r| r.sync_emails && r.email.as_deref() == Some(u.as_str()))
            })
            .collect()
    }

    /// File every Inbox message of every user into the sync folder; returns per user the
    /// number of messages now in the sync folder.
    pub fn file_all_inbox(&self, max_per_user: usize) -> BTreeMap<String, usize> {
        let st = self.demo.sandbox.state();
        let mut out = BTreeMap::new();
        for u in self.users() {
            let Ok(msgs) = st.messages(&u, "inbox") else {
                continue;
            };
            for m in msgs.iter().take(max_per_user) {
                st.file_message(&u, &m.immutable_id, SYNC).unwrap();
            }
            out.insert(u.clone(), st.count_messages(&u, SYNC).unwrap());
        }
        out
    }

    pub fn count(&self, user: &str, folder: &str) -> usize {
        self.demo
            .sandbox
            .state()
            .count_messages(user, folder)
            .unwrap_or(0)
    }

    pub fn crm(&self) -> gc_crm::CrmClient {
        gc_crm::CrmClient::new(graph_connector::wiring::crm_config(&self.config()).unwrap())
            .unwrap()
    }

    /// Every e-mail activity in CRM written by the connector (station 2) or seeded.
    pub async fn email_activities(&self) -> Vec<gc_crm::Activity> {
        let crm = self.crm();
        let d = crm.dialect().activity.clone();
        crm.master()
            .activities(&gc_crm::ActivityFilter {
                from: jiff::civil::date(2000, 1, 1),
                to: jiff::civil::date(2100, 12, 31),
                rep_id: None,
                condition: None,
                fields: Vec::new(),
                with_participants: true,
                max_records: None,
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|a| {
                a.get(&d.contact_type)
                    .is_some_and(|t| t.eq_ignore_ascii_case("e-mail"))
            })
            .collect()
    }
}

/// Run cycles until nothing is delayed any more (transient errors delay messages to the next
/// run; they never drop them). Returns the summed report and the number of runs.
pub async fn converge(
    rt: &graph_connector::commands::sync::Runtime,
    max_runs: usize,
) -> (gc_sync::SyncReport, usize) {
    let mut sum = gc_sync::SyncReport::default();
    for run in 1..=max_runs {
        let r = rt
            .cycle(None, &gc_sync::NoProgress, &Default::default())
            .await
            .unwrap();
        let delayed = r.total(gc_store::Kind::Email).delayed;
        if sum.mailboxes.is_empty() {
            sum = r;
        } else {
            for (s, m) in sum.mailboxes.iter_mut().zip(r.mailboxes) {
                s.created += m.created;
                s.adopted += m.adopted;
                s.unchanged += m.unchanged;
                s.skipped += m.skipped;
                s.failed += m.failed;
                s.warnings += m.warnings;
                s.delayed = m.delayed;
                s.outcome = m.outcome;
                s.error = m.error;
            }
        }
        if delayed == 0 {
            return (sum, run);
        }
        eprintln!("run {run}: {delayed} message(s) delayed, running again");
    }
    (sum, max_runs)
}

/// Whether every mailbox run of a cycle completed and nothing stopped the cycle: the part of
/// convergence that "nothing delayed, no mailbox failed" misses. A run called off (its lease
/// lost, [`gc_sync::MailboxOutcome::Cancelled`]) or left to another holder delays nothing and
/// fails no mailbox, yet it may have stopped between a CRM write and its commit: the record
/// is then named only by the item's intent until the next run settles it.
pub fn every_run_complete(report: &gc_sync::SyncReport) -> bool {
    report.stopped.is_none()
        && report
            .mailboxes
            .iter()
            .all(|m| m.outcome == gc_sync::MailboxOutcome::Complete)
}

/// The final state every e-mail test checks.
#[derive(Debug)]
pub struct Final {
    /// global key → (mailboxes with an active link, distinct activity ids)
    pub by_key: BTreeMap<String, (BTreeSet<String>, BTreeSet<u64>)>,
    pub failed_links: usize,
    pub active_links: usize,
    /// (global key, activity) of failed links whose activity was written (e.g. CRM refused
    /// a document afterwards).
    pub failed_with_activity: Vec<(String, u64)>,
}

pub async fn final_state(store: &dyn gc_store::StateStore) -> Final {
    let mut f = Final {
        by_key: BTreeMap::new(),
        failed_links: 0,
        active_links: 0,
        failed_with_activity: Vec::new(),
    };
    for m in store.list_mailboxes().await.unwrap() {
        let mut after: Option<String> = None;
        loop {
            let links = store
                .list_links(&m.rep_id, Kind::Email, after.as_deref(), 500)
                .await
                .unwrap();
            if links.is_empty() {
                break;
            }
            after = links.last().map(|l| l.graph_id.clone());
            for l in links {
                match l.state {
                    LinkState::Active => {
                        f.active_links += 1;
                        let e = f.by_key.entry(l.global_key.clone().unwrap()).or_default();
                        e.0.insert(l.mailbox.clone());
                        e.1.insert(l.crm_id.unwrap().get());
                    }
                    _ => {
                        f.failed_links += 1;
                        if let (Some(k), Some(id)) = (&l.global_key, l.crm_id) {
                            f.failed_with_activity.push((k.clone(), id.get()));
                        }
                    }
                }
            }
        }
    }
    f
}

/// Per (mailbox, item) the decisions recorded (created/adopted/skipped/failed).
pub async fn decisions(
    store: &dyn gc_store::StateStore,
) -> BTreeMap<(String, String), Vec<gc_store::LedgerAction>> {
    use gc_store::LedgerAction as A;
    let all = store
        .query_ledger(&gc_store::LedgerFilter {
            kind: Some(Kind::Email),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out: BTreeMap<(String, String), Vec<A>> = BTreeMap::new();
    for e in all {
        if matches!(e.action, A::Created | A::Adopted | A::Skipped | A::Failed) {
            out.entry((e.mailbox, e.item_key))
                .or_default()
                .push(e.action);
        }
    }
    out
}

/// The UTC day `days` from today.
pub fn day(days: i64) -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
}

/// Creates a one-hour event at 10:00 UTC, `days` from today, in `user`'s calendar; its id.
pub async fn new_event(g: &gc_graph::GraphClient, user: &str, subject: &str, days: i64) -> String {
    let d = day(days);
    g.create_event(
        user,
        &serde_json::json!({
            "subject": subject,
            "start": {"dateTime": format!("{d}T10:00:00"), "timeZone": "UTC"},
            "end": {"dateTime": format!("{d}T11:00:00"), "timeZone": "UTC"},
        }),
    )
    .await
    .unwrap()
    .id
}
