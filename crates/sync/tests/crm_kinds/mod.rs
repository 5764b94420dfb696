//! Shared by the end-to-end tests of the CRM → Microsoft 365 kinds (contacts, absences): the
//! in-process sandbox (Graph and CRM.interface on one listener), real clients over HTTP, a
//! SQLite state store, the engine, and a mailbox whose rep enables the kind.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use gc_crm::codec::{CatalogMode, RecordData, WriteKind};
use gc_crm::{CrmClient, CrmConfig, CrmId, RetryPolicy};
use gc_graph::{Credential, GraphClient, GraphOptions};
use gc_sandbox::{Sandbox, SandboxOptions};
use gc_store::{Kind, LedgerAction, LedgerFilter, StateStore};
use gc_sync::adapters::{CrmActivities, GraphMail, TenantDirectory};
use gc_sync::engine::SyncKind;
use gc_sync::{Engine, MailboxReport, MailboxTarget, NoProgress, RunPolicy};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub struct Env {
    pub sandbox: Sandbox,
    pub graph: GraphClient,
    pub crm: CrmClient,
    pub store: Arc<dyn StateStore>,
    pub engine: Engine,
    pub targets: Vec<MailboxTarget>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(seed: u64) -> Env {
        let sandbox = gc_sandbox::start(SandboxOptions {
            users: 8,
            seed,
            messages_per_mailbox: 0,
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        let c = sandbox.credentials();
        let mut o = GraphOptions::new(
            c.tenant_id.clone(),
            c.client_id.clone(),
            Credential::secret(c.client_secret.clone()),
        )
        .with_urls(sandbox.url(), sandbox.url());
        o.base_backoff = Duration::from_millis(20);
        o.max_backoff = Duration::from_secs(1);
        o.extra_ca_pem = sandbox.ca_pem().map(|p| p.as_bytes().to_vec());
        let graph = GraphClient::new(o).unwrap();
        let mut cfg = CrmConfig::new(
            format!("{}/crm/interface", sandbox.url()).parse().unwrap(),
            c.crm_master_user.clone(),
            SecretString::from(c.crm_password.clone()),
        );
        cfg.retry = RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        };
        let crm = CrmClient::new(cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = gc_store::open(&url).await.unwrap();
        let policy = RunPolicy {
            retry_backoff: Duration::ZERO,
            ..RunPolicy::default()
        };
        let engine = Engine::new(store.clone(), policy, "test");
        let directory = TenantDirectory::new(crm.clone(), graph.clone());
        let list = gc_sync::mailboxes::refresh(
            &directory,
            &store,
            &[],
            gc_sync::mailboxes::RepOverrides::Ignore,
        )
        .await
        .unwrap();
        Env {
            sandbox,
            graph,
            crm,
            store,
            engine,
            targets: list.targets,
            _dir: dir,
        }
    }

    pub fn graph_mail(&self) -> Arc<GraphMail> {
        Arc::new(GraphMail::new(self.graph.clone(), "admin@contoso.example"))
    }

    pub fn crm_side(&self) -> Arc<CrmActivities> {
        Arc::new(CrmActivities::new(self.crm.clone(), "E-mail"))
    }

    /// A mailbox whose rep enables `kind` in CRM.
    pub async fn target_for(&self, kind: Kind) -> MailboxTarget {
        let reps = self.crm.master().reps().await.unwrap();
        self.targets
            .iter()
            .find(|t| {
                reps.iter().any(|r| {
                    r.id == t.owner.rep_crm_id
                        && match kind {
                            Kind::Contact => r.sync_contacts,
                            Kind::Absence => r.sync_absences,
                            _ => true,
                        }
                })
            })
            .cloned()
            .expect("a mailbox whose rep enables the kind")
    }

    /// A mailbox whose rep does not enable `kind`.
    pub async fn target_without(&self, kind: Kind) -> Option<MailboxTarget> {
        let reps = self.crm.master().reps().await.unwrap();
        self.targets
            .iter()
            .find(|t| {
                reps.iter().any(|r| {
                    r.id == t.owner.rep_crm_id
                        && !match kind {
                            Kind::Contact => r.sync_contacts,
                            Kind::Absence => r.sync_absences,
                            _ => true,
                        }
                })
            })
            .cloned()
    }

    pub async fn run<K: SyncKind>(&self, kind: &K, target: &MailboxTarget) -> MailboxReport {
        let r = self
            .engine
            .run_mailbox(kind, target, &NoProgress, &CancellationToken::new())
            .await;
        eprintln!("{r:?}");
        r
    }

    /// Insert a record as a CRM user would (through CRM.interface).
    pub async fn insert(
        &self,
        table: &str,
        fields: &[(&str, &str)],
        links: &[(&str, CrmId)],
    ) -> CrmId {
        let mut rec = RecordData::new(table);
        for (k, v) in fields {
            rec = rec.field(k, (*v).to_owned());
        }
        for (t, id) in links {
            rec = rec.link(t, *id);
        }
        self.crm
            .master()
            .write_one(WriteKind::Insert, CatalogMode::Text, rec)
            .await
            .unwrap()
    }

    pub async fn update(&self, table: &str, id: CrmId, fields: &[(&str, &str)]) {
        let mut rec = RecordData::new(table);
        for (k, v) in fields {
            rec = rec.field(k, (*v).to_owned());
        }
        rec.id = Some(id);
        self.crm
            .master()
            .write_one(WriteKind::Update, CatalogMode::Text, rec)
            .await
            .unwrap();
    }

    pub async fn delete(&self, table: &str, id: CrmId) {
        self.crm.master().delete(table, id).await.unwrap();
    }

    /// The ledger of a kind: (action, reason) in order.
    pub async fn ledger(&self, kind: Kind) -> Vec<(LedgerAction, String, String)> {
        let mut v: Vec<_> = self
            .store
            .query_ledger(&LedgerFilter {
                kind: Some(kind),
                ..LedgerFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.item_key, e.reason))
            .collect();
        v.reverse();
        v
    }
}

/// Today as the kinds see it (UTC).
pub fn today() -> jiff::civil::Date {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

pub fn days(d: jiff::civil::Date, n: i64) -> String {
    d.checked_add(jiff::Span::new().days(n))
        .unwrap()
        .to_string()
}
