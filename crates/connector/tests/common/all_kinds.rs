//! Helpers of the tests that run all five kinds together (crash and fault tests): a sandbox
//! with every kind enabled, new work for the kinds that take it (messages, CRM tasks, meetings)
//! recorded so that an identical sandbox can get the same, the final state per kind, and the
//! checks that nothing is duplicated.

use std::collections::{BTreeMap, BTreeSet};

use gc_crm::{ActivityFilter, NewTask, TaskWindow};
use gc_sandbox::{NewMessage, SandboxOptions};
use gc_store::{Kind, LinkState};
use gc_sync::absences::model::ABSENCE_PROPERTY;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::{Env, SYNC};

/// Every kind on (the common helpers turn every kind but e-mail off unless a test names its
/// section). Contacts select the persons of the reps'
/// companies only: the persons of a rep's activities follow which rep's filing created a
/// shared activity (the others are participants of it), and that depends on the order the
/// mailboxes got there, which crashes and faults change, so two correct runs could differ.
pub const ALL_KINDS: &str = "[appointments]\nenabled = true\n\n[tasks]\nenabled = true\n\n[contacts]\nactivity_days = 0\n\n[absences]\nenabled = true\n";

/// A sandbox with CRM.interface in a file (survives killed clients), every kind enabled,
/// short leases (a restarted process takes over from a killed one quickly), and every Inbox
/// message filed into the sync folder.
pub async fn start(opts: SandboxOptions, extra_toml: &str) -> Env {
    let env = Env::start_with(opts, &format!("{ALL_KINDS}\n{extra_toml}"), true).await;
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let text = text.replace("[state]\n", "[state]\nlease_seconds = 1\n");
    std::fs::write(env.config_path(), text).unwrap();
    // Filing is the user's act, not the connector's work: no fault may hit it.
    let spec = env.demo.sandbox.faults().spec();
    env.demo
        .sandbox
        .faults()
        .set_spec(gc_sandbox::FaultSpec::default());
    env.file_all_inbox(usize::MAX);
    env.demo.sandbox.faults().set_spec(spec);
    env
}

/// The mailbox users whose rep has the flag `flag` picks.
pub async fn users_with(env: &Env, flag: fn(&gc_crm::Rep) -> bool) -> Vec<(String, gc_crm::Rep)> {
    let reps = env.crm().master().enabled_reps().await.unwrap();
    env.users()
        .into_iter()
        .filter_map(|u| {
            reps.iter()
                .find(|r| {
                    flag(r)
                        && r.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(&u))
                })
                .map(|r| (u.clone(), r.clone()))
        })
        .collect()
}

fn graph(env: &Env) -> gc_graph::GraphClient {
    gc_graph::GraphClient::new(graph_connector::wiring::graph_options(&env.config()).unwrap())
        .unwrap()
}

fn today(env: &Env) -> jiff::civil::Date {
    gc_crm::localtime::to_local(jiff::Timestamp::now(), env.crm().time_zone()).0
}

/// One piece of new work given to a sandbox.
#[derive(Debug, Clone)]
pub enum Work {
    /// A message delivered into the sync folders of these users.
    Mail(Box<NewMessage>, Vec<String>),
    /// A CRM task of this rep, due in `due` days.
    Task {
        rep_id: String,
        subject: String,
        due: i64,
    },
    /// A meeting in this user's calendar, in `day` days at `hour` UTC.
    Meeting {
        user: String,
        subject: String,
        day: i64,
        hour: i8,
    },
    /// A CRM appointment of this rep (number), in `day` days at `hour` (CRM's time zone):
    /// the other direction of appointments.
    CrmMeeting {
        rep_id: String,
        subject: String,
        day: i64,
        hour: i8,
    },
}

/// Draws new work (seeded) and keeps a log of it, so that an identical sandbox can get the
/// same later ([`apply_all`]).
pub struct Feeder {
    rng: ChaCha8Rng,
    serial: usize,
    mail_users: Vec<String>,
    task_reps: Vec<String>,
    meeting_users: Vec<String>,
    meeting_reps: Vec<String>,
    externals: Vec<String>,
    pub log: Vec<Work>,
}

impl Feeder {
    pub async fn new(env: &Env, seed: u64) -> Feeder {
        Feeder {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x776f_726b),
            serial: 0,
            mail_users: env.enabled_users().await,
            task_reps: users_with(env, |r| r.sync_tasks)
                .await
                .into_iter()
                .map(|(_, r)| r.rep_id)
                .collect(),
            meeting_users: users_with(env, |r| r.sync_appointments)
                .await
                .into_iter()
                .map(|(u, _)| u)
                .collect(),
            meeting_reps: users_with(env, |r| r.sync_appointments)
                .await
                .into_iter()
                .map(|(_, r)| r.rep_id)
                .collect(),
            externals: env
                .demo
                .sandbox
                .directory()
                .externals
                .iter()
                .map(|p| p.email.clone())
                .collect(),
            log: Vec::new(),
        }
    }

    pub fn mail_users(&self) -> &[String] {
        &self.mail_users
    }

    /// `mails` new messages (about one in four to two or three users with one
    /// `internetMessageId`), `tasks` CRM tasks and `meetings` meetings, given to `env` and
    /// logged.
    pub async fn top_up(&mut self, env: &Env, mails: usize, tasks: usize, meetings: usize) {
        let mut new = Vec::new();
        for _ in 0..mails {
            self.serial += 1;
            let s = self.serial;
            let users = &self.mail_users;
            let first = self.rng.random_range(0..users.len());
            let copies = if users.len() > 1 && self.rng.random_bool(0.25) {
                self.rng.random_range(2..=users.len().min(3))
            } else {
                1
            };
            let to: Vec<String> = (0..copies)
                .map(|i| users[(first + i) % users.len()].clone())
                .collect();
            let msg = NewMessage {
                subject: format!("Follow-up {s} on the offer"),
                from: Some(self.externals[self.rng.random_range(0..self.externals.len())].clone()),
                to: to.clone(),
                body_html: Some(format!("<p>Follow-up number {s} with the figures.</p>")),
                folder: Some(SYNC.to_owned()),
                internet_message_id: Some(format!("<follow-up-{s}@all-kinds.example>")),
                ..Default::default()
            };
            new.push(Work::Mail(Box::new(msg), to));
        }
        for _ in 0..tasks {
            self.serial += 1;
            let rep_id = self.task_reps[self.rng.random_range(0..self.task_reps.len())].clone();
            new.push(Work::Task {
                rep_id,
                subject: format!("Call back {}", self.serial),
                due: self.rng.random_range(0..5),
            });
        }
        for m in 0..meetings {
            self.serial += 1;
            // Every other meeting is entered in CRM: appointments travel both ways.
            if m % 2 == 1 {
                let rep_id =
                    self.meeting_reps[self.rng.random_range(0..self.meeting_reps.len())].clone();
                new.push(Work::CrmMeeting {
                    rep_id,
                    subject: format!("CRM meeting {}", self.serial),
                    day: self.rng.random_range(1..6),
                    hour: self.rng.random_range(8..17),
                });
                continue;
            }
            let user =
                self.meeting_users[self.rng.random_range(0..self.meeting_users.len())].clone();
            new.push(Work::Meeting {
                user,
                subject: format!("Review meeting {}", self.serial),
                day: self.rng.random_range(1..6),
                hour: self.rng.random_range(8..17),
            });
        }
        for w in new {
            apply(env, &w).await;
            self.log.push(w);
        }
    }
}

/// Gives one piece of work to `env`.
pub async fn apply(env: &Env, w: &Work) {
    match w {
        Work::Mail(msg, to) => {
            let st = env.demo.sandbox.state();
            for u in to {
                st.deliver(u, (**msg).clone()).unwrap();
            }
        }
        Work::Task {
            rep_id,
            subject,
            due,
        } => {
            let due = today(env)
                .checked_add(jiff::Span::new().days(*due))
                .unwrap();
            env.crm()
                .master()
                .insert_task(&NewTask {
                    rep_id: rep_id.clone(),
                    subject: subject.clone(),
                    text: format!("{subject}: details"),
                    start_date: None,
                    due_date: Some(due),
                    status: "Open".into(),
                    priority: Some("High".into()),
                })
                .await
                .unwrap();
        }
        Work::CrmMeeting {
            rep_id,
            subject,
            day,
            hour,
        } => insert_crm_meeting(env, rep_id, subject, *day, *hour).await,
        Work::Meeting {
            user,
            subject,
            day,
            hour,
        } => {
            let d = jiff::tz::TimeZone::UTC
                .to_datetime(jiff::Timestamp::now())
                .date()
                .checked_add(jiff::Span::new().days(*day))
                .unwrap();
            graph(env)
                .create_event(
                    user,
                    &json!({
                        "subject": subject,
                        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
                        "start": {"dateTime": format!("{d}T{hour:02}:00:00"), "timeZone": "UTC"},
                        "end": {"dateTime": format!("{d}T{:02}:00:00", hour + 1), "timeZone": "UTC"},
                    }),
                )
                .await
                .unwrap();
        }
    }
}

async fn insert_crm_meeting(env: &Env, rep_id: &str, subject: &str, day: i64, hour: i8) {
    let d = today(env).checked_add(jiff::Span::new().days(day)).unwrap();
    let mut a = gc_crm::NewActivity::new("Meeting", subject, d);
    a.time = Some(jiff::civil::time(hour, 0, 0, 0));
    a.end_date = Some(d);
    a.end_time = Some(jiff::civil::time(hour + 1, 0, 0, 0));
    a.rep_id = Some(rep_id.to_owned());
    a.text = format!("{subject}: agenda");
    env.crm().master().insert_activity(&a).await.unwrap();
}

/// Gives all of `log` to `env`, in order.
pub async fn apply_all(env: &Env, log: &[Work]) {
    for w in log {
        apply(env, w).await;
    }
}

/// Messages still waiting in the sync folders of `users`.
pub fn waiting(env: &Env, users: &[String]) -> usize {
    users.iter().map(|u| env.count(u, SYNC)).sum()
}

/// What must be equal between two runs on identical sandboxes, per kind, as multisets (ids
/// and dates differ between sandboxes; subjects and names do not).
#[derive(Debug, PartialEq, Eq, Default)]
pub struct KindsState {
    /// E-mail: per user (in the sync folder, in Sync_Success, in Sync_Failure).
    pub mail_folders: BTreeMap<String, (usize, usize, usize)>,
    /// E-mail and appointments: the activities the connector wrote (station 2), by (type,
    /// subject).
    pub activities: BTreeMap<(String, String), usize>,
    /// Tasks: (user, list, title, status) of To Do tasks.
    pub todo: BTreeMap<(String, String, String, String), usize>,
    /// Contacts: (user, folder, display name).
    pub contacts: BTreeMap<(String, String, String), usize>,
    /// Absences (and the calendars the appointments read, left as they are): (user, subject)
    /// of calendar events.
    pub events: BTreeMap<(String, String), usize>,
}

impl KindsState {
    /// Items per kind, to show that a run had something to do for every kind.
    pub fn sizes(&self) -> [(&'static str, usize); 5] {
        let n = |m: &BTreeMap<(String, String), usize>, ty: &str| -> usize {
            m.iter()
                .filter(|((t, _), _)| t.eq_ignore_ascii_case(ty))
                .map(|(_, c)| c)
                .sum()
        };
        [
            ("e-mails", n(&self.activities, "e-mail")),
            ("appointments", n(&self.activities, "meeting")),
            (
                "to do tasks",
                self.todo
                    .iter()
                    .filter(|((_, l, _, _), _)| l == "CRM")
                    .map(|(_, c)| c)
                    .sum(),
            ),
            (
                "contacts",
                self.contacts
                    .iter()
                    .filter(|((_, f, _), _)| f == "CRM")
                    .map(|(_, c)| c)
                    .sum(),
            ),
            (
                "absence events",
                self.events
                    .iter()
                    .filter(|((_, s), _)| s == "Vacation")
                    .map(|(_, c)| c)
                    .sum(),
            ),
        ]
    }

    /// Asserts per kind that `self` equals `expected`, naming the kind that differs.
    pub fn assert_same(&self, expected: &KindsState) {
        assert_eq!(
            self.mail_folders, expected.mail_folders,
            "e-mail: folder counts differ"
        );
        assert_eq!(
            self.activities, expected.activities,
            "e-mail/appointments: activities differ"
        );
        assert_eq!(self.todo, expected.todo, "tasks: To Do tasks differ");
        assert_eq!(self.contacts, expected.contacts, "contacts differ");
        assert_eq!(
            self.events, expected.events,
            "absences: calendar events differ"
        );
    }
}

/// The final state of `env` per kind.
pub async fn state(env: &Env) -> KindsState {
    let mut s = KindsState::default();
    let st = env.demo.sandbox.state();
    for u in env.users() {
        s.mail_folders.insert(
            u.clone(),
            (
                env.count(&u, SYNC),
                env.count(&u, &format!("{SYNC}/Sync_Success")),
                env.count(&u, &format!("{SYNC}/Sync_Failure")),
            ),
        );
        for (list, title, status) in st.tasks(&u).unwrap_or_default() {
            *s.todo.entry((u.clone(), list, title, status)).or_default() += 1;
        }
        for (_, name, folder) in st.contacts(&u).unwrap_or_default() {
            *s.contacts.entry((u.clone(), folder, name)).or_default() += 1;
        }
        for (_, subject, _) in st.events(&u).unwrap_or_default() {
            *s.events.entry((u.clone(), subject)).or_default() += 1;
        }
    }
    let crm = env.crm();
    let ty = crm.dialect().activity.contact_type.clone();
    for a in all_activities(env).await {
        if a.id.get() >> 32 != 2 {
            continue;
        }
        let k = (
            a.get(&ty).unwrap_or_default().to_owned(),
            a.get("Subject").unwrap_or_default().to_owned(),
        );
        *s.activities.entry(k).or_default() += 1;
    }
    s
}

async fn all_activities(env: &Env) -> Vec<gc_crm::Activity> {
    env.crm()
        .master()
        .activities(&ActivityFilter {
            from: jiff::civil::date(2000, 1, 1),
            to: jiff::civil::date(2100, 12, 31),
            rep_id: None,
            condition: None,
            fields: Vec::new(),
            with_participants: false,
            max_records: None,
        })
        .await
        .unwrap()
}

/// Global keys of the active links of `kind`, with the CRM record each link names.
async fn links(store: &dyn gc_store::StateStore, kind: Kind) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for m in store.list_mailboxes().await.unwrap() {
        let mut after: Option<String> = None;
        loop {
            let page = store
                .list_links(&m.rep_id, kind, after.as_deref(), 500)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.graph_id.clone());
            for l in page {
                if let (LinkState::Active, Some(k), Some(id)) = (l.state, l.global_key, l.crm_id) {
                    out.push((k, id.get()));
                }
            }
        }
    }
    out
}

/// Asserts that no kind duplicated anything in `env` (state store `store`):
/// - e-mail: one activity per `internetMessageId` (links and CRM external keys);
/// - appointments: one CRM appointment per `iCalUId` of the calendars;
/// - e-mail and appointments: no activity the connector wrote without an external key;
/// - tasks: one To Do task per CRM task of the window, one external key per To Do task;
/// - contacts: one contact per person in the folder;
/// - absences: one event per absence of the window.
pub async fn assert_no_duplicates(env: &Env, store: &dyn gc_store::StateStore) {
    let crm = env.crm();
    let master = crm.master();
    let st = env.demo.sandbox.state();

    // E-mail and appointments: one activity per key, in the links and in CRM.
    let mut keys = BTreeSet::new();
    for kind in [Kind::Email, Kind::Appointment] {
        let mut ids_of: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for (k, id) in links(store, kind).await {
            ids_of.entry(k).or_default().insert(id);
        }
        for (k, ids) in &ids_of {
            assert_eq!(ids.len(), 1, "{kind:?} {k}: linked to activities {ids:?}");
        }
        keys.extend(ids_of.into_keys());
    }
    for u in env.users() {
        for (_, _, uid) in st.events(&u).unwrap_or_default() {
            if !uid.is_empty() {
                keys.insert(uid);
            }
        }
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let act_table = crm.dialect().activity.table.clone();
    let mut records_of: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    let mut referenced = BTreeSet::new();
    let xks = master.find_external_keys(None, &keys).await.unwrap();
    for x in &xks {
        if let Some((t, id)) = &x.record
            && *t == act_table
        {
            records_of.entry(&x.ext_key).or_default().insert(id.get());
            referenced.insert(id.get());
        }
    }
    // Several records under one key that the connector wrote none of are the seeded legacy
    // data's (written so by the old connector), not a duplicate of this one.
    let dup: Vec<_> = records_of
        .iter()
        .filter(|(_, r)| r.len() > 1 && r.iter().any(|id| id >> 32 == 2))
        .collect();
    assert!(dup.is_empty(), "keys with several activities: {dup:#?}");
    let orphans: Vec<gc_store::CrmId> = all_activities(env)
        .await
        .iter()
        .filter(|a| a.id.get() >> 32 == 2 && !referenced.contains(&a.id.get()))
        .map(|a| gc_store::CrmId(a.id.get()))
        .collect();
    if !orphans.is_empty() {
        panic!(
            "activities without external key (duplicates):\n{}",
            explain_orphans(env, store, &orphans).await
        );
    }

    // Tasks: one To Do task per CRM task of the window, one external key per To Do task.
    let g = graph(env);
    let today = today(env);
    let window = |d: i64| today.checked_add(jiff::Span::new().days(d)).unwrap();
    let cfg = env.config();
    for (u, rep) in users_with(env, |r| r.sync_tasks).await {
        let lists = g.list_todo_lists(&u).await.unwrap();
        let Some(list) = lists
            .iter()
            .find(|l| l.display_name.as_deref() == Some(cfg.tasks.list_name.as_str()))
        else {
            panic!("{u}: no To Do list {:?}", cfg.tasks.list_name);
        };
        let todos = g.list_todo_tasks(&u, &list.id).collect_ok().await.unwrap();
        let mut titles: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &todos {
            *titles
                .entry(t.title.as_deref().unwrap_or_default())
                .or_default() += 1;
        }
        let in_window = master
            .tasks_in_window(&TaskWindow {
                rep_id: rep.rep_id.clone(),
                from: window(-i64::from(cfg.tasks.days_past)),
                to: window(i64::from(cfg.tasks.days_future)),
                changed_since: None,
            })
            .await
            .unwrap();
        for t in in_window.iter().filter(|t| !t.deleted) {
            assert_eq!(
                titles.get(t.subject.as_str()).copied().unwrap_or(0),
                1,
                "{u}: To Do tasks for CRM task {} {:?}",
                t.id,
                t.subject
            );
        }
        let ids: Vec<String> = todos.iter().map(|t| t.id.clone()).collect();
        let xks = master.find_external_keys(None, &ids).await.unwrap();
        for id in &ids {
            let n = xks.iter().filter(|x| &x.ext_key == id).count();
            assert_eq!(n, 1, "{u}: To Do task {id} has {n} external keys");
        }
    }

    // Contacts: one contact per person in the folder.
    for u in env.users() {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (_, name, folder) in st.contacts(&u).unwrap_or_default() {
            if folder == cfg.contacts.folder_name {
                *names.entry(name).or_default() += 1;
            }
        }
        let dup: Vec<_> = names.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dup.is_empty(), "{u}: contacts twice in the folder: {dup:?}");
    }

    // Absences: one event per absence of the window, found by the id it carries (the
    // users' own events, a "Vacation" among them, are not the kind's).
    for (u, rep) in users_with(env, |r| r.sync_absences).await {
        let absences = master
            .absences(
                &rep.rep_id,
                window(-i64::from(cfg.absences.days_past)),
                window(i64::from(cfg.absences.days_future)),
            )
            .await
            .unwrap();
        for a in absences {
            let want = a.id.to_string();
            let n = g
                .events_with_property(&u, ABSENCE_PROPERTY, &want)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.extended_property(ABSENCE_PROPERTY) == Some(want.as_str()))
                .count();
            assert_eq!(n, 1, "{u}: {n} events for absence {want}");
        }
    }
}

/// What is known of activities no collected key names: the record, every external key that
/// points at it (under any key), and the ledger entries about it, so that a failure of
/// [`assert_no_duplicates`] says how the record came about.
async fn explain_orphans(
    env: &Env,
    store: &dyn gc_store::StateStore,
    ids: &[gc_store::CrmId],
) -> String {
    let sandbox = env.demo.crm.clone().unwrap();
    let dl = env.crm().dialect().clone();
    let keys = sandbox.records(&dl.external_key.table).await.unwrap();
    let mut out = String::new();
    for id in ids {
        let record = sandbox.record(id.get()).await.unwrap();
        out.push_str(&format!("activity {id}: {record:?}\n"));
        for k in keys
            .iter()
            .filter(|k| k.links.iter().any(|(_, l)| *l == id.get()))
        {
            out.push_str(&format!("  external key {k:?}\n"));
        }
        let entries = store
            .query_ledger(&gc_store::LedgerFilter {
                crm_id: Some(*id),
                ..Default::default()
            })
            .await
            .unwrap();
        for e in entries {
            out.push_str(&format!(
                "  ledger {} {:?} {:?} {} {:?}: {} {:?}\n",
                e.at, e.mailbox, e.kind, e.item_key, e.action, e.reason, e.detail
            ));
        }
    }
    out
}
