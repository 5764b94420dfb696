//! The mailbox being worked: the rep who owns it and how Graph addresses it. Every kind runs
//! per mailbox, so these live with the engine, not with a kind.

use gc_crm::user_settings::SyncSettings;
use gc_store::{CrmId, Kind};

/// The rep who owns the mailbox being worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Store mailbox id (the rep's CRM record id, decimal).
    pub mailbox: String,
    /// CRM record id of the rep (ID).
    pub rep_crm_id: CrmId,
    /// Rep number other records refer to (`Contact.RepID`).
    pub rep_number: String,
    /// Display name.
    pub name: String,
    /// Primary SMTP address (the CRM rep's address).
    pub email: String,
    /// Every SMTP address of the mailbox (aliases), lower case.
    pub addresses: Vec<String>,
    /// Language for texts written into CRM.
    pub language: Option<String>,
    /// The kinds the rep's flags in CRM switch on for this mailbox.
    pub kinds: RepKinds,
    /// The rep's own overrides of the global settings (the rep record's `UserSettings`).
    pub settings: SyncSettings,
}

/// Which kinds a rep synchronizes: the "Synchronize e-mails/appointments/tasks/contacts/
/// absences" flags of the rep record. A kind's runs only work the mailboxes whose rep has its
/// flag set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepKinds {
    /// "Synchronize e-mails".
    pub emails: bool,
    /// "Synchronize appointments".
    pub appointments: bool,
    /// "Synchronize tasks".
    pub tasks: bool,
    /// "Synchronize contacts".
    pub contacts: bool,
    /// "Synchronize absences".
    pub absences: bool,
}

impl RepKinds {
    /// Every kind (tests and tools that work a mailbox regardless of its flags).
    pub const ALL: RepKinds = RepKinds {
        emails: true,
        appointments: true,
        tasks: true,
        contacts: true,
        absences: true,
    };

    /// Whether the rep synchronizes `kind`.
    pub fn has(&self, kind: Kind) -> bool {
        match kind {
            Kind::Email => self.emails,
            Kind::Appointment => self.appointments,
            Kind::Task => self.tasks,
            Kind::Contact => self.contacts,
            Kind::Absence => self.absences,
        }
    }

    /// Whether the rep synchronizes anything.
    pub fn any(&self) -> bool {
        self.emails || self.appointments || self.tasks || self.contacts || self.absences
    }
}

impl Owner {
    /// Anna (rep R7, record 7, `anna@contoso.com`), every kind on, no own settings: the owner
    /// the kinds' unit tests share.
    #[cfg(test)]
    pub(crate) fn anna() -> Owner {
        Owner {
            mailbox: "7".into(),
            rep_crm_id: CrmId(7),
            rep_number: "R7".into(),
            name: "Anna".into(),
            email: "anna@contoso.com".into(),
            addresses: Vec::new(),
            language: None,
            kinds: RepKinds::ALL,
            settings: SyncSettings::default(),
        }
    }

    /// Whether `address` is one of the owner's.
    pub fn owns(&self, address: &str) -> bool {
        address.eq_ignore_ascii_case(&self.email)
            || self
                .addresses
                .iter()
                .any(|a| a.eq_ignore_ascii_case(address))
    }
}

/// A mailbox to work: its owner and how Graph addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxTarget {
    /// The rep who owns it.
    pub owner: Owner,
    /// The Graph user (address or object id) used in `/users/{…}`.
    pub graph_user: String,
}

impl MailboxTarget {
    /// The store's mailbox id (the rep's CRM id, decimal).
    pub fn mailbox(&self) -> &str {
        &self.owner.mailbox
    }

    /// The rep's address: CRM.interface impersonates the rep by it.
    pub fn rep(&self) -> &str {
        &self.owner.email
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owns_primary_and_aliases_case_insensitively() {
        let o = Owner {
            mailbox: "1".into(),
            rep_crm_id: CrmId(1),
            rep_number: "R1".into(),
            name: "Anna".into(),
            email: "anna@contoso.com".into(),
            addresses: vec!["a.b@contoso.com".into()],
            language: None,
            kinds: RepKinds::ALL,
            settings: SyncSettings::default(),
        };
        assert!(o.owns("Anna@Contoso.com"));
        assert!(o.owns("A.B@contoso.com"));
        assert!(!o.owns("bob@contoso.com"));
    }

    #[test]
    fn kinds_follow_the_rep_flags() {
        let k = RepKinds {
            emails: false,
            tasks: true,
            ..RepKinds::ALL
        };
        assert!(!k.has(Kind::Email));
        assert!(k.has(Kind::Task));
        assert!(k.any());
        let none = RepKinds {
            emails: false,
            appointments: false,
            tasks: false,
            contacts: false,
            absences: false,
        };
        assert!(!none.any());
    }
}
