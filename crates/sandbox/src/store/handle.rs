//! [`StateHandle`]: direct, synchronous access to the tenant's state for tests and demos, its
//! error, and the two lookups all its operations use (`with_mailbox`, `folder`); here its reads
//! and changes of users, the calendar, contacts, To Do, categories and the auth switches. Its
//! folders and messages, the larger part, are in `handle_mail`.

use super::{Mailbox, Tenant, str_prop};
use crate::server::Shared;
use rand_chacha::ChaCha20Rng;

/// Direct, synchronous access to the tenant's state (for tests and demos). Users are named by
/// e-mail address or object id; folders by display-name path (`Inbox/crm`) or well-known name.
pub struct StateHandle<'a> {
    pub(crate) shared: &'a Shared,
}

impl std::fmt::Debug for StateHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateHandle")
    }
}

/// Error of a [`StateHandle`] operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl StateHandle<'_> {
    pub(super) fn with_mailbox<T>(
        &self,
        user: &str,
        f: impl FnOnce(&mut Mailbox, &mut ChaCha20Rng, u64) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        let Tenant { rng, users, .. } = &mut *t;
        let mbx = users[i]
            .mailbox
            .as_mut()
            .ok_or_else(|| StateError(format!("{user} has no mailbox")))?;
        f(mbx, rng, seq)
    }

    pub(super) fn folder(mbx: &Mailbox, folder: &str) -> Result<String, StateError> {
        mbx.folder_index(folder)
            .map(|i| mbx.folders[i].id.clone())
            .or_else(|| mbx.folder_by_path(folder))
            .ok_or_else(|| StateError(format!("no folder {folder}")))
    }

    /// Adds `count` single events to `user`'s calendar, spread over the days inside
    /// `[today − days_past, today + days_future]`, each a 30-minute meeting with one external
    /// attendee (for load tests: a first sync of many events). Returns their immutable ids.
    pub fn generate_events(
        &self,
        user: &str,
        count: usize,
        days_past: u32,
        days_future: u32,
    ) -> Result<Vec<String>, StateError> {
        let dir = self.shared.directory.clone();
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        if t.users[i].mailbox.is_none() {
            return Err(StateError(format!("{user} has no mailbox")));
        }
        Ok(crate::graph::calendar::generate_events(
            &mut t,
            &dir,
            i,
            count,
            days_past,
            days_future,
        ))
    }

    /// Number of events (series masters and single instances) in `user`'s calendar.
    pub fn event_count(&self, user: &str) -> Result<usize, StateError> {
        self.with_mailbox(user, |mbx, _, _| Ok(mbx.events.len()))
    }

    /// `(immutable id, subject, iCalUId)` of the calendar's events.
    pub fn events(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .events
                .values()
                .map(|e| {
                    (
                        e.imm.clone(),
                        str_prop(&e.props, "subject"),
                        str_prop(&e.props, "iCalUId"),
                    )
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// `(immutable id, displayName, folder display name)` of the user's contacts.
    pub fn contacts(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .contacts
                .values()
                .map(|c| {
                    let folder = mbx
                        .contact_folders
                        .iter()
                        .find(|f| f.id == c.folder)
                        .map(|f| f.display_name.clone())
                        .unwrap_or_default();
                    (c.imm.clone(), str_prop(&c.props, "displayName"), folder)
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// `(list name, task title, status)` of the user's To Do tasks.
    pub fn tasks(&self, user: &str) -> Result<Vec<(String, String, String)>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            let mut v: Vec<_> = mbx
                .tasks
                .values()
                .map(|t| {
                    let list = mbx
                        .todo_lists
                        .iter()
                        .find(|l| l.id == t.list)
                        .map(|l| l.display_name.clone())
                        .unwrap_or_default();
                    (
                        list,
                        str_prop(&t.props, "title"),
                        str_prop(&t.props, "status"),
                    )
                })
                .collect();
            v.sort();
            Ok(v)
        })
    }

    /// Soft-deletes a user (as an admin would in Entra): gone from `/users`, reported by users
    /// delta as `@removed` with reason `changed`; the mailbox answers `ErrorInvalidUser`.
    pub fn delete_user(&self, user: &str) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        t.users[i].deleted = true;
        t.users[i].seq = seq;
        Ok(())
    }

    /// Enables or blocks a user's sign-in (`accountEnabled`), a change users delta reports.
    pub fn set_account_enabled(&self, user: &str, enabled: bool) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.materialize(i);
        let seq = t.next_seq();
        t.users[i].account_enabled = enabled;
        t.users[i].seq = seq;
        Ok(())
    }

    /// Take the user's Exchange mailbox away (as when its licence is withdrawn): from now on
    /// Graph answers `MailboxNotEnabledForRESTAPI` for it, the directory entry stays.
    pub fn remove_mailbox(&self, user: &str) -> Result<(), StateError> {
        let mut t = self.shared.lock_tenant();
        let i = t
            .user_index(user)
            .ok_or_else(|| StateError(format!("no user {user}")))?;
        t.users[i].mailbox = None;
        t.users[i].pending_mailbox = false;
        Ok(())
    }

    /// Names of the user's Outlook master categories.
    pub fn categories(&self, user: &str) -> Result<Vec<String>, StateError> {
        self.with_mailbox(user, |mbx, _, _| {
            Ok(mbx
                .categories
                .iter()
                .map(|c| c.display_name.clone())
                .collect())
        })
    }

    /// The app registration's switches (login faults, roles, certificates): see
    /// [`crate::auth::AuthControl`].
    pub fn auth(&self) -> crate::auth::AuthControl<'_> {
        crate::auth::AuthControl {
            shared: self.shared,
        }
    }
}
