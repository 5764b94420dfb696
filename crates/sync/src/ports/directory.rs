//! Who is synchronized: the reps enabled in CRM and their Microsoft 365 users. Used by the
//! mailbox-list refresh, on its own schedule, never per item.

use async_trait::async_trait;
use gc_store::CrmId;

use crate::error::PortError;

/// A rep as the mailbox refresh needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepInfo {
    /// CRM record id.
    pub crm_id: CrmId,
    /// Rep number (`Contact.RepID`).
    pub rep_number: String,
    /// Display name.
    pub name: String,
    /// Address.
    pub email: String,
    /// Language.
    pub language: Option<String>,
    /// The kinds the rep's flags switch on.
    pub kinds: crate::engine::RepKinds,
    /// The rep record's `UserSettings` text, unparsed.
    pub user_settings: Option<String>,
}

/// A Microsoft 365 user found for a rep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailUser {
    /// Entra object id.
    pub id: String,
    /// Every SMTP address (primary first), lower case.
    pub addresses: Vec<String>,
}

/// The directory lookups of the mailbox-list refresh.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The reps enabled for synchronisation (read as the master user).
    async fn enabled_reps(&self) -> Result<Vec<RepInfo>, PortError>;

    /// The Microsoft 365 user whose address (or alias) is `address`, if any.
    async fn find_user(&self, address: &str) -> Result<Option<MailUser>, PortError>;

    /// [`Directory::find_user`] for many addresses, one answer each, in order. The default
    /// asks one after the other; an adapter that can group lookups (Graph's `$batch`) overrides it, so
    /// a refresh of the whole list costs a few requests instead of one per rep.
    async fn find_users(&self, addresses: &[String]) -> Vec<Result<Option<MailUser>, PortError>> {
        let mut out = Vec::with_capacity(addresses.len());
        for a in addresses {
            out.push(self.find_user(a).await);
        }
        out
    }

    /// Whether the user's mailbox answers (a directory user without an Exchange mailbox does
    /// not); `Err` says why not.
    async fn probe_mailbox(&self, user: &str) -> Result<(), PortError>;
}
