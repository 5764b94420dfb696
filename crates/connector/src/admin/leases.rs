//! Which process holds what: the live processes sharing the state store and the leases they
//! hold (mailbox and kind, item keys), read from the store's lease table so that the admin
//! page of any one process shows all of them.
//!
//! Lease keys and holders are decoded here, purely: a mailbox lease is `{mailbox}/{kind}`
//! held by the process itself; an item's global-key lease is `{kind}:{key}` held by
//! `{process}/{mailbox}/{item}/{attempt}`; a presence lease is `process/{process}` (see
//! `daemon::presence`).

use std::collections::BTreeMap;

use gc_store::{Kind, Lease, MailboxRecord};
use jiff::Timestamp;
use serde::Serialize;

/// What a lease is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Leased {
    /// A running process's presence.
    Process,
    /// Working a mailbox and kind.
    Mailbox {
        /// The store's id of the mailbox.
        rep_id: String,
        /// The kind.
        kind: Kind,
    },
    /// Writing one item's CRM record (its global key, across mailboxes).
    Item {
        /// The kind.
        kind: Kind,
        /// The global key (for e-mails, the internetMessageId).
        key: String,
    },
    /// A key this version does not know.
    Other,
}

/// Decode a lease key.
pub fn leased(key: &str) -> Leased {
    if key.starts_with(gc_store::PROCESS_LEASE_PREFIX) {
        return Leased::Process;
    }
    if let Some((mailbox, kind)) = key.rsplit_once('/')
        && !mailbox.contains(':')
        && let Ok(kind) = kind.parse::<Kind>()
    {
        return Leased::Mailbox {
            rep_id: mailbox.to_owned(),
            kind,
        };
    }
    if let Some((kind, rest)) = key.split_once(':')
        && let Ok(kind) = kind.parse::<Kind>()
    {
        return Leased::Item {
            kind,
            key: rest.to_owned(),
        };
    }
    Leased::Other
}

/// The process a holder belongs to: an item lease's holder starts with its process's holder
/// and a `/` (process holders never contain one).
pub fn process_of(holder: &str) -> &str {
    holder.split_once('/').map_or(holder, |(p, _)| p)
}

/// One lease as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseRow {
    /// The lease key.
    pub key: String,
    /// What it is for.
    pub leased: Leased,
    /// The mailbox's address (mailbox leases of known mailboxes).
    pub mailbox: Option<String>,
    /// The process holding it.
    pub process: String,
    /// The full holder (for item leases: process, mailbox, item and attempt).
    pub holder: String,
    /// When the holder took it.
    pub acquired_at: Timestamp,
    /// When it expires unless renewed (database clock).
    pub expires_at: Timestamp,
    /// Expired: its holder stopped renewing it (killed or stuck); the next process that
    /// wants the mailbox or item takes it over.
    pub expired: bool,
    /// The fencing generation of this holding.
    pub generation: i64,
}

/// One process sharing the state store.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessRow {
    /// Its lease holder (`name:pid:start`).
    pub holder: String,
    /// `[state] instance_name` or the host name.
    pub name: String,
    /// Its process id on its machine.
    pub pid: Option<u32>,
    /// When it registered (started, or came back after losing the store for a lease time).
    pub since: Timestamp,
    /// When its presence expires unless renewed.
    pub expires_at: Timestamp,
    /// The process serving this page.
    pub this: bool,
    /// Mailbox leases it holds (unexpired).
    pub mailboxes: usize,
    /// Item leases it holds (unexpired).
    pub items: usize,
}

/// `/api/processes`: the live processes and every lease.
#[derive(Debug, Clone, Serialize)]
pub struct Processes {
    /// The holder of the process serving this answer.
    pub this: String,
    /// Live processes (unexpired presence), this one first, then by name.
    pub processes: Vec<ProcessRow>,
    /// Every lease row, expired ones included, by key.
    pub leases: Vec<LeaseRow>,
}

/// Shape the lease table for the page and the API.
pub fn processes(
    this: &str,
    leases: &[Lease],
    mailboxes: &[MailboxRecord],
    now: Timestamp,
) -> Processes {
    let address: BTreeMap<&str, &str> = mailboxes
        .iter()
        .map(|m| (m.rep_id.as_str(), m.address.as_str()))
        .collect();
    let rows: Vec<LeaseRow> = leases
        .iter()
        .map(|l| {
            let leased = leased(&l.key);
            let mailbox = match &leased {
                Leased::Mailbox { rep_id, .. } => {
                    address.get(rep_id.as_str()).map(|a| (*a).to_owned())
                }
                _ => None,
            };
            LeaseRow {
                key: l.key.clone(),
                mailbox,
                process: process_of(&l.holder).to_owned(),
                holder: l.holder.clone(),
                acquired_at: l.acquired_at,
                expires_at: l.expires_at,
                expired: l.expires_at <= now,
                generation: l.generation,
                leased,
            }
        })
        .collect();
    let mut processes: Vec<ProcessRow> = rows
        .iter()
        .filter(|r| r.leased == Leased::Process && !r.expired)
        .map(|r| {
            let mut parts = r.holder.split(':');
            let name = parts.next().unwrap_or_default().to_owned();
            let pid = parts.next().and_then(|p| p.parse().ok());
            let held = |want: fn(&Leased) -> bool| {
                rows.iter()
                    .filter(|x| !x.expired && x.process == r.holder && want(&x.leased))
                    .count()
            };
            ProcessRow {
                holder: r.holder.clone(),
                name,
                pid,
                since: r.acquired_at,
                expires_at: r.expires_at,
                this: r.holder == this,
                mailboxes: held(|l| matches!(l, Leased::Mailbox { .. })),
                items: held(|l| matches!(l, Leased::Item { .. })),
            }
        })
        .collect();
    processes.sort_by(|a, b| (!a.this, &a.name, &a.holder).cmp(&(!b.this, &b.name, &b.holder)));
    Processes {
        this: this.to_owned(),
        processes,
        leases: rows,
    }
}

/// The unexpired holder of each (mailbox, kind): (process, expiry).
pub fn mailbox_holders(
    leases: &[Lease],
    now: Timestamp,
) -> BTreeMap<(String, Kind), (String, Timestamp)> {
    leases
        .iter()
        .filter(|l| l.expires_at > now)
        .filter_map(|l| match leased(&l.key) {
            Leased::Mailbox { rep_id, kind } => Some((
                (rep_id, kind),
                (process_of(&l.holder).to_owned(), l.expires_at),
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(key: &str, holder: &str, expires_in: i64) -> Lease {
        let now = Timestamp::from_second(1_000_000).unwrap();
        Lease {
            key: key.into(),
            holder: holder.into(),
            acquired_at: now,
            expires_at: now + jiff::SignedDuration::from_secs(expires_in),
            generation: 1,
        }
    }

    #[test]
    fn keys_decode_by_their_shape() {
        assert_eq!(leased("process/a:1:f"), Leased::Process);
        assert_eq!(
            leased("4294967394/email"),
            Leased::Mailbox {
                rep_id: "4294967394".into(),
                kind: Kind::Email
            }
        );
        assert_eq!(
            leased("email:<a/b@x.example>"),
            Leased::Item {
                kind: Kind::Email,
                key: "<a/b@x.example>".into()
            }
        );
        assert_eq!(leased("something"), Leased::Other);
        assert_eq!(process_of("a:1:f/42/item/abc"), "a:1:f");
        assert_eq!(process_of("a:1:f"), "a:1:f");
    }

    #[test]
    fn live_processes_count_what_they_hold_and_the_dead_are_left_out() {
        let now = Timestamp::from_second(1_000_010).unwrap();
        let leases = vec![
            lease("process/b:2:1", "b:2:1", 60),
            lease("process/a:1:1", "a:1:1", 60),
            lease("process/dead:3:1", "dead:3:1", 5),
            lease("10/email", "a:1:1", 60),
            lease("11/email", "a:1:1", 60),
            lease("12/email", "dead:3:1", 5),
            lease("email:<m@x>", "b:2:1/13/id/u", 60),
        ];
        let p = processes("b:2:1", &leases, &[], now);
        let names: Vec<(&str, Option<u32>, bool, usize, usize)> = p
            .processes
            .iter()
            .map(|r| (r.name.as_str(), r.pid, r.this, r.mailboxes, r.items))
            .collect();
        assert_eq!(
            names,
            vec![("b", Some(2), true, 0, 1), ("a", Some(1), false, 2, 0)]
        );
        assert_eq!(p.leases.len(), 7);
        assert!(
            p.leases
                .iter()
                .find(|l| l.key == "12/email")
                .unwrap()
                .expired
        );
        let held = mailbox_holders(&leases, now);
        assert_eq!(held.len(), 2);
        assert_eq!(held[&("10".to_owned(), Kind::Email)].0, "a:1:1");
    }
}
