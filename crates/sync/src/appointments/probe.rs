//! The idle check of appointments, one probe per source, asked with every other mailbox's in
//! the engine's pre-pass (see [`Engine::idle`](crate::engine::Engine::idle)): the calendar
//! source's stored delta link (the cursor of the current window), so that an unchanged
//! calendar costs a twentieth of a `$batch` call instead of a calendarView delta request; and
//! with `direction = "both"` the CRM source's newest activity update stamp, asked for every rep
//! in one CRM.interface request ("an activity of this rep in the window changed after it?").
//!
//! A probe must speak for every source the run would walk: a mailbox with a cursor of a source
//! this does not know gets no probe and is run, so a source added later is read every cycle
//! until it offers a probe of its own, never left out unasked.

use std::sync::Arc;

use gc_store::ProbeReads;

use crate::appointments::crm_source::CRM_SCOPE;
use crate::appointments::kind::{AppointmentKind, CALENDAR_SCOPE, scope};
use crate::crm_checkpoint::CrmCheckpoint;
use crate::engine::MailboxTarget;
use crate::engine::commit::written_after_round;
use crate::ports::{Probe, Prober, Question, StampQuestion};

impl AppointmentKind {
    /// Leave out of a cycle the mailboxes whose calendar (and CRM appointments) did not
    /// change in the window, asking `prober` (it must answer Graph delta links and, with
    /// `direction = "both"`, CRM activity questions).
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The probes of one mailbox (see [`SyncKind::probes`](crate::engine::SyncKind::probes)):
    /// `None` before the current window's rounds finished (a new day starts a new window,
    /// which is walked from the start), while the CRM side is due for a full walk, or when
    /// the mailbox has a source this cannot answer for.
    pub(crate) fn calendar_probes(
        &self,
        reads: &ProbeReads,
        target: &MailboxTarget,
    ) -> Option<Vec<Probe>> {
        let (start, end) = self.window(reads.now);
        let current = scope(start, end);
        let kept = reads.mailbox(target.mailbox());
        let mut link = None;
        let mut crm = None;
        for c in &kept.cursors {
            let done = c.round_checkpoint().map(str::to_owned);
            if c.scope == current {
                link = done;
            } else if c.scope == CRM_SCOPE {
                crm = done;
            } else if !c.scope.starts_with(CALENDAR_SCOPE) {
                return None;
            }
        }
        let link = link?;
        // An event written and never reported, or an interrupted write: no delta may tell
        // what became of it (see `crm_source::settle`), so the run looks itself.
        if kept.unsettled.iter().any(|id| !id.starts_with("crm:")) {
            return None;
        }
        // A link written after the calendar's checkpoint (a round cut off or delayed before
        // storing its own): the delta may never report what became of its event; the run
        // reads it by id (`crm_source::settle`).
        if written_after_round(kept, kept.cursor(&current)) {
            return None;
        }
        let mut probes = vec![Probe::delta(&target.graph_user, link)];
        if self.rules.crm_to_microsoft365() {
            // The CRM side's days, as the run reads them.
            let tz = &self.rules.time_zone;
            let last = end
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap_or(end);
            let (from, to) = (tz.to_datetime(start).date(), tz.to_datetime(last).date());
            let checkpoint = crm.as_deref().and_then(CrmCheckpoint::decode);
            let cp = checkpoint.filter(|cp| {
                !self.rules.dialect.activity.updated.is_empty()
                    && !cp.full_walk_due(jiff::Timestamp::now(), to, self.rules.full_walk_every)
            })?;
            probes.push(Probe {
                user: target.graph_user.clone(),
                question: Question::CrmActivities(StampQuestion {
                    rep_number: target.owner.rep_number.clone(),
                    from,
                    to,
                    since: cp.since,
                }),
            });
        }
        Some(probes)
    }
}
