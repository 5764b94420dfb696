//! What the next sync would do, without doing it: `graph-connector plan`, the first-sync
//! review (`[mailboxes] confirm_first_sync_above`) and the mass-delete guard
//! (`[errors] max_delete_fraction`) all read a kind's decisions through the one mapping in
//! [`map`], so that "would create" in a plan, "created" in a run report and "a deletion" to
//! the guard are the same thing.
//!
//! The engine's planning walk is [`Engine::plan_mailbox`](crate::engine::Engine::plan_mailbox)
//! (`engine/planner.rs`): every source read from its stored checkpoint, every change
//! identified, triaged, gathered (reads only) and decided, and the decision counted here
//! instead of applied. Nothing is written to Microsoft 365, CRM or the store.

pub mod map;

use gc_store::Kind;
use serde::Serialize;

use crate::engine::progress::ItemOutcome;

/// Which side a decision writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Aurea CRM.
    Crm,
    /// Microsoft 365 (mailbox, calendar, To Do, contacts).
    Microsoft365,
    /// Both (a two-way update).
    Both,
}

/// What a decision amounts to: the outcome its `apply` reports, the side it writes and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The outcome the run report counts it as.
    pub outcome: ItemOutcome,
    /// The side written (`None`: nothing is written outside the store, e.g. a link closed).
    pub side: Option<Side>,
    /// Why, in words (a plan's samples).
    pub reason: String,
    /// Copies of the record this write will put into other synced mailboxes, which their
    /// own runs then find and adopt (a CRM meeting written into its organizer's calendar
    /// invites the other reps): the runs count those adoptions, the plan cannot see them as
    /// items, so it names them here.
    pub copies: Vec<ExpectedCopy>,
}

/// A copy of a record one mailbox's write puts into another synced mailbox (an invitation in
/// a colleague's calendar), to be adopted by that mailbox's run: in the same run when that
/// mailbox is worked after the write, else in the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedCopy {
    /// The mailbox the copy arrives in (its address).
    pub mailbox: String,
    /// What arrives, in words.
    pub reason: String,
}

impl Planned {
    /// A planned outcome.
    pub fn new(outcome: ItemOutcome, side: Option<Side>, reason: impl Into<String>) -> Self {
        Planned {
            outcome,
            side,
            reason: reason.into(),
            copies: Vec::new(),
        }
    }

    /// The same, with the copies its write puts into other synced mailboxes.
    pub fn with_copies(mut self, copies: Vec<ExpectedCopy>) -> Self {
        self.copies = copies;
        self
    }

    /// Whether this is a deletion (or a mark as deleted) on one side: what the mass-delete
    /// guard counts. Closing a link whose counterpart is already gone writes nothing and is
    /// not one.
    pub fn deletes(&self) -> bool {
        self.outcome == ItemOutcome::Deleted && self.side.is_some()
    }
}

/// Counts per side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SideCounts {
    /// Records written new.
    pub create: u64,
    /// Existing records adopted.
    pub adopt: u64,
    /// Records updated.
    pub update: u64,
    /// Records deleted or marked deleted.
    pub delete: u64,
}

/// Per side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySide {
    /// Writes to CRM.
    pub crm: SideCounts,
    /// Writes to Microsoft 365.
    pub microsoft365: SideCounts,
}

/// One example of a planned decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSample {
    /// The category (`create`, `adopt`, `update`, `delete`, `skip`, `fail`, `delay`).
    pub action: &'static str,
    /// The item (the ledger's item key).
    pub item: String,
    /// The side written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// Why.
    pub reason: String,
}

/// One example of a copy another mailbox will adopt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySample {
    /// The item whose write makes the copy (the ledger's item key).
    pub item: String,
    /// The mailbox the copy arrives in.
    pub mailbox: String,
    /// What arrives, and what becomes of it.
    pub reason: String,
}

/// Samples kept per category of a plan.
pub const SAMPLES_PER_ACTION: usize = 3;

/// What the next sync of one mailbox and kind would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxPlan {
    /// The rep's address.
    pub mailbox: String,
    /// The kind.
    pub kind: Kind,
    /// Records it would write new.
    pub create: u64,
    /// Existing records it would adopt (link instead of writing again).
    pub adopt: u64,
    /// Records it would update.
    pub update: u64,
    /// Records it would delete or mark deleted (on either side; see `sides`).
    pub delete: u64,
    /// Items it would skip on purpose.
    pub skip: u64,
    /// Items already in sync.
    pub unchanged: u64,
    /// Items that would fail.
    pub fail: u64,
    /// Items that could not be planned now (a transient error, a retry waiting).
    pub delay: u64,
    /// The counts per side.
    pub sides: BySide,
    /// No round of this mailbox and kind has completed yet (a first sync).
    pub first_sync: bool,
    /// A few examples per category, with the reasons.
    pub samples: Vec<PlanSample>,
    /// Copies this mailbox's writes put into other synced mailboxes (a CRM meeting written
    /// into the organizer's calendar invites the other reps), which their runs adopt, in
    /// the same run or the next: counted there as "adopt", not in their plans.
    pub expected_copies: u64,
    /// A few of them, one per mailbox a copy arrives in.
    pub copies: Vec<CopySample>,
    /// Why the plan is incomplete (a mailbox or tenant error while reading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MailboxPlan {
    /// An empty plan.
    pub fn new(mailbox: impl Into<String>, kind: Kind) -> Self {
        MailboxPlan {
            mailbox: mailbox.into(),
            kind,
            create: 0,
            adopt: 0,
            update: 0,
            delete: 0,
            skip: 0,
            unchanged: 0,
            fail: 0,
            delay: 0,
            sides: BySide::default(),
            first_sync: false,
            samples: Vec::new(),
            expected_copies: 0,
            copies: Vec::new(),
            error: None,
        }
    }

    /// Count one planned decision of `item`.
    pub fn count(&mut self, item: &str, p: &Planned) {
        let action = match p.outcome {
            ItemOutcome::Created => {
                self.create += 1;
                "create"
            }
            ItemOutcome::Adopted => {
                self.adopt += 1;
                "adopt"
            }
            ItemOutcome::Updated => {
                self.update += 1;
                "update"
            }
            ItemOutcome::Deleted => {
                self.delete += 1;
                "delete"
            }
            ItemOutcome::Skipped => {
                self.skip += 1;
                "skip"
            }
            ItemOutcome::Failed => {
                self.fail += 1;
                "fail"
            }
            ItemOutcome::Delayed => {
                self.delay += 1;
                "delay"
            }
            ItemOutcome::Unchanged => {
                self.unchanged += 1;
                return;
            }
            ItemOutcome::Ignored => return,
        };
        // Only a write makes copies (a failed or delayed one makes none this run).
        if matches!(
            p.outcome,
            ItemOutcome::Created | ItemOutcome::Adopted | ItemOutcome::Updated
        ) {
            self.expected_copies += p.copies.len() as u64;
            for c in &p.copies {
                if self.copies.len() < SAMPLES_PER_ACTION {
                    self.copies.push(CopySample {
                        item: item.to_owned(),
                        mailbox: c.mailbox.clone(),
                        reason: c.reason.clone(),
                    });
                }
            }
        }
        let add = |c: &mut SideCounts| match p.outcome {
            ItemOutcome::Created => c.create += 1,
            ItemOutcome::Adopted => c.adopt += 1,
            ItemOutcome::Updated => c.update += 1,
            ItemOutcome::Deleted => c.delete += 1,
            _ => {}
        };
        match p.side {
            Some(Side::Crm) => add(&mut self.sides.crm),
            Some(Side::Microsoft365) => add(&mut self.sides.microsoft365),
            Some(Side::Both) => {
                add(&mut self.sides.crm);
                add(&mut self.sides.microsoft365);
            }
            None => {}
        }
        if self.samples.iter().filter(|s| s.action == action).count() < SAMPLES_PER_ACTION {
            self.samples.push(PlanSample {
                action,
                item: item.to_owned(),
                side: p.side,
                reason: p.reason.clone(),
            });
        }
    }

    /// Deletions on either side (what the first-sync review counts).
    pub fn deletions(&self) -> u64 {
        self.delete
    }

    /// Whether the plan writes anything at all.
    pub fn writes(&self) -> bool {
        self.create + self.adopt + self.update + self.delete > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_go_to_their_category_and_side_with_a_few_samples() {
        let mut p = MailboxPlan::new("a@x", Kind::Appointment);
        for i in 0..5 {
            p.count(
                &format!("e{i}"),
                &Planned::new(ItemOutcome::Created, Some(Side::Crm), "new event"),
            );
        }
        p.count(
            "d",
            &Planned::new(
                ItemOutcome::Deleted,
                Some(Side::Microsoft365),
                "gone in CRM",
            ),
        );
        p.count("u", &Planned::new(ItemOutcome::Unchanged, None, ""));
        p.count(
            "b",
            &Planned::new(ItemOutcome::Updated, Some(Side::Both), "both"),
        );
        assert_eq!((p.create, p.delete, p.update, p.unchanged), (5, 1, 1, 1));
        assert_eq!(p.sides.crm.create, 5);
        assert_eq!(p.sides.microsoft365.delete, 1);
        assert_eq!((p.sides.crm.update, p.sides.microsoft365.update), (1, 1));
        assert_eq!(
            p.samples.iter().filter(|s| s.action == "create").count(),
            SAMPLES_PER_ACTION
        );
        assert!(p.samples.iter().all(|s| s.action != "unchanged"));
    }

    #[test]
    fn copies_of_a_write_are_counted_with_a_few_examples() {
        let copies = |n: usize| {
            (0..n)
                .map(|i| ExpectedCopy {
                    mailbox: format!("rep{i}@x"),
                    reason: format!("a copy will arrive in rep{i}@x's calendar"),
                })
                .collect::<Vec<_>>()
        };
        let mut p = MailboxPlan::new("a@x", Kind::Appointment);
        p.count(
            "crm:1",
            &Planned::new(ItemOutcome::Created, Some(Side::Microsoft365), "new")
                .with_copies(copies(2)),
        );
        p.count(
            "e2",
            &Planned::new(ItemOutcome::Updated, Some(Side::Microsoft365), "edited")
                .with_copies(copies(3)),
        );
        // Nothing written, no copy made.
        for outcome in [
            ItemOutcome::Failed,
            ItemOutcome::Delayed,
            ItemOutcome::Skipped,
        ] {
            p.count(
                "e3",
                &Planned::new(outcome, None, "").with_copies(copies(1)),
            );
        }
        assert_eq!(p.expected_copies, 5);
        assert_eq!(p.copies.len(), SAMPLES_PER_ACTION);
        assert_eq!(
            (p.copies[0].item.as_str(), p.copies[0].mailbox.as_str()),
            ("crm:1", "rep0@x")
        );
        assert_eq!(p.copies[2].item, "e2");
    }

    #[test]
    fn closing_a_link_is_not_a_deletion_for_the_guard() {
        assert!(Planned::new(ItemOutcome::Deleted, Some(Side::Crm), "").deletes());
        assert!(!Planned::new(ItemOutcome::Deleted, None, "").deletes());
        assert!(!Planned::new(ItemOutcome::Skipped, Some(Side::Crm), "").deletes());
    }
}
