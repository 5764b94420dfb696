//! What the subscriptions need, decided without I/O: from the wanted (mailbox, kind,
//! resource) triples, the stored subscriptions and the time, the list of creates, renewals,
//! replacements and deletions the manager then carries out.

use std::time::Duration;

use gc_store::{Kind, SubscriptionRecord};
use jiff::{SignedDuration, Timestamp};

/// A subscription that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// Mailbox (rep id).
    pub mailbox: String,
    /// Kind.
    pub kind: Kind,
    /// The Graph resource to watch.
    pub resource: String,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// No subscription yet.
    Create(Want),
    /// Still valid but expiring within the renewal margin: move its expiry.
    Renew(SubscriptionRecord),
    /// Expired, or watching another resource (the sync folder was re-created): delete the
    /// old one and create anew.
    Replace { old: SubscriptionRecord, want: Want },
    /// No longer wanted (mailbox gone, kind disabled).
    Delete(SubscriptionRecord),
}

/// The actions that make `stored` match `wanted` at `now`.
pub fn plan(
    wanted: &[Want],
    stored: &[SubscriptionRecord],
    now: Timestamp,
    renew_before: SignedDuration,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for want in wanted {
        let have = stored
            .iter()
            .find(|s| s.mailbox == want.mailbox && s.kind == want.kind);
        match have {
            None => actions.push(Action::Create(want.clone())),
            Some(old) if old.resource != want.resource || old.expires_at <= now => {
                actions.push(Action::Replace {
                    old: old.clone(),
                    want: want.clone(),
                })
            }
            Some(old) if now.duration_until(old.expires_at) < renew_before => {
                actions.push(Action::Renew(old.clone()))
            }
            Some(_) => {}
        }
    }
    for s in stored {
        if !wanted
            .iter()
            .any(|w| w.mailbox == s.mailbox && w.kind == s.kind)
        {
            actions.push(Action::Delete(s.clone()));
        }
    }
    actions
}

/// When to look again: the earliest renewal due among `stored` (never later than `max`).
pub fn next_look(
    stored: &[SubscriptionRecord],
    now: Timestamp,
    renew_before: SignedDuration,
    max: SignedDuration,
) -> SignedDuration {
    stored
        .iter()
        .map(|s| now.duration_until(s.expires_at) - renew_before)
        .fold(max, SignedDuration::min)
        .max(SignedDuration::ZERO)
}

/// How long to wait before the next pass while some subscriptions cannot be made yet (a
/// folder no run has resolved, a pair waiting after a failure), given the last such wait:
/// `soon` after a pass that set anything up, twice the last wait (at most `max`) after one
/// that set nothing up. While a first round resolves folders, every pass finds new ones and
/// the manager keeps up with it; a mailbox whose runs keep failing is looked at ever less
/// often instead of a full pass every `soon` for as long as it fails. Such a pair is polled
/// at its interval meanwhile.
pub fn relook(last: Duration, set_up: bool, soon: Duration, max: Duration) -> Duration {
    if set_up || last < soon {
        soon
    } else {
        (last * 2).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn want(mailbox: &str, kind: Kind, resource: &str) -> Want {
        Want {
            mailbox: mailbox.into(),
            kind,
            resource: resource.into(),
        }
    }

    fn sub(mailbox: &str, kind: Kind, resource: &str, expires: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            mailbox: mailbox.into(),
            kind,
            subscription_id: format!("{mailbox}-{kind}"),
            resource: resource.into(),
            client_state: "secret".into(),
            expires_at: at(expires),
        }
    }

    #[test]
    fn creates_renews_replaces_and_deletes() {
        let now = at("2030-01-10T00:00:00Z");
        let day = SignedDuration::from_hours(24);
        let wanted = vec![
            want("1", Kind::Email, "users/a/mailFolders('f1')/messages"),
            want("1", Kind::Appointment, "users/a/events"),
            want("2", Kind::Email, "users/b/mailFolders('f2')/messages"),
            want("3", Kind::Appointment, "users/c/events"),
            want("4", Kind::Appointment, "users/d/events"),
        ];
        let stored = vec![
            // fine for days
            sub(
                "1",
                Kind::Email,
                "users/a/mailFolders('f1')/messages",
                "2030-01-15T00:00:00Z",
            ),
            // the folder was re-created
            sub(
                "2",
                Kind::Email,
                "users/b/mailFolders('old')/messages",
                "2030-01-15T00:00:00Z",
            ),
            // expires in 2 hours: renew
            sub(
                "3",
                Kind::Appointment,
                "users/c/events",
                "2030-01-10T02:00:00Z",
            ),
            // expired: Graph removed it
            sub(
                "4",
                Kind::Appointment,
                "users/d/events",
                "2030-01-09T23:00:00Z",
            ),
            // the mailbox is gone
            sub(
                "9",
                Kind::Email,
                "users/z/mailFolders('f')/messages",
                "2030-01-15T00:00:00Z",
            ),
        ];
        let actions = plan(&wanted, &stored, now, day);
        assert_eq!(
            actions,
            vec![
                Action::Create(wanted[1].clone()),
                Action::Replace {
                    old: stored[1].clone(),
                    want: wanted[2].clone()
                },
                Action::Renew(stored[2].clone()),
                Action::Replace {
                    old: stored[3].clone(),
                    want: wanted[4].clone()
                },
                Action::Delete(stored[4].clone()),
            ]
        );
    }

    #[test]
    fn looks_again_at_the_first_renewal() {
        let now = at("2030-01-10T00:00:00Z");
        let day = SignedDuration::from_hours(24);
        let max = SignedDuration::from_hours(1);
        let stored = vec![sub("1", Kind::Email, "r", "2030-01-11T00:30:00Z")];
        assert_eq!(
            next_look(&stored, now, day, max),
            SignedDuration::from_mins(30)
        );
        assert_eq!(next_look(&[], now, day, max), max);
        let late = vec![sub("1", Kind::Email, "r", "2030-01-10T01:00:00Z")];
        assert_eq!(next_look(&late, now, day, max), SignedDuration::ZERO);
    }

    #[test]
    fn passes_that_set_nothing_up_come_ever_later() {
        let soon = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        let mut wait = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..7 {
            wait = relook(wait, false, soon, max);
            waits.push(wait.as_secs());
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        // A pass that set something up: soon again.
        assert_eq!(relook(wait, true, soon, max), soon);
    }
}
