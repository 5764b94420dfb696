//! Absences as a kind of the engine. One source per mailbox run: the rep's absences in the
//! window, read whole from CRM ("crm" scope) and walked from the start every run, so the
//! engine reconciles it: a linked absence no longer in the window comes back as
//! [`AbsenceChange::Gone`], and CRM is asked whether it was deleted or only left the window.
//! What changed since the last run is told by the hash of what was written (the link's
//! `crm_hash`): unchanged absences cost no Graph request.

use std::sync::Arc;

use async_trait::async_trait;
use gc_store::{Kind, LedgerAction, Link, LinkState};

use crate::absences::decide::{self, Decision, Facts};
use crate::absences::model::{
    AbsenceChange, AbsenceItem, AbsenceRules, CONTENT_TYPE, absence_when, item_key, subject,
};
use crate::absences::ports::{AbsenceCalendar, AbsencesCrm};
use crate::adopt::records::{matching_events, only};
use crate::adopt::{AdoptedBy, Adoption, LegacyCache, RecordTable, UpdateTold};
use crate::engine::{
    Applied, Identity, ItemCx, ItemOutcome, MailboxTarget, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{ErrorClass, PortError};
use crate::ports::{Probe, Prober};

/// CRM absences → calendar events.
#[derive(Clone)]
pub struct AbsenceKind {
    graph: Arc<dyn AbsenceCalendar>,
    crm: Arc<dyn AbsencesCrm>,
    pub(crate) rules: Arc<AbsenceRules>,
    /// Asks the CRM change checks of many mailboxes at once (see `probe`).
    pub(crate) prober: Option<Arc<dyn Prober>>,
    /// Adoption of the events the previous connector wrote (see [`crate::adopt`]).
    pub(crate) adoption: Option<Adoption>,
}

impl std::fmt::Debug for AbsenceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbsenceKind")
            .field("rules", &self.rules)
            .finish()
    }
}

impl AbsenceKind {
    /// Absences over these ports, with these rules.
    pub fn new(
        graph: Arc<dyn AbsenceCalendar>,
        crm: Arc<dyn AbsencesCrm>,
        rules: AbsenceRules,
    ) -> Self {
        AbsenceKind {
            graph,
            crm,
            rules: Arc::new(rules),
            prober: None,
            adoption: None,
        }
    }

    /// Adopt, before creating an absence's event, the one the previous connector wrote (by
    /// the EWS id or entry id in its external key, or by content; see [`crate::adopt`]).
    pub fn with_adoption(mut self, adoption: Adoption) -> Self {
        self.adoption = Some(adoption);
        self
    }

    /// Whether the event `id` may become the absence's: it exists, carries no other
    /// absence's id, is not linked as an appointment, and this run did not adopt it already.
    async fn free(
        &self,
        cx: &ItemCx<'_>,
        run: &AbsenceRun,
        absence: gc_store::CrmId,
        id: &str,
    ) -> Result<bool, PortError> {
        if run.claimed.lock().map(|s| s.contains(id)).unwrap_or(true) {
            return Ok(false);
        }
        let me = absence.to_string();
        match self.graph.absence_mark(cx.user(), id).await? {
            None => return Ok(false),
            Some(Some(other)) if other != me => {
                tracing::warn!(
                    mailbox = cx.mailbox(),
                    absence = %absence,
                    "the previous connector's event of the absence carries another absence's id; not adopted"
                );
                return Ok(false);
            }
            Some(_) => {}
        }
        let linked = cx
            .run
            .store
            .get_link(Kind::Appointment, cx.mailbox(), id)
            .await
            .map_err(crate::error::store_error)?
            .is_some_and(|l| matches!(l.state, LinkState::Active | LinkState::Interrupted));
        if linked {
            tracing::warn!(
                mailbox = cx.mailbox(),
                absence = %absence,
                "the previous connector's event of the absence is linked to a CRM appointment; not adopted"
            );
        }
        Ok(!linked)
    }

    /// The event the previous connector wrote for the absence, and how it was found: by its
    /// key, then (when asked for) by subject and the same days or times.
    async fn adopt(
        &self,
        cx: &ItemCx<'_>,
        run: &AbsenceRun,
        a: &AbsenceItem,
    ) -> Result<Option<(String, AdoptedBy)>, PortError> {
        let Some(ad) = &self.adoption else {
            return Ok(None);
        };
        let s = ad.settings();
        let mut found = None;
        if s.legacy_ids {
            let index = run
                .legacy
                .get(ad, cx.run, CONTENT_TYPE, RecordTable::Absence)
                .await?;
            if let Some((id, how)) = index.item_of(a.id)
                && self.free(cx, run, a.id, id).await?
            {
                found = Some((id.to_owned(), how));
            }
        }
        if found.is_none()
            && s.content_match
            && let Some(when) = absence_when(a, &self.rules.time_zone)
            && let Some((from, to)) = when.instants()
        {
            let day = jiff::SignedDuration::from_hours(24);
            let events = self
                .graph
                .events_between(
                    cx.user(),
                    from.checked_sub(day).unwrap_or(from),
                    to.checked_add(day).unwrap_or(to),
                )
                .await?;
            let subject = subject(a, &self.rules);
            if let Some(e) = only(matching_events(&events, &subject, &when))
                && self.free(cx, run, a.id, &e.id).await?
            {
                found = Some((e.id.clone(), AdoptedBy::ContentMatch));
            }
        }
        if let Some((id, _)) = &found
            && let Ok(mut set) = run.claimed.lock()
        {
            set.insert(id.clone());
        }
        Ok(found)
    }
}

/// What one mailbox run resolved: the window.
#[derive(Debug)]
pub struct AbsenceRun {
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    /// The previous connector's keys of the mailbox, translated on first use.
    legacy: LegacyCache,
    /// Events adopted in this run (not adopted twice).
    claimed: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn absence_id(change: &AbsenceChange) -> Option<gc_store::CrmId> {
    match change {
        AbsenceChange::Absence(a) => Some(a.id),
        AbsenceChange::Broken { id, .. } => Some(*id),
        AbsenceChange::Gone(l) => l.crm_id,
    }
}

#[async_trait]
impl SyncKind for AbsenceKind {
    type Run = AbsenceRun;
    type Change = AbsenceChange;
    type Facts = Facts;
    type Decision = Decision;

    fn kind(&self) -> Kind {
        Kind::Absence
    }

    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<AbsenceRun>>, PortError> {
        if !cx.owner().kinds.has(Kind::Absence) {
            tracing::debug!(
                mailbox = cx.mailbox(),
                "absences are not enabled for this rep in CRM"
            );
            return Ok(None);
        }
        let (from, to) = self.window_now();
        Ok(Some(Prepared {
            run: AbsenceRun {
                from,
                to,
                legacy: LegacyCache::default(),
                claimed: Default::default(),
            },
            sources: vec![Source {
                scope: "crm".into(),
                label: format!("CRM absences of the rep from {from} to {to}"),
                reconcile: true,
            }],
            total: None,
        }))
    }

    async fn page(
        &self,
        cx: &RunCx<'_>,
        run: &AbsenceRun,
        _source: &Source,
        _checkpoint: Option<&str>,
    ) -> Result<Page<AbsenceChange>, PortError> {
        let read = self
            .crm
            .absences(cx.rep(), &cx.target.owner.rep_number, run.from, run.to)
            .await?;
        // One page; the next run reads the window whole again (see `reads_whole`) and so
        // reconciles it. What is stored at the end of the round is only what the idle check
        // compares with: the window and each absence's id and update stamp.
        Ok(Page {
            changes: read.changes,
            next: None,
            done: read
                .stamps
                .map(|s| crate::absences::probe::fingerprint(run.from, run.to, s)),
        })
    }

    /// The window is read whole every run: deletions in CRM are seen by their absence.
    fn reads_whole(&self, _source: &Source) -> bool {
        true
    }

    fn probes(&self, reads: &gc_store::ProbeReads, target: &MailboxTarget) -> Option<Vec<Probe>> {
        self.crm_probes(reads, target)
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.prober.as_deref()
    }

    fn identify(
        &self,
        _cx: &RunCx<'_>,
        _run: &AbsenceRun,
        change: &AbsenceChange,
    ) -> Option<Identity> {
        let item = match change {
            AbsenceChange::Absence(a) => item_key(a.id),
            AbsenceChange::Broken { id, .. } => item_key(*id),
            // released or deleted before: nothing left to do
            AbsenceChange::Gone(l) if l.state == LinkState::SoftDeleted => return None,
            AbsenceChange::Gone(l) => l.graph_id.clone(),
        };
        Some(Identity {
            item,
            global_key: None,
        })
    }

    /// An absence's age is its first day (from the start of that day in UTC).
    fn dated(&self, change: &AbsenceChange) -> Option<jiff::Timestamp> {
        match change {
            AbsenceChange::Absence(a) => a
                .start
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp()),
            _ => None,
        }
    }

    fn describe(&self, change: &AbsenceChange) -> Option<serde_json::Value> {
        Some(match change {
            AbsenceChange::Absence(a) => serde_json::json!({
                "absence": a.id.to_string(),
                "type": a.kind,
                "start": a.start.to_string(),
                "end": a.end.to_string(),
            }),
            _ => serde_json::json!({ "absence": absence_id(change).map(|i| i.to_string()) }),
        })
    }

    fn vanished(&self, _run: &AbsenceRun, _source: &Source, link: Link) -> Option<AbsenceChange> {
        Some(AbsenceChange::Gone(link))
    }

    fn triage(
        &self,
        _cx: &RunCx<'_>,
        _run: &AbsenceRun,
        change: &AbsenceChange,
        link: Option<&Link>,
    ) -> Option<Decision> {
        decide::triage(change, link, &self.rules)
    }

    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &AbsenceRun,
        change: &AbsenceChange,
    ) -> Result<Facts, PortError> {
        let Some(id) = absence_id(change) else {
            return Ok(Facts::default());
        };
        let events = self.graph.find_events(cx.user(), id).await?;
        let unlinked = cx.link.is_none_or(|l| l.state != LinkState::Active);
        if let (AbsenceChange::Absence(a), true, true) = (change, events.is_empty(), unlinked)
            && let Some((event, how)) = self.adopt(cx, run, a).await?
        {
            return Ok(Facts {
                events: vec![event],
                still: None,
                adopted_by: Some(how),
            });
        }
        let still = match change {
            AbsenceChange::Gone(_) => match self.crm.absence(cx.rep(), id).await? {
                // still the rep's: it only left the window
                Some(AbsenceChange::Absence(a)) if a.rep_number == cx.target.owner.rep_number => {
                    Some(a)
                }
                _ => None,
            },
            _ => None,
        };
        Ok(Facts {
            events,
            still,
            adopted_by: None,
        })
    }

    fn decide(
        &self,
        _cx: &RunCx<'_>,
        _run: &AbsenceRun,
        change: &AbsenceChange,
        link: Option<&Link>,
        facts: &Facts,
    ) -> Decision {
        decide::decide(change, link, facts, &self.rules)
    }

    fn planned(&self, decision: &Decision) -> crate::plan::Planned {
        crate::plan::map::absence(decision)
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        _run: &AbsenceRun,
        change: &AbsenceChange,
        decision: Decision,
    ) -> Result<Applied, PortError> {
        let user = cx.user();
        let rep = cx.rep();
        let id = absence_id(change);
        let done = |outcome, action, reason: String, link: Link, how: Option<AdoptedBy>| {
            let mut entry = cx.entry(id, action, &reason);
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
        let active = |hash: String| {
            let mut l = cx.link_or_new();
            l.crm_id = id;
            l.crm_hash = Some(hash);
            l.state = LinkState::Active;
            l
        };
        let what = match change {
            AbsenceChange::Absence(a) => format!(
                "{} from {} to {}",
                if a.kind.is_empty() {
                    "absence"
                } else {
                    a.kind.as_str()
                },
                a.start,
                a.end
            ),
            _ => format!("absence {}", id.map(|i| i.to_string()).unwrap_or_default()),
        };
        match decision {
            Decision::Unchanged => Ok(Applied::unchanged()),
            Decision::Fail(reason) => Err(PortError::new(ErrorClass::Item, reason)),
            Decision::Create { body, hash } => {
                let Some(absence) = id else {
                    return Err(PortError::new(ErrorClass::Item, "an absence without id"));
                };
                // Found again after a crash through the absence id the event carries.
                cx.intent(id).await?;
                cx.check()?;
                let event = self.graph.create_event(user, &body).await?;
                cx.check()?;
                self.crm.ensure_key(rep, absence, &event).await?;
                Ok(done(
                    ItemOutcome::Created,
                    LedgerAction::Created,
                    format!(
                        "created the calendar event of the {what}: the absence is in the window"
                    ),
                    active(hash),
                    None,
                ))
            }
            Decision::Update {
                event,
                extra,
                body,
                hash,
                adopted,
                how,
            } => {
                cx.check()?;
                self.graph.update_event(user, &event, &body).await?;
                for e in &extra {
                    cx.check()?;
                    self.graph.delete_event(user, e).await?;
                }
                if let Some(absence) = id {
                    cx.check()?;
                    self.crm.ensure_key(rep, absence, &event).await?;
                }
                // Found without an active link: by the absence id it carries (an interrupted
                // write of ours), or the event the previous connector wrote.
                let told = UpdateTold::new(
                    adopted,
                    how,
                    cx.link,
                    "the absence changed in CRM",
                    ("absence id", "event"),
                    extra.len(),
                );
                Ok(done(
                    told.outcome,
                    told.action,
                    format!("updated the calendar event of the {what}: {}", told.why),
                    active(hash),
                    told.how,
                ))
            }
            Decision::Delete { events } => {
                for e in &events {
                    cx.check()?;
                    self.graph.delete_event(user, e).await?;
                }
                let mut l = cx.link_or_new();
                l.state = LinkState::SoftDeleted;
                Ok(done(
                    ItemOutcome::Deleted,
                    LedgerAction::Deleted,
                    format!(
                        "deleted the calendar event of {what}: the absence was deleted in CRM (or moved to another rep)"
                    ),
                    l,
                    None,
                ))
            }
            Decision::Forget => {
                let mut l = cx.link_or_new();
                l.state = LinkState::SoftDeleted;
                Ok(done(
                    ItemOutcome::Deleted,
                    LedgerAction::Deleted,
                    format!("{what} was deleted in CRM; its calendar event was already gone"),
                    l,
                    None,
                ))
            }
            Decision::Release { update } => {
                let mut l = cx.link_or_new();
                if let Some((event, body, hash)) = update {
                    cx.check()?;
                    self.graph.update_event(user, &event, &body).await?;
                    l.crm_hash = Some(hash);
                }
                l.state = LinkState::SoftDeleted;
                Ok(done(
                    ItemOutcome::Skipped,
                    LedgerAction::Skipped,
                    format!(
                        "{what} left the window: its calendar event stays, no longer followed (leaving the window is not a deletion)"
                    ),
                    l,
                    None,
                ))
            }
        }
    }

    async fn finish(
        &self,
        _cx: &ItemCx<'_>,
        _run: &AbsenceRun,
        _change: &AbsenceChange,
        _applied: &Applied,
    ) -> Result<(), PortError> {
        Ok(())
    }
}
