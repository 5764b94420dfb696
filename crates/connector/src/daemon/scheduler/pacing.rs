//! How the scheduler's passes are spaced: a pass reads every mailbox's schedule, so how soon
//! the next one may start is its own rule, tuned against measurements (docs/PERFORMANCE.md)
//! apart from what a pass does.

use std::time::Duration;

/// The longest a pass waits after the previous one while due pairs wait for a free slot
/// (see `Scheduler::run`).
const PASS_GAP_MAX: Duration = Duration::from_secs(1);

/// While nothing due waits for a slot, a pass is followed by a gap of this many times its own
/// length (at most [`QUIET_GAP_MAX`]): the scheduler then spends at most a tenth of its time
/// reading the schedule. With 10,000 mailboxes on a five-minute interval some pair comes due
/// every few tens of milliseconds, and passes ran back to back, each reading the whole
/// schedule; spacing them cut the steady state's CPU by about a ninth (docs/PERFORMANCE.md,
/// "10,000 mailboxes"). A small tenant's pass takes a millisecond and is not delayed
/// noticeably.
const QUIET_GAP_FACTOR: u32 = 9;

/// The longest gap after a pass while nothing waits for a slot: how much later than its due
/// time a pair may start (well within the slack the intervals allow).
const QUIET_GAP_MAX: Duration = Duration::from_secs(5);

/// How long after a pass that took `took` the next one may start: as long as it took (at most
/// [`PASS_GAP_MAX`]) while due pairs wait for a slot, else [`QUIET_GAP_FACTOR`] times as long
/// (at most [`QUIET_GAP_MAX`]).
pub(super) fn pass_gap(took: Duration, waiting: bool) -> Duration {
    if waiting {
        took.min(PASS_GAP_MAX)
    } else {
        (took * QUIET_GAP_FACTOR).min(QUIET_GAP_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_spaced_more_while_nothing_waits_for_a_slot() {
        let ms = Duration::from_millis;
        // Work waits for slots: the next pass as soon as this one took, at most a second.
        assert_eq!(pass_gap(ms(40), true), ms(40));
        assert_eq!(pass_gap(ms(3000), true), PASS_GAP_MAX);
        // Nothing waits: a tenth of the time reading the schedule, at most QUIET_GAP_MAX.
        assert_eq!(pass_gap(ms(2), false), ms(18));
        assert_eq!(pass_gap(ms(300), false), ms(2700));
        assert_eq!(pass_gap(ms(3000), false), QUIET_GAP_MAX);
    }
}
