//! Plain data types exchanged with the store.
//!
//! Everything here is backend-neutral: the SQL backends translate these to and from rows.
//! Enums have a stable lower-case text form (`as_str` / `FromStr`) because that text is
//! what the database holds, so renaming a Rust variant must never change it.
//!
//! One file per area of the store the types belong to (mailboxes, cursors, links, the
//! ledger, runs, alerts, the item commit and retry row, subscriptions), so a type is found by
//! the name of what it describes. `Kind`, the mailbox id and the text-form macro stay here:
//! every area keys by them, and the macro must be defined before the areas that use it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Identifier of a mailbox inside the store: the CRM id of the rep who owns it
/// ([`MailboxRecord::rep_id`]). Links, cursors, ledger entries, runs and leases all refer
/// to mailboxes by this string, because addresses can be renamed and Graph user ids are
/// only known after a directory lookup.
pub type MailboxId = String;

/// CRM record id (`StatNo << 32 | SeqNo`, shared with the CRM client through `gc-ids`). Stored
/// as TEXT in its canonical decimal form so that no id (not even one ≥ 2^63) changes sign in SQL
/// and an administrator can paste it into a CRM query as is.
pub use gc_ids::CrmId;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database (and used in JSON).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            fn from_str(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt {
                        what: stringify!($name),
                        detail: format!("unknown value {other:?}"),
                    }),
                }
            }
        }
    };
}

mod alert;
mod commit;
mod cursor;
mod duration;
mod ledger;
mod link;
mod mailbox;
mod run;
mod subscription;

pub use alert::{Alert, AlertDelivery, NewAlert};
pub use commit::{ItemCommit, ItemRetry};
pub use cursor::Cursor;
pub(crate) use duration::duration_micros;
pub use ledger::{LedgerAction, LedgerEntry, LedgerFilter, NewLedgerEntry};
pub use link::{Link, LinkState};
pub use mailbox::{
    ExclusionPolicy, KindRun, KindState, MailboxExclusion, MailboxFailure, MailboxRecord,
    MailboxUpsert,
};
pub use run::{Run, RunCounts, RunEnd, RunOutcome};
pub use subscription::SubscriptionRecord;

text_enum! {
    /// What is being synchronized. One cursor, lease and schedule entry per mailbox and kind.
    Kind {
        /// Messages filed into the sync folder → CRM e-mail activities.
        Email => "email",
        /// Calendar events ↔ CRM appointments.
        Appointment => "appointment",
        /// CRM tasks → Microsoft To Do.
        Task => "task",
        /// CRM persons → personal contacts.
        Contact => "contact",
        /// CRM absences → out-of-office calendar events.
        Absence => "absence",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
        }
        for a in LedgerAction::ALL {
            assert_eq!(a.as_str().parse::<LedgerAction>().unwrap(), *a);
        }
        for d in AlertDelivery::ALL {
            assert_eq!(d.as_str().parse::<AlertDelivery>().unwrap(), *d);
        }
        for o in RunOutcome::ALL {
            assert_eq!(o.as_str().parse::<RunOutcome>().unwrap(), *o);
        }
        assert!("mail".parse::<Kind>().is_err());
        assert_eq!(
            serde_json::to_string(&LedgerAction::Adopted).unwrap(),
            "\"adopted\""
        );
    }
}
