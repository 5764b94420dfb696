//! The contact kind's [`SyncKind`] implementation: the folder or category resolved per run,
//! the one page of the rep's selection, and each step of an item from identify to finish,
//! delegating to `decide` and to the adoption of the sibling module. The engine's face of the
//! kind, kept apart from the kind's state and how adoption finds a contact.

use async_trait::async_trait;
use gc_store::{Kind, LedgerAction, Link, LinkState};

use super::{ContactKind, ContactRun, Found, category_key, folder_key, forget_on_not_found};
use crate::adopt::{AdoptedBy, LegacyCache, UpdateTold};
use crate::contacts::decide::{self, Decision};
use crate::contacts::model::{ContactChange, ContactTarget, display, item_key};
use crate::contacts::ports::Selection;
use crate::contacts::probe::fingerprint;
use crate::engine::{
    Applied, Identity, ItemCx, ItemOutcome, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{PortError, store_error};
use crate::ports::{Probe, Prober};

#[async_trait]
impl SyncKind for ContactKind {
    type Run = ContactRun;
    type Change = ContactChange;
    type Facts = Found;
    type Decision = Decision;

    fn kind(&self) -> Kind {
        Kind::Contact
    }

    fn reads_whole(&self, _source: &Source) -> bool {
        true
    }

    fn probes(
        &self,
        reads: &gc_store::ProbeReads,
        target: &crate::engine::MailboxTarget,
    ) -> Option<Vec<Probe>> {
        self.crm_probes(reads, target)
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.prober.as_deref()
    }

    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<ContactRun>>, PortError> {
        if !cx.owner().kinds.has(Kind::Contact) {
            tracing::debug!(
                mailbox = cx.mailbox(),
                "contacts are not enabled for this rep in CRM"
            );
            return Ok(None);
        }
        let run = match &self.rules.target {
            ContactTarget::Folder(name) => {
                let key = folder_key(name);
                let kept = cx.kept.get(&key).map(str::to_owned);
                let (id, fresh) = match kept {
                    Some(id) => (id, false),
                    // A plan creates no folder and keeps nothing: a missing folder has no
                    // contacts yet, so every person of the selection would be created.
                    None if cx.planning => {
                        match self.graph.find_contact_folder(cx.user(), name).await? {
                            Some(id) => (id, false),
                            None => (String::new(), true),
                        }
                    }
                    None => {
                        let (id, fresh) = self.graph.contact_folder(cx.user(), name).await?;
                        cx.store
                            .put_resolved(cx.mailbox(), Kind::Contact, &key, Some(&id))
                            .await
                            .map_err(store_error)?;
                        (id, fresh)
                    }
                };
                ContactRun {
                    folder: Some(id),
                    category: None,
                    fresh,
                    place: format!("contact folder {name:?}"),
                    folder_key: Some(key),
                    legacy: LegacyCache::default(),
                    stubs: Default::default(),
                    claimed: Default::default(),
                }
            }
            ContactTarget::Category(name) => {
                // The rep's UserSettings `<ContactSync Category>` over `[contacts] category`.
                let name = cx
                    .owner()
                    .settings
                    .contact_category
                    .as_ref()
                    .unwrap_or(name);
                let key = category_key(name);
                let kept = cx.kept.get(&key).map(str::to_owned);
                if kept.is_none() && !cx.planning {
                    self.graph.ensure_category(cx.user(), name).await?;
                    cx.store
                        .put_resolved(cx.mailbox(), Kind::Contact, &key, Some(name))
                        .await
                        .map_err(store_error)?;
                }
                ContactRun {
                    folder: None,
                    category: Some(name.clone()),
                    fresh: false,
                    place: format!("the Contacts folder with category {name:?}"),
                    folder_key: None,
                    legacy: LegacyCache::default(),
                    stubs: Default::default(),
                    claimed: Default::default(),
                }
            }
        };
        Ok(Some(Prepared {
            run,
            sources: vec![Source {
                scope: "crm".into(),
                label: "CRM persons of the rep".into(),
                reconcile: true,
            }],
            total: None,
        }))
    }

    async fn page(
        &self,
        cx: &RunCx<'_>,
        _run: &ContactRun,
        _source: &Source,
        _checkpoint: Option<&str>,
    ) -> Result<Page<ContactChange>, PortError> {
        let today = jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .date();
        let days = self.rules.activity_days;
        let activities = (days > 0).then(|| {
            let since = today
                .checked_sub(jiff::Span::new().days(i64::from(days)))
                .unwrap_or(today);
            (since, today)
        });
        let read = self
            .crm
            .persons(
                cx.rep(),
                &Selection {
                    rep_number: cx.target.owner.rep_number.clone(),
                    responsible_companies: self.rules.responsible_companies,
                    activities,
                },
            )
            .await?;
        // One page: the next run reads the selection whole again and so reconciles it (see
        // the module documentation). What it rests on is stored for the idle check only.
        let place = self.place_of(&cx.target.owner);
        Ok(Page {
            changes: read
                .persons
                .into_iter()
                .map(ContactChange::Person)
                .collect(),
            next: None,
            done: read
                .stamps
                .map(|s| crate::contacts::probe::checkpoint(&place, &fingerprint(s))),
        })
    }

    fn identify(
        &self,
        _cx: &RunCx<'_>,
        _run: &ContactRun,
        change: &ContactChange,
    ) -> Option<Identity> {
        let item = match change {
            ContactChange::Person(p) => item_key(p.id),
            // deleted before: nothing left to do
            ContactChange::Gone(l) if l.state == LinkState::SoftDeleted => return None,
            ContactChange::Gone(l) => l.graph_id.clone(),
        };
        Some(Identity {
            item,
            global_key: None,
        })
    }

    fn describe(&self, change: &ContactChange) -> Option<serde_json::Value> {
        match change {
            ContactChange::Person(p) => Some(serde_json::json!({
                "person": p.id.to_string(),
                "name": display(p),
            })),
            ContactChange::Gone(l) => Some(serde_json::json!({
                "person": l.crm_id.map(|c| c.to_string()),
            })),
        }
    }

    fn vanished(&self, _run: &ContactRun, _source: &Source, link: Link) -> Option<ContactChange> {
        Some(ContactChange::Gone(link))
    }

    fn triage(
        &self,
        _cx: &RunCx<'_>,
        run: &ContactRun,
        change: &ContactChange,
        link: Option<&Link>,
    ) -> Option<Decision> {
        decide::triage(change, link, run.category.as_deref(), run.fresh)
    }

    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &ContactRun,
        change: &ContactChange,
    ) -> Result<Found, PortError> {
        let person = match change {
            ContactChange::Person(p) => Some(p.id),
            ContactChange::Gone(l) => l.crm_id,
        };
        if run.folder.as_deref() == Some("") {
            // A plan for a folder that does not exist yet: it holds no contact.
            return Ok(Found::default());
        }
        let Some(id) = person else {
            return Ok(Found::default());
        };
        let contacts = match self
            .graph
            .find_contacts(cx.user(), run.folder.as_deref(), id)
            .await
        {
            Ok(found) => found,
            Err(e) if cx.planning => return Err(e),
            Err(e) => {
                return Err(forget_on_not_found(&**cx.run.store, cx.run.mailbox(), run, e).await);
            }
        };
        let unlinked = cx.link.is_none_or(|l| l.state != LinkState::Active);
        if let (ContactChange::Person(p), true, true) = (change, contacts.is_empty(), unlinked)
            && let Some((contact, how)) = self.adopt(cx, run, p).await?
        {
            return Ok(Found {
                contacts: vec![contact],
                adopted_by: Some(how),
            });
        }
        Ok(Found {
            contacts,
            adopted_by: None,
        })
    }

    fn decide(
        &self,
        _cx: &RunCx<'_>,
        run: &ContactRun,
        change: &ContactChange,
        link: Option<&Link>,
        facts: &Found,
    ) -> Decision {
        let mut d = decide::decide(change, link, run.category.as_deref(), &facts.contacts);
        if let Decision::Update { how, .. } = &mut d {
            *how = facts.adopted_by;
        }
        d
    }

    fn planned(&self, decision: &Decision) -> crate::plan::Planned {
        crate::plan::map::contact(decision)
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        run: &ContactRun,
        change: &ContactChange,
        decision: Decision,
    ) -> Result<Applied, PortError> {
        let user = cx.user();
        let (person, name) = match change {
            ContactChange::Person(p) => (Some(p.id), display(p)),
            ContactChange::Gone(l) => (
                l.crm_id,
                l.crm_id.map(|c| c.to_string()).unwrap_or_default(),
            ),
        };
        let done = |outcome, action, reason: String, link: Link, how: Option<AdoptedBy>| {
            let mut entry = cx.entry(person, action, &reason);
            entry.detail = self.describe(change);
            if let (Some(how), Some(serde_json::Value::Object(o))) = (how, entry.detail.as_mut()) {
                o.insert("adopted_by".into(), how.as_str().into());
            }
            Applied {
                outcome,
                link: Some(link),
                ledger: vec![entry],
                warnings: 0,
                failure: None,
            }
        };
        match decision {
            Decision::Unchanged => Ok(Applied::unchanged()),
            Decision::Create { body, hash } => {
                // Found again after a crash through the person id the contact carries.
                cx.intent(person).await?;
                cx.check()?;
                if let Err(e) = self
                    .graph
                    .create_contact(user, run.folder.as_deref(), &body)
                    .await
                {
                    return Err(
                        forget_on_not_found(&**cx.run.store, cx.run.mailbox(), run, e).await,
                    );
                }
                let mut link = cx.link_or_new();
                link.crm_id = person;
                link.crm_hash = Some(hash);
                link.state = LinkState::Active;
                Ok(done(
                    ItemOutcome::Created,
                    LedgerAction::Created,
                    format!(
                        "created the contact of {name} in {}: the person is in the rep's selection",
                        run.place
                    ),
                    link,
                    None,
                ))
            }
            Decision::Update {
                contact,
                extra,
                body,
                hash,
                adopted,
                how,
            } => {
                cx.check()?;
                self.graph.update_contact(user, &contact, &body).await?;
                for id in &extra {
                    cx.check()?;
                    self.graph.delete_contact(user, id).await?;
                }
                let mut link = cx.link_or_new();
                link.crm_id = person;
                link.crm_hash = Some(hash);
                link.state = LinkState::Active;
                // Found without an active link: by the person id it carries (an interrupted
                // write of ours), or the contact the previous connector wrote.
                let told = UpdateTold::new(
                    adopted,
                    how,
                    cx.link,
                    "the person changed in CRM",
                    ("person id", "contact"),
                    extra.len(),
                );
                Ok(done(
                    told.outcome,
                    told.action,
                    format!(
                        "updated the contact of {name} in {}: {}",
                        run.place, told.why
                    ),
                    link,
                    told.how,
                ))
            }
            Decision::Delete { contacts } => {
                for id in &contacts {
                    cx.check()?;
                    self.graph.delete_contact(user, id).await?;
                }
                let mut link = cx.link_or_new();
                link.state = LinkState::SoftDeleted;
                Ok(done(
                    ItemOutcome::Deleted,
                    LedgerAction::Deleted,
                    format!(
                        "deleted the contact of person {name} from {}: the person left the rep's selection or was deleted in CRM",
                        run.place
                    ),
                    link,
                    None,
                ))
            }
            Decision::Forget => {
                let mut link = cx.link_or_new();
                link.state = LinkState::SoftDeleted;
                Ok(done(
                    ItemOutcome::Deleted,
                    LedgerAction::Deleted,
                    format!(
                        "person {name} left the rep's selection or was deleted in CRM; its contact was already gone"
                    ),
                    link,
                    None,
                ))
            }
        }
    }

    async fn finish(
        &self,
        _cx: &ItemCx<'_>,
        _run: &ContactRun,
        _change: &ContactChange,
        _applied: &Applied,
    ) -> Result<(), PortError> {
        Ok(())
    }
}
