//! The mailbox being worked: the rep who owns it and how Graph addresses it. Every kind runs
//! per mailbox, so these live with the engine, not with a kind.

use gc_store::CrmId;

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
}

impl Owner {
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
        };
        assert!(o.owns("Anna@Contoso.com"));
        assert!(o.owns("A.B@contoso.com"));
        assert!(!o.owns("bob@contoso.com"));
    }
}
