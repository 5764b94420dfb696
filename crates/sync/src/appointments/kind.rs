//! Appointments as a kind of the engine, with two sources per mailbox run, in this order:
//!
//! 1. the rep's CRM appointments in the window ([`crm_source`](super::crm_source), with
//!    `direction = "both"`): new ones become events, edits and deletions follow; an
//!    appointment whose event changed too is left to the calendar side;
//! 2. the calendarView delta of the window (one cursor per window, so a new day starts a new
//!    round that is reconciled with the links): an event becomes one appointment per meeting
//!    (`iCalUId`, leased by the engine), shared by every synced rep's copy; a conflict (both
//!    sides changed) is decided here. Running second, it reports the events the CRM side
//!    just created, so their later deletion is reported too.
//!
//! A linked appointment is worked under its event's id whichever source brought it; one
//! without an event yet under `crm:<id>` (see [`crm_item_key`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::adopt::{Adoption, LegacyCache};
use gc_store::{Kind, Link, LinkState};
use jiff::{Timestamp, ToSpan};

use crate::appointments::crm_source::{self, CRM_SCOPE};
use crate::appointments::decide::{self, Decision, Input};
use crate::appointments::decide_crm;
use crate::appointments::execute;
use crate::appointments::gather::{self, Facts};
use crate::appointments::model::{CalEvent, EventChange, crm_item_key};
use crate::appointments::ports::{AppointmentCrm, CalendarGraph};
use crate::appointments::rules::AppointmentRules;
use crate::email::model::RepRef;
use crate::engine::commit::clear_cursor;
use crate::engine::{
    Applied, Identity, ItemCx, MailboxTarget, Page, Prepared, RunCx, Source, SyncKind,
};
use crate::error::{PortError, store_error};
use crate::ports::{Probe, Prober};

/// Key of items Graph delivered without an id.
pub const UNKNOWN_ITEM: &str = "unknown-event";

/// Prefix of the calendar source's cursor scope; the window follows it.
pub const CALENDAR_SCOPE: &str = "calendar:";

/// Calendar events and CRM appointments.
#[derive(Clone)]
pub struct AppointmentKind {
    pub(crate) graph: Arc<dyn CalendarGraph>,
    pub(crate) crm: Arc<dyn AppointmentCrm>,
    pub(crate) rules: Arc<AppointmentRules>,
    /// Every enabled rep (attendees who are colleagues become rep participants).
    pub(crate) reps: Arc<Vec<RepRef>>,
    /// Asks the calendars' stored delta links of many mailboxes at once (see `probe`).
    pub(crate) prober: Option<Arc<dyn Prober>>,
    /// Adoption by the previous connector's ids and by content (see [`crate::adopt`]).
    pub(crate) adoption: Option<Adoption>,
    /// The addresses (lower case, sorted) of the mailboxes whose appointments are
    /// synchronized: an invitation the connector sends one of them arrives as a copy that
    /// its run adopts, which a plan names ([`crate::plan::ExpectedCopy`]).
    pub(crate) calendars: Arc<Vec<String>>,
}

impl std::fmt::Debug for AppointmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppointmentKind").finish()
    }
}

impl AppointmentKind {
    /// Appointments over these ports, with these rules; `reps` are the enabled reps.
    pub fn new(
        graph: Arc<dyn CalendarGraph>,
        crm: Arc<dyn AppointmentCrm>,
        rules: AppointmentRules,
        reps: impl Into<Arc<Vec<RepRef>>>,
    ) -> Self {
        AppointmentKind {
            graph,
            crm,
            rules: Arc::new(rules),
            reps: reps.into(),
            prober: None,
            adoption: None,
            calendars: Arc::default(),
        }
    }

    /// The mailboxes whose appointments are synchronized (every address of each: the
    /// primary one and its aliases), so that a plan names the copies its invitations put
    /// into their calendars. Without them a plan names none.
    pub fn with_calendars<'a>(
        mut self,
        targets: impl IntoIterator<Item = &'a MailboxTarget>,
    ) -> Self {
        let mut addresses: Vec<String> = targets
            .into_iter()
            .filter(|t| t.owner.kinds.has(Kind::Appointment))
            .flat_map(|t| std::iter::once(&t.owner.email).chain(&t.owner.addresses))
            .map(|a| a.to_ascii_lowercase())
            .collect();
        addresses.sort();
        addresses.dedup();
        self.calendars = Arc::new(addresses);
        self
    }

    /// Before writing an event or an appointment that has no counterpart yet, look for the one
    /// the previous connector wrote: by its EWS ids and by content (see [`crate::adopt`]).
    pub fn with_adoption(mut self, adoption: Adoption) -> Self {
        self.adoption = Some(adoption);
        self
    }

    /// The window `[start, end)` at `now`: whole UTC days, so the cursor of a window lasts a
    /// day.
    pub fn window(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        let utc = jiff::tz::TimeZone::UTC;
        let today = utc.to_datetime(now).date();
        let day = |d: jiff::civil::Date| {
            utc.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .unwrap_or(now)
        };
        let start = today
            .checked_sub(i64::from(self.rules.days_past).days())
            .unwrap_or(today);
        let end = today
            .checked_add((i64::from(self.rules.days_future) + 1).days())
            .unwrap_or(today);
        (day(start), day(end))
    }
}

/// One mailbox run: the window, as instants (Graph) and as CRM days.
#[derive(Debug)]
pub struct AppointmentRun {
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    /// First day of the window in CRM's time zone.
    pub(crate) crm_from: jiff::civil::Date,
    /// Last day of the window in CRM's time zone (inclusive).
    pub(crate) crm_to: jiff::civil::Date,
    /// Series masters read in this run, by id (`None`: gone): each is read once per run.
    pub(crate) masters: Mutex<HashMap<String, Option<CalEvent>>>,
    /// One lock per series master: the first of its occurrences writes the master record,
    /// the others wait for it and find it.
    pub(crate) series_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The previous connector's ids of this mailbox, translated on first use.
    pub(crate) legacy: LegacyCache,
    /// When this connector took the mailbox's calendar over from the previous one (see
    /// [`crate::adopt::legacy::switch_over`]); `None` when `legacy_ids` is off or planning.
    pub(crate) switch_over: Option<Timestamp>,
    /// Whether `crm_source::settle` read the links written since the calendar's checkpoint
    /// in this run: once is enough (it settles at every calendar page without the CRM
    /// source, and the later pages' links are this run's own).
    pub(crate) settled_since: std::sync::atomic::AtomicBool,
}

impl AppointmentRun {
    /// The lock of one series (see [`Self::series_locks`]).
    pub(crate) fn series_lock(&self, master_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .series_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(master_id.to_owned()).or_default().clone()
    }
}

impl AppointmentKind {
    /// A series master of this mailbox, read once per run (`None`: it is gone).
    pub(crate) async fn master(
        &self,
        user: &str,
        run: &AppointmentRun,
        id: &str,
    ) -> Result<Option<CalEvent>, PortError> {
        let cached = run
            .masters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        if let Some(m) = cached {
            return Ok(m);
        }
        let m = self
            .graph
            .event(user, id)
            .await?
            .filter(CalEvent::is_master);
        run.masters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned(), m.clone());
        Ok(m)
    }

    /// Occurrences and exceptions of a calendar page get their series master (the
    /// calendarView delta gives them without it, and their key is the series'). One whose
    /// master is gone is left out: the series was deleted, its removal follows.
    pub(crate) async fn with_masters(
        &self,
        cx: &RunCx<'_>,
        run: &AppointmentRun,
        changes: Vec<EventChange>,
    ) -> Result<Vec<EventChange>, PortError> {
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let EventChange::Event(mut ev) = c else {
                out.push(c);
                continue;
            };
            let master_id = ev.series.master_id.clone().filter(|_| ev.is_occurrence());
            let Some(master_id) = master_id else {
                out.push(EventChange::Event(ev));
                continue;
            };
            match self.master(cx.user(), run, &master_id).await? {
                Some(m) => {
                    ev.series.master = Some(Box::new(m));
                    out.push(EventChange::Event(ev));
                }
                None => out.push(EventChange::Broken {
                    id: None,
                    reason: format!("the series master {master_id} is gone"),
                }),
            }
        }
        Ok(out)
    }
}

pub(crate) fn scope(start: Timestamp, end: Timestamp) -> String {
    format!("{CALENDAR_SCOPE}{}..{}", start.as_second(), end.as_second())
}

#[async_trait]
impl SyncKind for AppointmentKind {
    type Run = AppointmentRun;
    type Change = EventChange;
    type Facts = Facts;
    type Decision = Decision;

    fn kind(&self) -> Kind {
        Kind::Appointment
    }

    async fn prepare(&self, cx: &RunCx<'_>) -> Result<Option<Prepared<AppointmentRun>>, PortError> {
        let now = cx.store.now().await.map_err(store_error)?;
        let (start, end) = self.window(now);
        let current = scope(start, end);
        // The cursors of earlier windows are of no use any more.
        for c in cx
            .store
            .list_cursors(cx.mailbox(), Some(Kind::Appointment))
            .await
            .map_err(store_error)?
        {
            if c.scope.starts_with(CALENDAR_SCOPE) && c.scope != current && !cx.planning {
                clear_cursor(cx, &c.scope).await?;
            }
        }
        let mut sources = Vec::with_capacity(2);
        if self.rules.crm_to_microsoft365() {
            // First, so that the calendar's delta of the same run reports the events it
            // creates (and later their deletion).
            sources.push(Source {
                scope: CRM_SCOPE.into(),
                label: "CRM appointments in the window".into(),
                // A full walk tells which linked appointments CRM no longer has.
                reconcile: true,
            });
        }
        sources.push(Source {
            scope: current,
            label: "calendar".into(),
            // A walk from the start (a new window) tells which linked events are no
            // longer there: deleted, or out of the window.
            reconcile: true,
        });
        let tz = &self.rules.time_zone;
        let crm_day = |t: Timestamp| tz.to_datetime(t).date();
        let last = end
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap_or(end);
        let switch_over = crate::adopt::legacy::switch_over(cx, self.adoption.as_ref()).await?;
        Ok(Some(Prepared {
            total: None,
            sources,
            run: AppointmentRun {
                start,
                end,
                crm_from: crm_day(start),
                crm_to: crm_day(last),
                masters: Mutex::default(),
                series_locks: Mutex::default(),
                legacy: LegacyCache::default(),
                switch_over,
                settled_since: Default::default(),
            },
        }))
    }

    fn probes(&self, reads: &gc_store::ProbeReads, target: &MailboxTarget) -> Option<Vec<Probe>> {
        self.calendar_probes(reads, target)
    }

    fn prober(&self) -> Option<&dyn Prober> {
        self.prober.as_deref()
    }

    async fn page(
        &self,
        cx: &RunCx<'_>,
        run: &AppointmentRun,
        source: &Source,
        checkpoint: Option<&str>,
    ) -> Result<Page<EventChange>, PortError> {
        if source.scope == CRM_SCOPE {
            return crm_source::page(self, cx, run, checkpoint).await;
        }
        let p = self
            .graph
            .event_page(cx.user(), run.start, run.end, checkpoint)
            .await?;
        let mut changes = p.changes;
        if !self.rules.crm_to_microsoft365() {
            // Interrupted writes (without the CRM source, which settles them otherwise).
            changes.extend(crm_source::settle(self, cx, run).await?.1);
        }
        let changes = self.with_masters(cx, run, changes).await?;
        Ok(Page {
            changes,
            next: p.next_link,
            done: p.delta_link,
        })
    }

    fn identify(
        &self,
        cx: &RunCx<'_>,
        _run: &AppointmentRun,
        change: &EventChange,
    ) -> Option<Identity> {
        Some(match change {
            EventChange::Event(ev) => Identity {
                item: ev.id.clone(),
                global_key: Some(ev.global_key(cx.mailbox())),
            },
            EventChange::Removed { id } => Identity {
                item: id.clone(),
                global_key: None,
            },
            EventChange::Vanished(l) | EventChange::CrmVanished(l) => Identity {
                item: l.graph_id.clone(),
                global_key: l.global_key.clone(),
            },
            EventChange::Crm(item) => {
                let unlinked = crm_item_key(item.appointment.id);
                match &item.linked {
                    Some((event, key)) => Identity {
                        item: event.clone(),
                        global_key: key.clone().or(Some(unlinked)),
                    },
                    None => Identity {
                        item: unlinked.clone(),
                        global_key: Some(unlinked),
                    },
                }
            }
            EventChange::Broken { id, .. } => Identity {
                item: id.clone().unwrap_or_else(|| UNKNOWN_ITEM.to_owned()),
                global_key: None,
            },
        })
    }

    /// An event's age is its start.
    fn dated(&self, change: &EventChange) -> Option<jiff::Timestamp> {
        match change {
            // All-day dates count from the start of the day, in UTC (the window's days).
            EventChange::Event(ev) => ev.when.as_ref().ok()?.instants().map(|(start, _)| start),
            EventChange::Crm(item) => item.appointment.start,
            _ => None,
        }
    }

    fn describe(&self, change: &EventChange) -> Option<serde_json::Value> {
        match change {
            EventChange::Event(ev) => Some(serde_json::json!({
                "iCalUId": ev.ical_uid,
                "subject": ev.subject,
            })),
            EventChange::Crm(item) => Some(serde_json::json!({
                "crmId": item.appointment.id.to_string(),
                "subject": item.appointment.fields.get(&self.rules.dialect.activity.subject),
            })),
            _ => None,
        }
    }

    fn vanished(&self, _run: &AppointmentRun, source: &Source, link: Link) -> Option<EventChange> {
        if link.state != LinkState::Active || link.crm_id.is_none() {
            return None;
        }
        if source.scope == CRM_SCOPE {
            // Only links the CRM source has seen (it keeps CRM's stamp in them): meetings of
            // other reps, where this rep is an attendee, are not the rep's CRM appointments.
            return link
                .crm_version
                .is_some()
                .then(|| EventChange::CrmVanished(Box::new(link)));
        }
        (!link.graph_id.starts_with("crm:")).then(|| EventChange::Vanished(Box::new(link)))
    }

    fn triage(
        &self,
        cx: &RunCx<'_>,
        _run: &AppointmentRun,
        change: &EventChange,
        link: Option<&Link>,
    ) -> Option<Decision> {
        match change {
            EventChange::Crm(item) => {
                decide_crm::triage_crm(item, link, &self.rules, &self.reps, cx.owner())
            }
            _ => decide::triage(change, link, &self.rules, cx.owner()),
        }
    }

    async fn gather(
        &self,
        cx: &ItemCx<'_>,
        run: &AppointmentRun,
        change: &EventChange,
    ) -> Result<Facts, PortError> {
        gather::gather(self, cx, run, change).await
    }

    fn decide(
        &self,
        cx: &RunCx<'_>,
        _run: &AppointmentRun,
        change: &EventChange,
        link: Option<&Link>,
        facts: &Facts,
    ) -> Decision {
        if let (EventChange::Event(_), None, true) =
            (change, &facts.event, needs_event(change, link))
        {
            return Decision::Nothing;
        }
        decide::decide(Input {
            change,
            link,
            facts,
            owner: &cx.target.owner,
            reps: &self.reps,
            rules: &self.rules,
            now: Timestamp::now(),
        })
    }

    fn planned(&self, decision: &Decision) -> crate::plan::Planned {
        crate::plan::map::appointment(decision, &self.calendars)
    }

    async fn apply(
        &self,
        cx: &ItemCx<'_>,
        _run: &AppointmentRun,
        _change: &EventChange,
        decision: Decision,
    ) -> Result<Applied, PortError> {
        execute::apply(self, cx, decision).await
    }

    async fn finish(
        &self,
        _cx: &ItemCx<'_>,
        _run: &AppointmentRun,
        _change: &EventChange,
        _applied: &Applied,
    ) -> Result<(), PortError> {
        Ok(())
    }
}

/// Whether gather read the event anew for this change (an unlinked event without its
/// extended properties): `None` then means it was deleted in the meantime.
fn needs_event(change: &EventChange, link: Option<&Link>) -> bool {
    matches!(change, EventChange::Event(ev) if !ev.props_read)
        && link.and_then(|l| l.crm_id).is_none()
}
