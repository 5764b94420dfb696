//! The delta cursor of one mailbox, kind and scope. Separate because its links are bearer
//! state: its `Debug` redacts them, and the test that checks it lives beside it.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Kind, MailboxId};

/// Delta state of one mailbox, kind and scope (folder id, calendar, task list ...).
///
/// `Debug` does not print the links: they carry `$deltatoken`/`$skiptoken` values that act as
/// bearer state for the mailbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Mailbox (rep id).
    pub mailbox: MailboxId,
    /// Kind synchronized.
    pub kind: Kind,
    /// Folder / collection key within the mailbox; free text chosen by the engine.
    pub scope: String,
    /// `@odata.deltaLink` of the last completed round.
    pub delta_link: Option<String>,
    /// `@odata.nextLink` of the page being worked on (page checkpoint inside a round).
    pub next_link: Option<String>,
    /// Start of the window the delta was opened with (calendar/task windows).
    pub window_start: Option<Timestamp>,
    /// End of that window.
    pub window_end: Option<Timestamp>,
    /// Set by the store on write; ignored in input.
    pub updated_at: Option<Timestamp>,
}

impl Cursor {
    /// An empty cursor (start of an initial enumeration).
    pub fn new(mailbox: impl Into<MailboxId>, kind: Kind, scope: impl Into<String>) -> Self {
        Cursor {
            mailbox: mailbox.into(),
            kind,
            scope: scope.into(),
            delta_link: None,
            next_link: None,
            window_start: None,
            window_end: None,
            updated_at: None,
        }
    }

    /// The checkpoint of the last finished round (its delta link), or `None` while a round is
    /// in progress (a page checkpoint) or before the first one finished. What the idle
    /// probes ask, and what a link written after its storing time is compared with.
    pub fn round_checkpoint(&self) -> Option<&str> {
        self.delta_link
            .as_deref()
            .filter(|_| self.next_link.is_none())
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |l: &Option<String>| l.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("Cursor")
            .field("mailbox", &self.mailbox)
            .field("kind", &self.kind)
            .field("scope", &self.scope)
            .field("delta_link", &redact(&self.delta_link))
            .field("next_link", &redact(&self.next_link))
            .field("window_start", &self.window_start)
            .field("window_end", &self.window_end)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_debug_hides_tokens() {
        let mut c = Cursor::new("rep1", Kind::Email, "inbox/crm");
        c.delta_link = Some("https://graph/delta?$deltatoken=SECRET".into());
        c.next_link = Some("https://graph/delta?$skiptoken=SECRET2".into());
        let s = format!("{c:?}");
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("REDACTED"));
    }
}
