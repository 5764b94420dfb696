//! A mailbox's state (ok, failing, excluded, paused, disabled, running) as the admin page and
//! the metrics show it, and the gauges of mailboxes by state and backlog by kind that each
//! pass sets: one rule read from a full record or a schedule entry, apart from the scheduling.

use std::collections::BTreeMap;

use gc_store::{MailboxRecord, ScheduleEntry};
use jiff::Timestamp;

use super::Scheduler;
use gc_store::Kind;

impl Scheduler {
    /// Mailboxes by state and backlog per kind.
    pub(super) fn gauges(&self, records: &[ScheduleEntry], now: Timestamp) {
        let running: std::collections::HashSet<String> = self
            .status
            .running()
            .keys()
            .map(|(m, _)| m.clone())
            .collect();
        let mut states: BTreeMap<&str, f64> =
            ["ok", "failing", "excluded", "paused", "disabled", "running"]
                .into_iter()
                .map(|s| (s, 0.0))
                .collect();
        let mut backlog: BTreeMap<Kind, f64> =
            self.runners.iter().map(|r| (r.kind(), 0.0)).collect();
        for m in records {
            let state = state_of(
                Health {
                    enabled: m.enabled,
                    paused: m.paused,
                    excluded: m.is_excluded_at(now),
                    failing: m.consecutive_failures > 0,
                },
                running.contains(&m.rep_id),
            );
            *states.entry(state).or_default() += 1.0;
            for k in &m.kinds {
                if let (Some(b), Some(sum)) = (k.backlog, backlog.get_mut(&k.kind)) {
                    *sum += b as f64;
                }
            }
        }
        for (state, n) in states {
            metrics::gauge!("graph_connector_mailboxes", "state" => state).set(n);
        }
        for (kind, n) in backlog {
            metrics::gauge!("graph_connector_backlog_items", "kind" => kind.as_str()).set(n);
        }
    }
}

/// The state of a mailbox as the admin page and the metrics show it.
pub fn mailbox_state(m: &MailboxRecord, running: bool, now: Timestamp) -> &'static str {
    state_of(
        Health {
            enabled: m.enabled,
            paused: m.paused_at.is_some(),
            excluded: m.is_excluded_at(now),
            failing: m.consecutive_failures > 0,
        },
        running,
    )
}

/// What a mailbox's state is made of: a full record (admin page) and a schedule entry (the
/// scheduler's metrics) both carry it.
struct Health {
    enabled: bool,
    /// Paused as a whole.
    paused: bool,
    excluded: bool,
    failing: bool,
}

fn state_of(h: Health, running: bool) -> &'static str {
    if !h.enabled {
        "disabled"
    } else if h.paused {
        "paused"
    } else if h.excluded {
        "excluded"
    } else if running {
        "running"
    } else if h.failing {
        "failing"
    } else {
        "ok"
    }
}
