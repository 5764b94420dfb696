//! Exchange Online's sending limits for the administrator's mailbox.
//!
//! Every notice to a user and every alert to the administrator is a `sendMail` from
//! `[microsoft] admin_email`. Exchange Online lets one mailbox send about 30 messages a
//! minute and reach 10,000 recipients a day (its published limits, not Graph's; a mailbox
//! over the daily one is blocked from sending for a day). A tenant's first sync can leave
//! thousands of users a notice; sent as fast as the runs end, they would pass both. So the
//! sends are counted here, and one over a limit is refused before it leaves: the notice
//! stays in the store for the mailbox's next run, an alert is recorded as not delivered.
//!
//! The limits are settings (`[microsoft] admin_sends_per_minute`, `admin_recipients_per_day`),
//! since Microsoft may change them and a tenant may have its own; the count is this process's,
//! so several `run` processes sharing a tenant are each given their share (the example
//! configuration says so).
//! Messages to the administrator's own address (the alerts) may use the last slots of each
//! window, which the users' notices leave free: an alert is never crowded out by notices.
//!
//! Why not the `governor` cells the Graph client's request budgets use: those spread requests
//! evenly (GCRA), and a cell that allows a burst of 30 lets about 60 through in a rolling
//! minute. Exchange counts the sends in the window, so they are counted here the same way.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many messages the administrator's mailbox may send; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Messages per rolling minute.
    pub per_minute: u32,
    /// Recipients per rolling 24 hours (every message here has one).
    pub per_day: u32,
}

impl Default for SendLimits {
    /// Exchange Online's published limits for one mailbox.
    fn default() -> Self {
        SendLimits {
            per_minute: 30,
            per_day: 10_000,
        }
    }
}

/// Who a message is for: a user's notice leaves the reserve free for alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFor {
    /// A notice to a user.
    User,
    /// An alert to the administrator.
    Admin,
}

/// Slots of each window kept for alerts: one a minute, a hundred a day (at most a tenth of a
/// limit, so a small limit is not all reserve).
fn reserve(limit: u32, wanted: u32) -> u32 {
    wanted.min(limit / 10)
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a send was refused, for the error the caller reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The limit that was reached, as its setting names it.
    pub setting: &'static str,
    /// That limit's value.
    pub limit: u32,
    /// Its window, as the message says it ("minute", "24 hours").
    pub per: &'static str,
    /// When a slot frees up.
    pub retry_in: Duration,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the administrator's mailbox reached its sending limit ({} messages per {}, \
             [microsoft] {}; Exchange Online's limit unless changed); a slot frees up in {} s",
            self.limit,
            self.per,
            self.setting,
            self.retry_in.as_secs().max(1)
        )
    }
}

/// Whether one more message may go now, given the send times of the last 24 hours (oldest
/// first, none older than a day). Pure: the rule, apart from the clock and the lock.
pub fn admit(
    sent: &VecDeque<Instant>,
    now: Instant,
    limits: SendLimits,
    who: SendFor,
) -> Result<(), Refused> {
    let cap = |limit: u32, kept: u32| match who {
        SendFor::Admin => limit,
        SendFor::User => limit - reserve(limit, kept),
    };
    if limits.per_day > 0 {
        let cap = cap(limits.per_day, 100) as usize;
        if sent.len() >= cap {
            // The oldest send that must leave the window before one more fits.
            let at = sent[sent.len() - cap];
            return Err(Refused {
                setting: "admin_recipients_per_day",
                limit: limits.per_day,
                per: "24 hours",
                retry_in: (at + DAY).saturating_duration_since(now),
            });
        }
    }
    if limits.per_minute > 0 {
        // The minute is full when the cap-th most recent send is in it; a slot frees up when
        // that one leaves.
        let cap = cap(limits.per_minute, 1) as usize;
        if let Some(at) = sent
            .iter()
            .rev()
            .nth(cap - 1)
            .filter(|t| now.saturating_duration_since(**t) < MINUTE)
        {
            return Err(Refused {
                setting: "admin_sends_per_minute",
                limit: limits.per_minute,
                per: "minute",
                retry_in: (*at + MINUTE).saturating_duration_since(now),
            });
        }
    }
    Ok(())
}

/// The process's count of the administrator's sends.
#[derive(Debug)]
pub struct SendLimiter {
    limits: SendLimits,
    /// Send times of the last 24 hours, oldest first; at most `per_day` of them (or the last
    /// minute's when there is no daily limit), so memory is bounded by the settings.
    sent: Mutex<VecDeque<Instant>>,
}

impl SendLimiter {
    /// A limiter with `limits`.
    pub fn new(limits: SendLimits) -> Self {
        SendLimiter {
            limits,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Take a slot for one message now, or say why not.
    pub fn take(&self, who: SendFor) -> Result<(), Refused> {
        self.take_at(Instant::now(), who)
    }

    fn take_at(&self, now: Instant, who: SendFor) -> Result<(), Refused> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let keep = if self.limits.per_day > 0 { DAY } else { MINUTE };
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= keep)
        {
            sent.pop_front();
        }
        admit(&sent, now, self.limits, who)?;
        if self.limits.per_day > 0 || self.limits.per_minute > 0 {
            sent.push_back(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, per_day: u32) -> SendLimiter {
        SendLimiter::new(SendLimits {
            per_minute,
            per_day,
        })
    }

    #[test]
    fn notices_stop_one_short_of_the_minute_and_alerts_take_the_last_slot() {
        let l = limiter(30, 10_000);
        let t0 = Instant::now();
        for i in 0..29 {
            l.take_at(t0 + Duration::from_millis(i), SendFor::User)
                .expect("within the minute's limit");
        }
        let refused = l
            .take_at(t0 + Duration::from_secs(1), SendFor::User)
            .unwrap_err();
        assert_eq!(refused.setting, "admin_sends_per_minute");
        assert_eq!(refused.retry_in, Duration::from_secs(59));
        assert!(refused.to_string().contains("30 messages per minute"));
        // The slot kept free is an alert's.
        l.take_at(t0 + Duration::from_secs(1), SendFor::Admin)
            .expect("the reserve");
        assert!(
            l.take_at(t0 + Duration::from_secs(2), SendFor::Admin)
                .is_err()
        );
        // A minute after the first sends, slots free up again.
        l.take_at(t0 + Duration::from_secs(61), SendFor::User)
            .expect("the window moved on");
    }

    #[test]
    fn the_daily_limit_counts_24_hours_and_says_when_a_slot_frees() {
        let l = limiter(0, 20);
        let t0 = Instant::now();
        // A tenth of 20 is 2 kept for alerts (the wanted 100 is more than a tenth).
        for i in 0..18 {
            l.take_at(t0 + Duration::from_secs(i), SendFor::User)
                .expect("within the day's limit");
        }
        let refused = l
            .take_at(t0 + Duration::from_secs(3600), SendFor::User)
            .unwrap_err();
        assert_eq!(refused.setting, "admin_recipients_per_day");
        assert_eq!(refused.retry_in, DAY - Duration::from_secs(3600));
        l.take_at(t0 + Duration::from_secs(3600), SendFor::Admin)
            .unwrap();
        l.take_at(t0 + Duration::from_secs(3601), SendFor::Admin)
            .unwrap();
        assert!(
            l.take_at(t0 + Duration::from_secs(3602), SendFor::Admin)
                .is_err()
        );
        // A day on, the first send has left the window; the 17 later ones and the 2 alerts
        // are still one too many for the users' 18, until two more have left.
        let refused = l.take_at(t0 + DAY, SendFor::User).unwrap_err();
        assert_eq!(refused.retry_in, Duration::from_secs(2));
        l.take_at(t0 + DAY + Duration::from_secs(2), SendFor::User)
            .expect("a day later");
    }

    #[test]
    fn no_limit_keeps_nothing() {
        let l = limiter(0, 0);
        let t0 = Instant::now();
        for i in 0..1_000 {
            l.take_at(t0 + Duration::from_millis(i), SendFor::User)
                .unwrap();
        }
        assert!(l.sent.lock().unwrap().is_empty());
    }

    #[test]
    fn memory_is_bounded_by_the_daily_limit() {
        let l = limiter(0, 50);
        let t0 = Instant::now();
        for i in 0..10_000 {
            let _ = l.take_at(t0 + Duration::from_millis(i), SendFor::Admin);
        }
        assert_eq!(l.sent.lock().unwrap().len(), 50);
    }
}
