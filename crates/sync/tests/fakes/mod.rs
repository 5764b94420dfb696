//! In-memory Graph and CRM behind the e-mail kind's ports, and the engine wired over them
//! with the real SQLite store: the world the executor tests in `engine_fakes.rs` run in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use async_trait::async_trait;
use gc_store::{CrmId, StateStore};
use gc_sync::email::model::{
    ActivityPlan, Address, Body, DocumentPlan, ExistingActivity, FoundBy, MailAttachment, MailItem,
    MailMessage, MailPage, Owner, ParkedDocument, ParticipantPlan, PeopleMatch, RepRef,
};
use gc_sync::engine::Spool;
use gc_sync::ports::{
    ActivityCrm, Content, CreateOutcome, DocumentMeta, ErrorClass, FolderRef, MailGraph,
    Notification, Notifier, PageLookup, PortError,
};
use gc_sync::{EmailKind, EmailRules, Engine, MailboxReport, MailboxTarget, NoProgress, RunPolicy};
use tokio_util::sync::CancellationToken;

pub const SYNC: &str = "sync";
pub const PAGE: usize = 2;

/// mailbox → Graph id → (folder, message)
pub type Mailboxes = BTreeMap<String, BTreeMap<String, (String, MailMessage)>>;

#[derive(Default)]
pub struct FakeGraph {
    pub messages: Mutex<Mailboxes>,
    pub expire_next_delta: AtomicBool,
    pub fail_moves: AtomicU32,
    pub deny: AtomicBool,
    pub notes: Mutex<Vec<(String, String)>>,
    /// Messages Graph cannot represent (their JSON does not decode): delivered as broken items.
    pub broken: Mutex<Vec<String>>,
}

impl FakeGraph {
    pub fn put(&self, mailbox: &str, m: MailMessage) {
        self.messages
            .lock()
            .unwrap()
            .entry(mailbox.into())
            .or_default()
            .insert(m.id.clone(), (SYNC.into(), m));
    }
    pub fn count(&self, mailbox: &str, folder: &str) -> usize {
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
pub struct Act {
    pub id: CrmId,
    pub key: Option<String>,
    pub plan: ActivityPlan,
    pub participants: Vec<ParticipantPlan>,
    pub documents: Vec<String>,
}

#[derive(Default)]
pub struct FakeCrm {
    pub acts: Mutex<Vec<Act>>,
    /// Simulates a process killed between the activity insert and its external key.
    pub die_after_insert: AtomicU32,
    pub reject_all: AtomicBool,
    /// CRM.interface refuses to act for every rep (e.g. no licence).
    pub refuse_impersonation: AtomicBool,
    /// The dialect names a marker field: interrupted inserts are found by their marker.
    pub by_marker: AtomicBool,
    /// After this many creates, CRM answers that a field does not exist (a tenant error).
    pub unknown_field_after: Mutex<Option<u32>>,
    /// CRM.interface does not know a name the configuration gives (a tenant-level error).
    pub unknown_name: AtomicBool,
    /// A page's lookup finds no external key, as when it ran before another mailbox created
    /// the activity.
    pub pages_before_creates: AtomicBool,
    /// Activities read one by one (by key or by id) outside a page's lookup.
    pub reads: AtomicU32,
}

impl FakeCrm {
    /// The tenant-level error of a configuration naming a field CRM.interface does not know.
    fn names_known(&self) -> Result<(), PortError> {
        if self.unknown_name.load(Ordering::SeqCst) {
            return Err(PortError::new(
                ErrorClass::Tenant,
                "CRM.interface does not know the field \"Mailbox\"; set [crm.dialect.external_key] mailbox",
            ));
        }
        Ok(())
    }
}

pub fn existing(a: &Act, found_by: FoundBy) -> ExistingActivity {
    ExistingActivity {
        id: a.id,
        participants: a.participants.iter().map(Into::into).collect(),
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
    async fn lookup_page(
        &self,
        _: &str,
        keys: &[String],
        _: &[String],
    ) -> Result<PageLookup, PortError> {
        self.names_known()?;
        let mut found = PageLookup::default();
        if self.pages_before_creates.load(Ordering::SeqCst) {
            return Ok(found);
        }
        for a in self.acts.lock().unwrap().iter() {
            if let Some(k) = a.key.as_ref().filter(|k| keys.contains(k)) {
                found.known_keys.entry(k.clone()).or_insert(a.id);
            }
        }
        Ok(found)
    }
    async fn find_by_key(&self, _: &str, key: &str) -> Result<Option<ExistingActivity>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.names_known()?;
        Ok(self
            .acts
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.key.as_deref() == Some(key))
            .map(|a| existing(a, FoundBy::ExternalKey)))
    }
    async fn activity(&self, _: &str, id: CrmId) -> Result<Option<ExistingActivity>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
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

pub fn owner(n: u64) -> Owner {
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

pub fn message(id: &str, key: &str, to: &[&str]) -> MailMessage {
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
pub struct Filing {
    pub engine: Engine,
    pub kind: EmailKind,
}

impl Filing {
    pub fn new(
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

    pub async fn run_mailbox(&self, target: &MailboxTarget, _: &NoProgress) -> MailboxReport {
        self.engine
            .run_mailbox(&self.kind, target, &NoProgress, &CancellationToken::new())
            .await
    }

    pub async fn run_all(
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

pub struct World {
    pub graph: Arc<FakeGraph>,
    pub crm: Arc<FakeCrm>,
    pub store: Arc<dyn StateStore>,
    pub engine: Filing,
    pub targets: Vec<MailboxTarget>,
    /// The enabled reps the kind was made with.
    pub reps: Vec<RepRef>,
}

pub async fn world(reps: u64) -> World {
    let graph = Arc::new(FakeGraph::default());
    let crm = Arc::new(FakeCrm::default());
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    let targets: Vec<MailboxTarget> = (1..=reps)
        .map(|n| MailboxTarget {
            owner: owner(n),
            graph_user: owner(n).email,
        })
        .collect();
    let rep_refs: Vec<RepRef> = targets
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
        rep_refs.clone(),
    );
    World {
        graph,
        crm,
        store,
        engine,
        targets,
        reps: rep_refs,
    }
}
