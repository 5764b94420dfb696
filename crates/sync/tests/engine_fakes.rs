//! The executor without sockets: in-memory Graph and CRM behind the ports, the real SQLite
//! store. Interruptions are injected exactly where they hurt most.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use async_trait::async_trait;
use gc_store::{CrmId, Kind, StateStore};
use gc_sync::email::model::{
    ActivityPlan, Address, Body, DocumentPlan, ExistingActivity, ExistingParticipant, FoundBy,
    MailAttachment, MailItem, MailMessage, MailPage, Owner, ParkedDocument, ParticipantPlan,
    PeopleMatch, RepRef,
};
use gc_sync::engine::Spool;
use gc_sync::ports::{
    ActivityCrm, Content, CreateOutcome, DocumentMeta, ErrorClass, FolderRef, MailGraph,
    Notification, Notifier, PortError,
};
use gc_sync::{
    EmailKind, EmailRules, Engine, MailboxOutcome, MailboxReport, MailboxTarget, NoProgress,
    RunPolicy,
};
use tokio_util::sync::CancellationToken;

const SYNC: &str = "sync";
const PAGE: usize = 2;

/// mailbox → Graph id → (folder, message)
type Mailboxes = BTreeMap<String, BTreeMap<String, (String, MailMessage)>>;

#[derive(Default)]
struct FakeGraph {
    messages: Mutex<Mailboxes>,
    expire_next_delta: AtomicBool,
    fail_moves: AtomicU32,
    deny: AtomicBool,
    notes: Mutex<Vec<(String, String)>>,
    /// Messages Graph cannot represent (their JSON does not decode): delivered as broken items.
    broken: Mutex<Vec<String>>,
}

impl FakeGraph {
    fn put(&self, mailbox: &str, m: MailMessage) {
        self.messages
            .lock()
            .unwrap()
            .entry(mailbox.into())
            .or_default()
            .insert(m.id.clone(), (SYNC.into(), m));
    }
    fn count(&self, mailbox: &str, folder: &str) -> usize {
        self.messages
            .lock()
            .unwrap()
            .get(mailbox)
            .map_or(0, |m| m.values().filter(|(f, _)| f == folder).count())
    }
}

#[async_trait]
impl MailGraph for FakeGraph {
    async fn folder(&self, _: &str, _: &str, _: bool) -> Result<Option<FolderRef>, PortError> {
        if self.deny.load(Ordering::SeqCst) {
            return Err(PortError::new(ErrorClass::Mailbox, "403 access denied"));
        }
        Ok(Some(FolderRef {
            id: SYNC.into(),
            name: "crm".into(),
            total: None,
        }))
    }
    async fn child_folders(&self, _: &str, _: &str) -> Result<Vec<FolderRef>, PortError> {
        Ok(Vec::new())
    }
    async fn create_child_folder(
        &self,
        _: &str,
        _: &str,
        name: &str,
    ) -> Result<FolderRef, PortError> {
        Ok(FolderRef {
            id: name.into(),
            name: name.into(),
            total: None,
        })
    }
    async fn delta_page(
        &self,
        mailbox: &str,
        _: &str,
        checkpoint: Option<&str>,
    ) -> Result<MailPage, PortError> {
        if checkpoint == Some("delta") && self.expire_next_delta.swap(false, Ordering::SeqCst) {
            return Err(PortError::new(ErrorClass::SyncStateExpired, "410"));
        }
        // Keyset paging by id, stable while messages move out (like Graph's skip tokens).
        let after = checkpoint
            .and_then(|c| c.strip_prefix("after:"))
            .map(str::to_owned);
        let all: Vec<MailMessage> = self
            .messages
            .lock()
            .unwrap()
            .get(mailbox)
            .map(|m| {
                m.values()
                    .filter(|(f, m)| f == SYNC && after.as_ref().is_none_or(|a| &m.id > a))
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default();
        let page: Vec<MailMessage> = all.iter().take(PAGE).cloned().collect();
        let more = all.len() > PAGE;
        Ok(MailPage {
            next_link: more.then(|| format!("after:{}", page[PAGE - 1].id)),
            delta_link: (!more).then(|| "delta".to_owned()),
            items: page
                .into_iter()
                .map(|m| {
                    if self.broken.lock().unwrap().contains(&m.id) {
                        MailItem::Broken {
                            id: Some(m.id),
                            reason: "invalid UTF-16 escape in 'subject'".into(),
                        }
                    } else {
                        MailItem::Message(Box::new(m))
                    }
                })
                .collect(),
        })
    }
    async fn attachments(&self, _: &str, _: &str) -> Result<Vec<MailAttachment>, PortError> {
        Ok(vec![MailAttachment {
            id: "att-1".into(),
            name: "a.txt".into(),
            content_type: "text/plain".into(),
            size: 3,
            inline: false,
            item: false,
            unreadable: None,
        }])
    }
    async fn download(
        &self,
        _: &str,
        _: &str,
        what: Content<'_>,
        _: u64,
    ) -> Result<Option<Spool>, PortError> {
        let bytes: &[u8] = match what {
            Content::Message => b"MIME",
            Content::Attachment(_) => b"abc",
        };
        Ok(Some(Spool::from_bytes(bytes).unwrap()))
    }
    async fn move_to(&self, mailbox: &str, id: &str, folder: &str) -> Result<(), PortError> {
        if self.fail_moves.load(Ordering::SeqCst) > 0 {
            self.fail_moves.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::transient("503"));
        }
        let mut all = self.messages.lock().unwrap();
        let m = all
            .get_mut(mailbox)
            .and_then(|m| m.get_mut(id))
            .ok_or_else(|| PortError::new(ErrorClass::NotFound, "gone"))?;
        m.0 = folder.into();
        Ok(())
    }
    async fn set_categories(&self, mailbox: &str, id: &str, c: &[String]) -> Result<(), PortError> {
        if let Some(m) = self
            .messages
            .lock()
            .unwrap()
            .get_mut(mailbox)
            .and_then(|m| m.get_mut(id))
        {
            m.1.categories = c.to_vec();
        }
        Ok(())
    }
}

#[async_trait]
impl Notifier for FakeGraph {
    async fn notify(&self, mailbox: &str, note: &Notification) -> Result<(), PortError> {
        self.notes
            .lock()
            .unwrap()
            .push((mailbox.into(), note.subject.clone()));
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Act {
    id: CrmId,
    key: Option<String>,
    plan: ActivityPlan,
    participants: Vec<ParticipantPlan>,
    documents: Vec<String>,
}

#[derive(Default)]
struct FakeCrm {
    acts: Mutex<Vec<Act>>,
    /// Simulates a process killed between the activity insert and its external key.
    die_after_insert: AtomicU32,
    reject_all: AtomicBool,
    /// CRM.interface refuses to act for every rep (e.g. no licence).
    refuse_impersonation: AtomicBool,
    /// The dialect names a marker field: interrupted inserts are found by their marker.
    by_marker: AtomicBool,
    /// After this many creates, CRM answers that a field does not exist (a tenant error).
    unknown_field_after: Mutex<Option<u32>>,
    /// CRM.interface does not know a name the configuration gives (a tenant-level error).
    unknown_name: AtomicBool,
}

fn existing(a: &Act, found_by: FoundBy) -> ExistingActivity {
    ExistingActivity {
        id: a.id,
        participants: a
            .participants
            .iter()
            .map(|p| ExistingParticipant {
                email: Some(p.email.clone()),
                rep: p.rep,
                person: p.person,
            })
            .collect(),
        found_by,
    }
}

#[async_trait]
impl ActivityCrm for FakeCrm {
    async fn check_rep_access(&self, rep: &str) -> Result<(), PortError> {
        if self.refuse_impersonation.load(Ordering::SeqCst) {
            return Err(PortError::new(
                ErrorClass::Mailbox,
                format!("impersonation of {rep} refused"),
            ));
        }
        Ok(())
    }
    async fn find_people(&self, _: &str, _: &[String]) -> Result<PeopleMatch, PortError> {
        Ok(PeopleMatch::default())
    }
    async fn find_by_key(&self, _: &str, key: &str) -> Result<Option<ExistingActivity>, PortError> {
        if self.unknown_name.load(Ordering::SeqCst) {
            return Err(PortError::new(
                ErrorClass::Tenant,
                "CRM.interface does not know the field \"Mailbox\"; set [crm.dialect.external_key] mailbox",
            ));
        }
        Ok(self
            .acts
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.key.as_deref() == Some(key))
            .map(|a| existing(a, FoundBy::ExternalKey)))
    }
    async fn activity(&self, _: &str, id: CrmId) -> Result<Option<ExistingActivity>, PortError> {
        Ok(self
            .acts
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.id == id)
            .map(|a| existing(a, FoundBy::Link)))
    }
    async fn find_orphan(
        &self,
        _: &str,
        plan: &ActivityPlan,
    ) -> Result<Option<ExistingActivity>, PortError> {
        Ok(self
            .acts
            .lock()
            .unwrap()
            .iter()
            .find(|a| {
                a.key.is_none()
                    && if self.by_marker.load(Ordering::SeqCst) {
                        a.plan.marker == plan.marker
                    } else {
                        a.plan.rep_number == plan.rep_number
                            && a.plan.subject == plan.subject
                            && a.plan.text == plan.text
                            && a.plan.date == plan.date
                            && a.plan.time == plan.time
                    }
            })
            .map(|a| existing(a, FoundBy::Orphan)))
    }
    async fn create(
        &self,
        _: &str,
        plan: &ActivityPlan,
        docs: &[DocumentPlan],
        _: &str,
    ) -> Result<CreateOutcome, PortError> {
        if self.reject_all.load(Ordering::SeqCst) {
            return Err(PortError::new(
                ErrorClass::Item,
                "CRM.interface rejected Contact: 500 Permission denied",
            ));
        }
        if let Some(n) = self.unknown_field_after.lock().unwrap().as_mut() {
            if *n == 0 {
                return Err(PortError::new(
                    ErrorClass::Tenant,
                    "CRM.interface: field Contact.NoSuchField does not exist; set [crm.dialect.activity]",
                ));
            }
            *n -= 1;
        }
        let mut acts = self.acts.lock().unwrap();
        let id = 1000 + acts.len() as u64;
        let die = self.die_after_insert.load(Ordering::SeqCst) > 0;
        acts.push(Act {
            id: CrmId(id),
            key: (!die).then(|| plan.key.clone()),
            plan: plan.clone(),
            participants: if die {
                Vec::new()
            } else {
                plan.participants.clone()
            },
            documents: if die {
                Vec::new()
            } else {
                docs.iter().map(|d| d.file_name.clone()).collect()
            },
        });
        if die {
            self.die_after_insert.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::transient("connection lost after the insert"));
        }
        Ok(CreateOutcome::Complete(CrmId(id)))
    }
    async fn add_key(&self, _: &str, activity: CrmId, key: &str, _: &str) -> Result<(), PortError> {
        let mut acts = self.acts.lock().unwrap();
        acts.iter_mut().find(|a| a.id == activity).unwrap().key = Some(key.into());
        Ok(())
    }
    async fn add_participants(
        &self,
        _: &str,
        activity: CrmId,
        ps: &[ParticipantPlan],
    ) -> Result<(), PortError> {
        let mut acts = self.acts.lock().unwrap();
        acts.iter_mut()
            .find(|a| a.id == activity)
            .unwrap()
            .participants
            .extend(ps.iter().cloned());
        Ok(())
    }
    async fn documents(&self, _: &str, activity: CrmId) -> Result<Vec<DocumentMeta>, PortError> {
        let acts = self.acts.lock().unwrap();
        Ok(acts
            .iter()
            .find(|a| a.id == activity)
            .unwrap()
            .documents
            .iter()
            .map(|d| DocumentMeta {
                file_name: d.clone(),
                size: None,
            })
            .collect())
    }
    async fn add_document(
        &self,
        _: &str,
        activity: CrmId,
        d: &ParkedDocument,
    ) -> Result<(), PortError> {
        let mut acts = self.acts.lock().unwrap();
        acts.iter_mut()
            .find(|a| a.id == activity)
            .unwrap()
            .documents
            .push(d.file_name.clone());
        Ok(())
    }
}

fn owner(n: u64) -> Owner {
    let email = format!("rep{n}@contoso.example");
    Owner {
        mailbox: n.to_string(),
        rep_crm_id: CrmId(n),
        rep_number: format!("R{n}"),
        name: format!("Rep {n}"),
        email: email.clone(),
        addresses: vec![email],
        language: None,
        kinds: gc_sync::engine::RepKinds::ALL,
        settings: Default::default(),
    }
}

fn message(id: &str, key: &str, to: &[&str]) -> MailMessage {
    MailMessage {
        id: id.into(),
        internet_message_id: Some(key.into()),
        subject: format!("Subject {key}"),
        received: Some("2026-11-20T10:00:00Z".parse().unwrap()),
        from: Some(Address::new("customer@else.example", None)),
        to: to.iter().map(|a| Address::new(a, None)).collect(),
        body: Some(Body {
            html: false,
            content: format!("Body of {key}"),
        }),
        has_attachments: true,
        ..Default::default()
    }
}

/// The engine with the e-mail kind over the fakes, as the binary wires them.
struct Filing {
    engine: Engine,
    kind: EmailKind,
}

impl Filing {
    fn new(
        graph: &Arc<FakeGraph>,
        crm: &Arc<FakeCrm>,
        store: &Arc<dyn StateStore>,
        rules: EmailRules,
        policy: RunPolicy,
        reps: Vec<RepRef>,
    ) -> Self {
        Filing {
            engine: Engine::new(store.clone(), policy, "test"),
            kind: EmailKind::new(graph.clone(), crm.clone(), graph.clone(), rules, reps),
        }
    }

    async fn run_mailbox(&self, target: &MailboxTarget, _: &NoProgress) -> MailboxReport {
        self.engine
            .run_mailbox(&self.kind, target, &NoProgress, &CancellationToken::new())
            .await
    }

    async fn run_all(
        &self,
        targets: &[MailboxTarget],
        parallel: usize,
        _: &NoProgress,
    ) -> Vec<MailboxReport> {
        self.engine
            .run_all(
                &self.kind,
                targets,
                parallel,
                &NoProgress,
                &CancellationToken::new(),
            )
            .await
    }
}

struct World {
    graph: Arc<FakeGraph>,
    crm: Arc<FakeCrm>,
    store: Arc<dyn StateStore>,
    engine: Filing,
    targets: Vec<MailboxTarget>,
}

async fn world(reps: u64) -> World {
    let graph = Arc::new(FakeGraph::default());
    let crm = Arc::new(FakeCrm::default());
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    let targets: Vec<MailboxTarget> = (1..=reps)
        .map(|n| MailboxTarget {
            owner: owner(n),
            graph_user: owner(n).email,
        })
        .collect();
    let rep_refs = targets
        .iter()
        .map(|t| RepRef {
            crm_id: t.owner.rep_crm_id,
            email: t.owner.email.clone(),
            rep_number: t.owner.rep_number.clone(),
        })
        .collect();
    let engine = Filing::new(
        &graph,
        &crm,
        &store,
        EmailRules::default(),
        RunPolicy::default(),
        rep_refs,
    );
    World {
        graph,
        crm,
        store,
        engine,
        targets,
    }
}

#[tokio::test]
async fn shared_message_in_parallel_mailboxes_gives_one_activity() {
    let w = world(3).await;
    let all = [
        "rep1@contoso.example",
        "rep2@contoso.example",
        "rep3@contoso.example",
    ];
    for t in &w.targets {
        w.graph.put(
            &t.owner.email,
            message(&format!("g-{}", t.owner.mailbox), "<shared@x>", &all),
        );
        w.graph.put(
            &t.owner.email,
            message(
                &format!("own-{}", t.owner.mailbox),
                &format!("<own{}@x>", t.owner.mailbox),
                &all,
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
