//! What the model keeps: a scenario (its sides, the last edit of each and when the other side
//! saw it, a series' cancelled occurrences and CRM edits), a CRM appointment as the checks
//! read it, and the world a batch runs in (a sandbox, its reps, the sync runtime, and the
//! reads of both sides). The generator and the checks both work on these.

use std::collections::BTreeMap;
use std::time::Duration;

use gc_crm::CrmId;
use gc_sandbox::SandboxOptions;
use gc_store::Kind;
use graph_connector::commands::sync::Runtime;
use jiff::tz::TimeZone;

use crate::common::Env;

/// The mass-delete guard is off: a step may delete several of a small calendar's scenarios at
/// once, which the guard rightly holds for the administrator (tests/plan_and_guard/), while
/// this test is about what the runs converge to.
const CONFIG: &str = "[appointments]\nenabled = true\ndays_past = 7\ndays_future = 14\nfull_walk_minutes = 0\n\n[errors]\nmax_retries = 3\ninitial_backoff_seconds = 0.1\nmax_backoff_seconds = 0.1\nitem_retry_limit = 50\nitem_retry_minutes = 0\nmax_delete_fraction = 1.0\ndelete_guard_min = 1000000\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    M365,
    Crm,
}

#[derive(Debug)]
pub(super) struct Scenario {
    pub(super) tag: String,
    pub(super) owner: usize,
    /// Another user invited (a shared meeting), for events created in Microsoft 365.
    pub(super) guest: Option<usize>,
    pub(super) origin: Side,
    pub(super) event: Option<String>,
    pub(super) crm: Option<CrmId>,
    pub(super) edits: usize,
    /// The last subject each side was given, and the step it was given at.
    pub(super) last: BTreeMap<SideKey, (String, usize)>,
    /// Subjects each side was seen with after a sync run (cut off or not), and when.
    pub(super) seen: Vec<(SideKey, String, usize)>,
    pub(super) deleted: bool,
    /// A recurring series (created in Microsoft 365; `event` is its master).
    pub(super) series: Option<Series>,
}

/// What a series scenario did to its occurrences.
#[derive(Debug, Default)]
pub(super) struct Series {
    /// Dates (CRM's time zone) of the occurrences cancelled in Microsoft 365, or whose
    /// serial record was marked deleted in CRM.
    pub(super) cancelled: Vec<String>,
    /// The last subject CRM gave an occurrence's serial record, by the occurrence's date, and
    /// the step it was given at.
    pub(super) crm_edits: BTreeMap<String, (String, usize)>,
}

pub(super) type SideKey = u8;

pub(super) fn key(s: Side) -> SideKey {
    match s {
        Side::M365 => 0,
        Side::Crm => 1,
    }
}

pub(super) struct World {
    pub(super) env: Env,
    pub(super) g: gc_graph::GraphClient,
    pub(super) users: Vec<(String, gc_crm::Rep)>,
    pub(super) rt: Runtime,
    /// Steps after which a complete (not cut off, nothing delayed or failed) sync ran.
    pub(super) complete_after: Vec<usize>,
    /// How often each series step was taken (printed at the end).
    pub(super) series_steps: std::sync::Mutex<BTreeMap<&'static str, usize>>,
}

pub(super) fn day(days: i64) -> jiff::civil::Date {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
        .checked_add(jiff::Span::new().days(days))
        .unwrap()
}

impl World {
    pub(super) async fn new(seed: u64) -> World {
        let env = Env::start(
            SandboxOptions {
                users: 3,
                seed,
                messages_per_mailbox: 0,
                ..SandboxOptions::default()
            },
            CONFIG,
        )
        .await;
        let config = env.config();
        let g =
            gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&config).unwrap())
                .unwrap();
        let reps = env.crm().master().enabled_reps().await.unwrap();
        let users: Vec<(String, gc_crm::Rep)> = env
            .users()
            .into_iter()
            .filter_map(|u| {
                reps.iter()
                    .find(|r| r.sync_appointments && r.email.as_deref() == Some(u.as_str()))
                    .map(|r| (u.clone(), r.clone()))
            })
            .collect();
        assert!(users.len() >= 2, "two reps synchronize appointments");
        let rt = Runtime::build(&config).await.unwrap();
        World {
            env,
            g,
            users,
            rt,
            complete_after: Vec::new(),
            series_steps: Default::default(),
        }
    }

    /// One sync run; cut off after `cut` when given. Whether it was complete: every mailbox
    /// run complete ([`crate::common::every_run_complete`]; a run called off when its lease
    /// lapsed delays and fails nothing, yet what it began travels only with the next run),
    /// nothing delayed or failed.
    pub(super) async fn sync(&self, cut: Option<Duration>) -> bool {
        let cancel = tokio_util::sync::CancellationToken::new();
        let run = self.rt.cycle(None, &gc_sync::NoProgress, &cancel);
        let report = match cut {
            None => run.await,
            Some(after) => {
                tokio::pin!(run);
                tokio::select! {
                    r = &mut run => r,
                    () = tokio::time::sleep(after) => {
                        // A crash: the run stops where it is; nothing of it is awaited.
                        cancel.cancel();
                        return false;
                    }
                }
            }
        };
        match report {
            Ok(r) => {
                let t = r.total(Kind::Appointment);
                crate::common::every_run_complete(&r) && t.delayed == 0 && t.failed == 0
            }
            Err(_) => false,
        }
    }

    /// Whether `user`'s event `id` is linked (a run committed it).
    pub(super) async fn linked(&self, user: usize, id: &str) -> bool {
        let address = &self.users[user].0;
        let Some(m) = self
            .rt
            .store
            .list_mailboxes()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
        else {
            return false;
        };
        self.rt
            .store
            .get_link(Kind::Appointment, &m.rep_id, id)
            .await
            .unwrap()
            .is_some_and(|l| l.crm_id.is_some())
    }

    /// `user`'s link of the event `id`.
    pub(super) async fn link(&self, user: usize, id: &str) -> Option<gc_store::Link> {
        let address = &self.users[user].0;
        let m = self
            .rt
            .store
            .list_mailboxes()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))?;
        self.rt
            .store
            .get_link(Kind::Appointment, &m.rep_id, id)
            .await
            .unwrap()
    }

    /// Events of `user` whose subject starts with `tag`: (id, subject).
    pub(super) fn events(&self, user: usize, tag: &str) -> Vec<(String, String)> {
        self.env
            .demo
            .sandbox
            .state()
            .events(&self.users[user].0)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s, _)| s.starts_with(tag))
            .map(|(id, s, _)| (id, s))
            .collect()
    }

    /// Every CRM appointment of the model (subjects starting with `m`).
    pub(super) async fn appointments(&self) -> Vec<Appt> {
        let crm = self.env.crm();
        let dl = crm.dialect().clone();
        let (d, m) = (&dl.activity, &dl.appointment);
        let flag = |a: &gc_crm::Activity, f: &str| a.get(f).is_some_and(|v| dl.parse_bool(v));
        crm.master()
            .activities(&gc_crm::ActivityFilter {
                from: day(-30),
                to: day(30),
                rep_id: None,
                condition: None,
                fields: vec![
                    d.subject.clone(),
                    d.deleted.clone(),
                    d.date.clone(),
                    m.is_master.clone(),
                    m.is_serial.clone(),
                ],
                with_participants: false,
                max_records: None,
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.get(&d.subject).is_some_and(|s| s.starts_with("m")))
            .map(|a| Appt {
                id: a.id,
                subject: a.get(&d.subject).unwrap_or_default().to_owned(),
                deleted: flag(&a, &d.deleted),
                date: a.get(&d.date).unwrap_or_default().to_owned(),
                master: flag(&a, &m.is_master),
                serial: flag(&a, &m.is_serial),
            })
            .collect()
    }

    /// Counts one series step taken.
    pub(super) fn count(&self, what: &'static str) {
        *self.series_steps.lock().unwrap().entry(what).or_default() += 1;
    }

    /// The occurrences of `user`'s series `master` in the window: (id, date of its start in
    /// CRM's time zone, subject), by date.
    pub(super) async fn occurrences(
        &self,
        user: usize,
        master: &str,
    ) -> Vec<(String, String, String)> {
        let from = TimeZone::UTC.to_timestamp(day(-8).at(0, 0, 0, 0)).unwrap();
        let to = TimeZone::UTC.to_timestamp(day(16).at(0, 0, 0, 0)).unwrap();
        let crm_tz = self.env.crm().time_zone().clone();
        let mut out: Vec<(String, String, String)> = self
            .g
            .event_instances(&self.users[user].0, master, from, to)
            .collect_ok()
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                let start = e.start.as_ref().unwrap();
                assert_eq!(start.time_zone.as_deref(), Some("UTC"), "{e:?}");
                let utc = TimeZone::UTC
                    .to_timestamp(gc_graph::tz::parse_civil(&start.date_time).unwrap())
                    .unwrap();
                let date = crm_tz.to_datetime(utc).date().to_string();
                (e.id, date, e.subject.unwrap_or_default())
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }
}

/// One CRM appointment as the checks read it.
#[derive(Debug, Clone)]
pub(super) struct Appt {
    pub(super) id: CrmId,
    pub(super) subject: String,
    pub(super) deleted: bool,
    /// Its date (CRM's time zone).
    pub(super) date: String,
    /// A series' master record.
    pub(super) master: bool,
    /// One occurrence's serial record.
    pub(super) serial: bool,
}
