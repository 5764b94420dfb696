//! The mass-delete guard (`[errors] max_delete_fraction`, `delete_guard_min`).
//!
//! A run that would delete (or mark deleted) more than a fraction of a mailbox's linked items
//! of one kind, or that walks a side from the start and finds it empty while links exist (an
//! emptied calendar, a CRM query that suddenly returns nothing), is almost always a mistake
//! somewhere else: a filter changed, a calendar wiped by a migration tool, a CRM view that
//! lost its rights. The guard lets no such deletion through before it knows how many there
//! are: during the walk every decision the kind calls a deletion ([`Planned::deletes`]) is
//! *held* (not applied, its page's checkpoint not stored), the rest of the run goes on, and
//! at the end of each source [`verdict`] decides. Within the limits the held changes are
//! worked again at once (their deletions go through, counted as usual); beyond them nothing
//! is deleted, the mailbox and kind wait for the administrator's confirmation
//! ([`super::holds`]), and the next runs re-read the held pages until then.
//!
//! Memory stays bounded: the held changes are kept for the second pass only while their
//! number is within what the limits allow; past that the run will stop anyway and only counts.

use std::sync::Mutex;

use gc_store::Link;

use crate::engine::cx::RunCx;
use crate::error::{PortError, store_error};
use crate::plan::Planned;

/// Links read per request when counting.
const COUNT_PAGE: u32 = 1000;

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardLimits {
    /// The largest fraction of the linked items one run may delete (`[errors]
    /// max_delete_fraction`).
    pub max_fraction: f64,
    /// A run deleting fewer items than this is never held (`[errors] delete_guard_min`): a
    /// small mailbox losing two of its five appointments is a user's work, not an accident.
    pub min: u64,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            max_fraction: 0.2,
            min: 5,
        }
    }
}

/// Why a run is held, or `None`: `deletions` counted in this run (held and already done),
/// `links` the mailbox's links of the kind when the run started, `empty`: the label of a side
/// walked from the start that returned nothing while links exist.
pub fn verdict(
    deletions: u64,
    links: u64,
    limits: GuardLimits,
    empty: Option<&str>,
) -> Option<String> {
    if deletions == 0 || deletions < limits.min.max(1) {
        return None;
    }
    if let Some(side) = empty
        && links > 0
    {
        return Some(format!(
            "{side} returned nothing while {links} item(s) are linked: {deletions} deletion(s) held"
        ));
    }
    let allowed = limits.max_fraction * links as f64;
    (deletions as f64 > allowed).then(|| {
        format!(
            "{deletions} deletion(s) of {links} linked item(s) ({:.0} %) exceed [errors] max_delete_fraction ({:.0} %)",
            100.0 * deletions as f64 / links.max(1) as f64,
            100.0 * limits.max_fraction
        )
    })
}

#[derive(Debug, Default)]
struct State {
    /// Deletions held in this run.
    held: u64,
    /// Deletions let through in this run (second passes).
    done: u64,
    /// The second pass of a source is under way: deletions go through.
    letting_through: bool,
    /// A side walked from the start that returned nothing while links exist.
    empty: Option<String>,
    /// A few of the held items, for the hold's summary.
    samples: Vec<String>,
}

/// The guard of one mailbox run of one kind.
#[derive(Debug)]
pub struct DeleteGuard {
    limits: GuardLimits,
    /// The administrator confirmed the deletions: nothing is held in this run.
    released: bool,
    links: tokio::sync::OnceCell<u64>,
    state: Mutex<State>,
}

impl DeleteGuard {
    /// A guard; `released`: the administrator confirmed this mailbox and kind's held
    /// deletions, so this run lets every deletion through.
    pub fn new(limits: GuardLimits, released: bool) -> Self {
        DeleteGuard {
            limits,
            released,
            links: tokio::sync::OnceCell::new(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this decision of `item` is held: a deletion while the guard is armed.
    pub(crate) fn holds(&self, item: &str, planned: &Planned) -> bool {
        if !planned.deletes() || self.released {
            return false;
        }
        let mut s = self.state();
        if s.letting_through {
            s.done += 1;
            return false;
        }
        s.held += 1;
        if s.samples.len() < 5 {
            s.samples.push(format!("{item}: {}", planned.reason));
        }
        true
    }

    /// Deletions held so far in this run.
    pub fn held(&self) -> u64 {
        self.state().held
    }

    /// A side walked from the start returned nothing.
    pub(crate) fn saw_empty(&self, label: &str) {
        self.state().empty.get_or_insert_with(|| label.to_owned());
    }

    /// The mailbox's links of this kind (counted once, when first needed).
    pub(crate) async fn links(&self, cx: &RunCx<'_>) -> Result<u64, PortError> {
        self.links
            .get_or_try_init(|| async {
                let mut n = 0u64;
                let mut after: Option<String> = None;
                loop {
                    let page: Vec<Link> = cx
                        .store
                        .list_links(cx.mailbox(), cx.kind, after.as_deref(), COUNT_PAGE)
                        .await
                        .map_err(store_error)?;
                    n += page
                        .iter()
                        .filter(|l| l.state != gc_store::LinkState::SoftDeleted)
                        .count() as u64;
                    match page.last() {
                        Some(l) if page.len() as u32 == COUNT_PAGE => {
                            after = Some(l.graph_id.clone())
                        }
                        _ => return Ok(n),
                    }
                }
            })
            .await
            .copied()
    }

    /// Whether the held changes are still worth keeping for a second pass: their number is
    /// within what the limits could allow.
    pub(crate) fn worth_keeping(&self, links: u64) -> bool {
        let s = self.state();
        let total = s.held + s.done;
        total < self.limits.min || (total as f64) <= self.limits.max_fraction * links as f64
    }

    /// At the end of a source with held deletions: why the run stops, or `None` when they
    /// may go through (the caller works them again with [`DeleteGuard::let_through`]).
    pub(crate) fn judge(&self, links: u64) -> Option<String> {
        let s = self.state();
        verdict(s.held + s.done, links, self.limits, s.empty.as_deref())
    }

    /// Start (or end) the second pass of a source: its deletions go through.
    pub(crate) fn let_through(&self, on: bool) {
        let mut s = self.state();
        s.letting_through = on;
        if on {
            s.held = 0;
        }
    }

    /// Examples of held items.
    pub fn samples(&self) -> Vec<String> {
        self.state().samples.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::progress::ItemOutcome;
    use crate::plan::Side;

    const L: GuardLimits = GuardLimits {
        max_fraction: 0.2,
        min: 5,
    };

    #[test]
    fn a_fifth_of_the_links_goes_through_more_is_held() {
        assert_eq!(verdict(20, 100, L, None), None);
        let why = verdict(21, 100, L, None).unwrap();
        assert!(why.contains("21 deletion(s) of 100"), "{why}");
        assert!(why.contains("max_delete_fraction (20 %)"), "{why}");
    }

    #[test]
    fn few_deletions_are_never_held() {
        assert_eq!(verdict(4, 5, L, None), None);
        assert_eq!(verdict(4, 5, L, Some("calendar")), None);
        assert_eq!(verdict(0, 5, L, Some("calendar")), None);
        assert!(verdict(5, 5, L, None).is_some());
    }

    #[test]
    fn an_empty_side_is_named() {
        let limits = GuardLimits {
            max_fraction: 1.0,
            min: 5,
        };
        assert_eq!(verdict(6, 6, limits, None), None, "everything allowed");
        let why = verdict(6, 6, limits, Some("calendar")).unwrap();
        assert!(why.starts_with("calendar returned nothing"), "{why}");
    }

    #[test]
    fn only_deletions_are_held_and_none_once_released() {
        let g = DeleteGuard::new(L, false);
        let del = Planned::new(ItemOutcome::Deleted, Some(Side::Crm), "gone");
        let upd = Planned::new(ItemOutcome::Updated, Some(Side::Crm), "changed");
        assert!(g.holds("a", &del));
        assert!(!g.holds("b", &upd));
        assert_eq!(g.held(), 1);
        g.let_through(true);
        assert!(!g.holds("a", &del));
        let released = DeleteGuard::new(L, true);
        assert!(!released.holds("a", &del));
        assert_eq!(released.held(), 0);
    }
}
