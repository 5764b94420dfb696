//! A kind made for testing the engine: its items are named strings on pages of a scripted
//! source; each item can be told to fail (transiently some times, for good, or with a
//! tenant, mailbox or cancel error) in `apply` or `finish`. It records what was applied and
//! finished, so the engine's tests see exactly what a real kind would have written.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gc_store::{CrmId, Kind, LedgerAction, Link, StateStore};

use crate::engine::kind::{Applied, Identity, Page, Prepared, Source, SyncKind};
use crate::engine::progress::ItemOutcome;
use crate::engine::{Engine, ItemCx, MailboxTarget, Owner, RunCx, RunPolicy};
use crate::error::{ErrorClass, PortError};
use crate::ports::probe::{Probe, ProbeAnswer, Prober};

/// How an item misbehaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `apply` fails transiently this many more times.
    Transient(u32),
    /// `apply` fails with this class every time.
    Always(ErrorClass),
    /// `finish` fails transiently this many more times.
    FinishTransient(u32),
    /// `apply` takes this long before it writes.
    Slow(std::time::Duration),
}

/// The scripted source: pages of item names; `expire` makes the next page read from a
/// checkpoint answer "expired" once.
#[derive(Debug, Default)]
pub struct Script {
    pub pages: Vec<Vec<String>>,
    pub expire_once: bool,
    pub reconcile: bool,
    /// Let the engine read the next page while a page is worked.
    pub read_ahead: bool,
    /// Offer a probe per mailbox, which [`Unchanged`] answers "unchanged".
    pub probed: bool,
    /// The items `prepare` reports.
    pub total: Option<u64>,
    /// [`SyncKind::total_bounds_first_sync`].
    pub total_bounds_first_sync: bool,
}

/// A prober for which nothing ever changed.
#[derive(Debug)]
pub struct Unchanged;

#[async_trait]
impl Prober for Unchanged {
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer> {
        vec![ProbeAnswer::Unchanged; probes.len()]
    }
}

/// The test kind.
#[derive(Debug, Default, Clone)]
pub struct TestKind {
    pub script: Arc<Mutex<Script>>,
    pub faults: Arc<Mutex<HashMap<String, Fault>>>,
    /// Item → CRM id it was "written" to, in apply order.
    pub applied: Arc<Mutex<Vec<String>>>,
    pub finished: Arc<Mutex<Vec<(String, ItemOutcome)>>>,
    pub vanished: Arc<Mutex<Vec<String>>>,
    /// Pages read, with the checkpoint each was read from.
    pub reads: Arc<Mutex<Vec<Option<String>>>>,
    /// Page reads (`read <checkpoint>`) and writes (`apply <item>`) in the order they happened.
    pub events: Arc<Mutex<Vec<String>>>,
    /// `prepare` calls (planning ones too).
    pub prepares: Arc<AtomicU32>,
    /// `end_run` calls.
    pub ended: Arc<AtomicU32>,
}

impl TestKind {
    pub fn with_pages(pages: &[&[&str]]) -> Self {
        let k = TestKind::default();
        k.script.lock().unwrap().pages = pages
            .iter()
            .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        k
    }

    pub fn fault(&self, item: &str, f: Fault) {
        self.faults.lock().unwrap().insert(item.to_owned(), f);
    }

    pub fn applied(&self) -> Vec<String> {
        self.applied.lock().unwrap().clone()
    }

    pub fn finished(&self) -> BTreeMap<String, ItemOutcome> {
        self.finished.lock().unwrap().iter().cloned().collect()
    }

    fn take_fault(&self, item: &str, in_finish: bool) -> Option<PortError> {
        let mut faults = self.faults.lock().unwrap();
        let f = faults.get_mut(item)?;
        match f {
            Fault::Transient(n) if !in_finish && *n > 0 => {
                *n -= 1;
                Some(PortError::transient(format!("{item} is busy")))
            }
            Fault::FinishTransient(n) if in_finish && *n > 0 => {
                *n -= 1;
                Some(PortError::transient(format!(
                    "{item} cannot be finished yet"
                )))
            }
            Fault::Always(c) if !in_finish => Some(PortError::new(*c, format!("{item}: {c:?}"))),
            _ => None,
        }
    }
}

/// The id an item is written to: stable, so a repeat is visible as a second apply.
pub fn crm_id(item: &str) -> CrmId {
    CrmId(
        item.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    )
}

#[async_trait]
impl SyncKind for TestKind {
    type Run = ();
    type Change = String;
    type Facts = ();
    type Decision = &'static str;

    fn kind(&self) -> Kind {
        Kind::Task
    }

    async fn prepare(&self, _cx: &RunCx<'_>) -> Result<Option<Prepared<()>>, PortError> {
        let s = self.script.lock().unwrap();
        self.prepares.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Prepared {
            run: (),
            sources: vec![Source {
                scope: "list".into(),
                label: "the test list".into(),
                reconcile: s.reconcile,
            }],
            total: s.total,
        }))
    }

    fn total_bounds_first_sync(&self) -> bool {
        self.script.lock().unwrap().total_bounds_first_sync
    }

    fn reads_ahead(&self, _source: &Source) -> bool {
        self.script.lock().unwrap().read_ahead
    }

    fn probes(&self, _reads: &gc_store::ProbeReads, target: &MailboxTarget) -> Option<Vec<Probe>> {
        self.script
            .lock()
            .unwrap()
            .probed
            .then(|| vec![Probe::delta(&target.graph_user, "delta".into())])
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.script.lock().unwrap().probed.then_some(&Unchanged)
    }

    async fn page(
        &self,
        _cx: &RunCx<'_>,
        _run: &(),
        _source: &Source,
        checkpoint: Option<&str>,
    ) -> Result<Page<String>, PortError> {
        self.events
            .lock()
            .unwrap()
            .push(format!("read {}", checkpoint.unwrap_or("start")));
        self.reads
            .lock()
            .unwrap()
            .push(checkpoint.map(str::to_owned));
        let mut s = self.script.lock().unwrap();
        if checkpoint.is_some() && s.expire_once {
            s.expire_once = false;
            return Err(PortError::new(ErrorClass::SyncStateExpired, "410"));
        }
        // Checkpoints: "page:N" for the next page, "done:N" once N pages were read.
        let n: usize = match checkpoint {
            None => 0,
            Some(c) => c
                .strip_prefix("page:")
                .or_else(|| c.strip_prefix("done:"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        };
        let changes = s.pages.get(n).cloned().unwrap_or_default();
        let last = n + 1 >= s.pages.len();
        Ok(Page {
            changes,
            next: (!last).then(|| format!("page:{}", n + 1)),
            done: last.then(|| format!("done:{}", s.pages.len())),
        })
    }

    fn identify(&self, _cx: &RunCx<'_>, _run: &(), change: &String) -> Option<Identity> {
        (!change.starts_with('-')).then(|| Identity {
            item: change.clone(),
            global_key: Some(format!("g:{change}")),
        })
    }

    fn vanished(&self, _run: &(), _source: &Source, link: Link) -> Option<String> {
        self.vanished.lock().unwrap().push(link.graph_id.clone());
        None
    }

    fn triage(
        &self,
        _cx: &RunCx<'_>,
        _run: &(),
        _change: &String,
        link: Option<&Link>,
    ) -> Option<&'static str> {
        link.filter(|l| l.state == gc_store::LinkState::Active)
            .map(|_| "unchanged")
    }

    async fn gather(&self, _cx: &ItemCx<'_>, _run: &(), _change: &String) -> Result<(), PortError> {
        Ok(())
    }

    fn decide(
        &self,
        _cx: &RunCx<'_>,
        _run: &(),
        _change: &String,
        _link: Option<&Link>,
        _facts: &(),
    ) -> &'static str {
        "create"
    }

    fn planned(&self, decision: &&'static str) -> crate::plan::Planned {
        use crate::engine::progress::ItemOutcome as O;
        match *decision {
            "unchanged" => crate::plan::Planned::new(O::Unchanged, None, ""),
            _ => crate::plan::Planned::new(O::Created, Some(crate::plan::Side::Crm), "new"),
        }
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        _run: &(),
        change: &String,
        decision: &'static str,
    ) -> Result<Applied, PortError> {
        if decision == "unchanged" {
            return Ok(Applied::unchanged());
        }
        cx.intent(None).await?;
        if let Some(e) = self.take_fault(change, false) {
            return Err(e);
        }
        let slow = match self.faults.lock().unwrap().get(change.as_str()) {
            Some(Fault::Slow(d)) => Some(*d),
            _ => None,
        };
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        self.applied.lock().unwrap().push(change.clone());
        self.events.lock().unwrap().push(format!("apply {change}"));
        let id = crm_id(change);
        Ok(Applied {
            outcome: ItemOutcome::Created,
            link: Some(cx.active_link(id)),
            ledger: vec![cx.entry(Some(id), LedgerAction::Created, "created")],
            warnings: 0,
            failure: None,
        })
    }

    async fn end_run(&self, _cx: &RunCx<'_>, _run: Option<&()>) -> Result<(), PortError> {
        self.ended.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn finish(
        &self,
        _cx: &ItemCx<'_>,
        _run: &(),
        change: &String,
        applied: &Applied,
    ) -> Result<(), PortError> {
        if let Some(e) = self.take_fault(change, true) {
            return Err(e);
        }
        self.finished
            .lock()
            .unwrap()
            .push((change.clone(), applied.outcome));
        Ok(())
    }
}

/// A mailbox of rep `n`.
pub fn target(n: u64) -> MailboxTarget {
    let email = format!("rep{n}@contoso.example");
    MailboxTarget {
        owner: Owner {
            mailbox: n.to_string(),
            rep_crm_id: CrmId(n),
            rep_number: format!("R{n}"),
            name: format!("Rep {n}"),
            email: email.clone(),
            addresses: vec![email.clone()],
            language: None,
            kinds: crate::engine::RepKinds::ALL,
            settings: Default::default(),
        },
        graph_user: email,
    }
}

/// An engine on a fresh in-memory store.
pub async fn engine(policy: RunPolicy) -> (Engine, Arc<dyn StateStore>) {
    let store = gc_store::open("sqlite::memory:").await.unwrap();
    for n in 1..=3u64 {
        store
            .upsert_mailbox(&gc_store::MailboxUpsert {
                rep_id: n.to_string(),
                address: target(n).owner.email,
                graph_user_id: None,
                enabled: true,
            })
            .await
            .unwrap();
    }
    (Engine::new(store.clone(), policy, "test-holder"), store)
}
