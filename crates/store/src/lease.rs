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

#[cfg(test)]
mod tests {
    use super::*;

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
