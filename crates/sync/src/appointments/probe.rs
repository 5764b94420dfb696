//! The idle check of appointments: the calendar source's stored delta link (the cursor of the
//! current window), asked with every other mailbox's in the engine's pre-pass (see
//! [`Engine::idle`](crate::engine::Engine::idle)), so that an unchanged calendar costs a
//! twentieth of a `$batch` call instead of a calendarView delta request.
//!
//! A probe must speak for every source the run would walk. This one answers for the calendar
//! only, so a mailbox with a cursor of any other source (one that is not a calendar window)
//! gets no probe and is run: a source added later is read every cycle until it offers a probe
//! of its own, never left out unasked.

use std::sync::Arc;

use gc_store::{Kind, StateStore};

use crate::appointments::kind::{AppointmentKind, CALENDAR_SCOPE, scope};
use crate::engine::MailboxTarget;
use crate::error::{PortError, store_error};
use crate::ports::{Probe, Prober};

impl AppointmentKind {
    /// Leave out of a cycle the mailboxes whose calendar did not change in the window,
    /// asking `prober` (it must answer Graph delta links).
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }

    /// The probes of one mailbox (see [`SyncKind::probes`](crate::engine::SyncKind::probes)):
    /// `None` before the current window's round finished (a new day starts a new window,
    /// which is walked from the start) or when the mailbox has a source this cannot answer for.
    pub(crate) async fn calendar_probes(
        &self,
        store: &Arc<dyn StateStore>,
        target: &MailboxTarget,
    ) -> Result<Option<Vec<Probe>>, PortError> {
        let now = store.now().await.map_err(store_error)?;
        let (start, end) = self.window(now);
        let current = scope(start, end);
        let mut link = None;
        for c in store
            .list_cursors(target.mailbox(), Some(Kind::Appointment))
            .await
            .map_err(store_error)?
        {
            if c.scope == current {
                link = c.delta_link.filter(|_| c.next_link.is_none());
            } else if !c.scope.starts_with(CALENDAR_SCOPE) {
                return Ok(None);
            }
        }
        Ok(link.map(|l| vec![Probe::delta(&target.graph_user, l)]))
    }
}
