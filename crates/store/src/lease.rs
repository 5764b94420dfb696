//! Leases: which process works which unit of work, and the fences that prove it.
//!
//! See `docs/STORE.md` ("Leases") for the protocol and why a fenced write cannot pass while
//! another process takes the lease over.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::types::Kind;

/// A lease row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// What is leased (see [`lease_key`]).
    pub key: String,
    /// Who holds it (process identity chosen by the caller, e.g. `host:pid:uuid`).
    pub holder: String,
    /// When the current holder acquired it.
    pub acquired_at: Timestamp,
    /// When it expires unless renewed (database clock).
    pub expires_at: Timestamp,
    /// Fencing generation of the current holding (see [`LeaseFence`]).
    pub generation: i64,
}

impl Lease {
    /// The fence of this holding.
    pub fn fence(&self) -> LeaseFence {
        LeaseFence {
            key: self.key.clone(),
            holder: self.holder.clone(),
            generation: self.generation,
        }
    }
}

/// Proof of holding a lease, returned by every acquisition and required by every write that
/// must happen only under the lease (`ItemCommit::fences`, the fenced cursor and link
/// writes, renewal and release).
///
/// `generation` changes with every change of holder: a takeover of an expired lease, a fresh
/// acquisition after a release, and a re-acquisition by the same holder after its own lease
/// expired all give a new generation; a renewal, or a re-acquisition by a holder whose lease
/// is still running, keeps it. Generations come from one store-wide counter, so a key's
/// generation is never reused, not even after a release deleted its row, and per key they
/// grow: of two holdings of one key, the one whose acquisition was asked for after the
/// other's acquisition had returned has the larger generation. They are not consecutive,
/// and several keys claimed by one bulk call may share a number.
///
/// A fenced write succeeds only while the row still holds this key, holder and generation
/// and has not expired by the database clock, checked in the write's own transaction; a
/// process that was paused past its TTL and lost the lease cannot write with its old fence
/// even though its holder name is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseFence {
    /// The lease key.
    pub key: String,
    /// The holder that acquired it.
    pub holder: String,
    /// The generation of this holding.
    pub generation: i64,
}

/// The lease key for working one mailbox and kind: `"{mailbox}/{kind}"`.
pub fn lease_key(mailbox: &str, kind: Kind) -> String {
    format!("{mailbox}/{kind}")
}

/// What every process-presence lease key starts with (see [`process_lease_key`]).
pub const PROCESS_LEASE_PREFIX: &str = "process/";

/// The lease key a running service holds, renewed, for as long as it lives:
/// `"process/{holder}"`. The unexpired ones are the live processes sharing the store (the
/// admin page lists them); a killed process's entry expires with its mailbox leases.
pub fn process_lease_key(holder: &str) -> String {
    format!("{PROCESS_LEASE_PREFIX}{holder}")
}

/// `fences` each once, in key order: how both backends check them (locking rows in key order
/// keeps two writes with the same keys from deadlocking on each other, and the first fence
/// not held is the one an error names).
pub(crate) fn distinct_fences(fences: &[LeaseFence]) -> Vec<&LeaseFence> {
    let mut distinct: Vec<&LeaseFence> = fences.iter().collect();
    distinct
        .sort_by(|a, b| (&a.key, &a.holder, a.generation).cmp(&(&b.key, &b.holder, b.generation)));
    distinct.dedup();
    distinct
}

/// The result of a fence check that returned the `(key, holder, generation)` rows still
/// held: `LeaseLost` naming the first of `distinct` (in key order) not among them.
pub(crate) fn first_lost(
    distinct: &[&LeaseFence],
    held: &[(String, String, i64)],
) -> Result<(), crate::StoreError> {
    match distinct.iter().find(|f| {
        !held
            .iter()
            .any(|(k, h, g)| *k == f.key && *h == f.holder && *g == f.generation)
    }) {
        Some(lost) => Err(crate::StoreError::LeaseLost {
            key: lost.key.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(key: &str, generation: i64) -> LeaseFence {
        LeaseFence {
            key: key.into(),
            holder: "h".into(),
            generation,
        }
    }

    #[test]
    fn fences_are_checked_once_each_in_key_order_and_the_first_lost_is_named() {
        let fences = [
            fence("r1/email", 3),
            fence("email:<m@x>", 9),
            fence("r1/email", 3),
        ];
        let distinct = distinct_fences(&fences);
        assert_eq!(
            distinct.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            ["email:<m@x>", "r1/email"]
        );
        let row = |f: &LeaseFence| (f.key.clone(), f.holder.clone(), f.generation);
        assert!(first_lost(&distinct, &[row(&fences[0]), row(&fences[1])]).is_ok());
        // Neither held: the first in key order is named.
        let err = first_lost(&distinct, &[]).unwrap_err();
        assert!(matches!(&err, crate::StoreError::LeaseLost { key } if key == "email:<m@x>"));
        // A row of the same key under another generation does not hold the fence.
        let taken_over = ("r1/email".to_owned(), "h".to_owned(), 4);
        let err = first_lost(&distinct, &[row(&fences[1]), taken_over]).unwrap_err();
        assert!(matches!(&err, crate::StoreError::LeaseLost { key } if key == "r1/email"));
    }

    #[test]
    fn lease_key_format() {
        assert_eq!(
            lease_key("4294967394", Kind::Appointment),
            "4294967394/appointment"
        );
    }

    #[test]
    fn process_lease_keys_never_look_like_mailbox_keys() {
        let k = process_lease_key("host-a:42:1f");
        assert_eq!(k, "process/host-a:42:1f");
        assert!(k.starts_with(PROCESS_LEASE_PREFIX));
        assert!(!lease_key("4294967394", Kind::Email).starts_with(PROCESS_LEASE_PREFIX));
    }

    #[test]
    fn a_lease_row_gives_its_fence() {
        let l = Lease {
            key: "k".into(),
            holder: "h".into(),
            acquired_at: Timestamp::UNIX_EPOCH,
            expires_at: Timestamp::UNIX_EPOCH,
            generation: 7,
        };
        assert_eq!(
            l.fence(),
            LeaseFence {
                key: "k".into(),
                holder: "h".into(),
                generation: 7
            }
        );
    }
}
