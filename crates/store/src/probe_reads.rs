//! What the idle pre-pass of a cycle reads for a batch of mailboxes of one kind
//! ([`MailboxStore::probe_reads`](crate::MailboxStore::probe_reads)): every mailbox's cursors, kept
//! names, unsettled links and last link write, in a few statements for the whole batch instead of a
//! few per mailbox. An idle tenant's cycle is mostly this pre-pass, so its store reads are most of
//! what an idle mailbox costs the connector.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::types::{Cursor, MailboxId};

/// The pre-pass's reads of one batch, by mailbox.
#[derive(Debug, Clone)]
pub struct ProbeReads {
    /// The store's clock when they were read.
    pub now: Timestamp,
    mailboxes: HashMap<MailboxId, MailboxReads>,
}

/// The pre-pass's reads of one mailbox and kind.
#[derive(Debug, Clone, Default)]
pub struct MailboxReads {
    /// Its cursors, by scope.
    pub cursors: Vec<Cursor>,
    /// Its kept names and their values.
    pub resolved: Vec<(String, String)>,
    /// The Graph ids of its unsettled links (see
    /// [`LinkStore::unsettled_links`](crate::LinkStore::unsettled_links)).
    pub unsettled: Vec<String>,
    /// When a link of the mailbox and kind was last written: a link written after a
    /// source's checkpoint was stored makes the run read it by id (see
    /// [`LinkStore::unsettled_links`](crate::LinkStore::unsettled_links)'s `since`).
    pub last_link_write: Option<Timestamp>,
}

impl MailboxReads {
    /// The cursor of `scope`.
    pub fn cursor(&self, scope: &str) -> Option<&Cursor> {
        self.cursors.iter().find(|c| c.scope == scope)
    }

    /// The value kept under `name`.
    pub fn resolved(&self, name: &str) -> Option<&str> {
        self.resolved
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

static EMPTY: std::sync::LazyLock<MailboxReads> = std::sync::LazyLock::new(MailboxReads::default);

impl ProbeReads {
    /// Nothing read yet, at `now`.
    pub fn new(now: Timestamp) -> Self {
        ProbeReads {
            now,
            mailboxes: HashMap::new(),
        }
    }

    /// What was read for `mailbox` (nothing for a mailbox without rows).
    pub fn mailbox(&self, mailbox: &str) -> &MailboxReads {
        self.mailboxes.get(mailbox).unwrap_or(&EMPTY)
    }

    /// The rows of `mailbox`, to fill.
    pub(crate) fn entry(&mut self, mailbox: &str) -> &mut MailboxReads {
        self.mailboxes.entry(mailbox.to_owned()).or_default()
    }
}
