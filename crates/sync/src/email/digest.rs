//! One notice per user and run. A message that is not filed, or is filed with warnings the
//! settings want told, leaves its [`MessageNotice`] under a pending name of its mailbox
//! (`pending:notice:<message id>`) before it is moved; once the run's walk is done, the
//! notices go to the user as one message ([`compose`]) and the names are cleared.
//!
//! Why one message: every notice is a `sendMail` from the administrator's address, so it
//! takes one of that mailbox's four Graph request slots. A first run with many unfiled
//! messages queued dozens of them there, in front of the administrator's own filing (and
//! Exchange limits how many messages a mailbox sends per minute).
//!
//! Why the pending name: the move takes the message out of the sync folder's delta, so a
//! notice kept only in memory would be lost if the process died between the move and the
//! run's end. The kept name makes the mailbox's next run send it (the store lists the
//! mailbox as needing a run whatever the change probe says, see
//! [`gc_store::MailboxStore::needing_runs`]). A crash after the send and before the names are
//! cleared sends the notice again: a notice may repeat, it never vanishes. A message that
//! failed in a run that died and is filed in the next drops its notice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use gc_store::{Kind, LedgerAction};

use crate::email::kind::{EmailKind, EmailRun};
use crate::email::notify::{MessageNotice, Unlisted, compose};
use crate::engine::{ItemCx, RunCx};
use crate::error::{PortError, store_error};

/// The pending name of a message's notice is this followed by the message id.
pub const NOTICE: &str = "pending:notice:";

/// At most this many messages are listed in one notice; the others are counted in it. Bounds
/// the run's memory and the notice's size whatever the number of failures.
pub const LISTED: usize = 100;

/// The notices of one mailbox run, in memory (the store has them too).
#[derive(Debug, Default)]
pub struct Digest(Mutex<RunNotices>);

#[derive(Debug, Default)]
struct RunNotices {
    notices: Notices,
    /// Messages whose notice of an earlier run is void: they were filed in this one.
    settled: BTreeSet<String>,
}

/// Notices by message id, listed up to [`LISTED`], counted beyond.
#[derive(Debug, Default)]
struct Notices {
    listed: BTreeMap<String, MessageNotice>,
    unlisted: Unlisted,
}

impl Notices {
    /// A message's notice; a later one for the same message replaces the earlier.
    fn add(&mut self, id: String, notice: MessageNotice) {
        if self.listed.len() < LISTED || self.listed.contains_key(&id) {
            self.listed.insert(id, notice);
        } else if notice.not_filed() {
            self.unlisted.not_filed += 1;
        } else {
            self.unlisted.left_out += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.unlisted == Unlisted::default()
    }
}

impl Digest {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunNotices> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keep the notice about message `id` for the run's end: under its pending name first (call
/// it before the message is moved), then in the run's digest.
pub(crate) async fn hold(
    cx: &ItemCx<'_>,
    run: &EmailRun,
    id: &str,
    notice: MessageNotice,
) -> Result<(), PortError> {
    cx.check()?;
    let value = serde_json::to_string(&notice)
        .map_err(|e| PortError::transient(format!("cannot keep the notice: {e}")))?;
    cx.store
        .put_resolved(
            cx.mailbox(),
            Kind::Email,
            &format!("{NOTICE}{id}"),
            Some(&value),
        )
        .await
        .map_err(store_error)?;
    run.digest.lock().notices.add(id.to_owned(), notice);
    Ok(())
}

/// Message `id` was filed without a warning: a notice an earlier run kept for it (that run
/// died before its end) no longer holds.
pub(crate) async fn settle(cx: &ItemCx<'_>, run: &EmailRun, id: &str) -> Result<(), PortError> {
    let name = format!("{NOTICE}{id}");
    if cx.kept.get(&name).is_none() {
        return Ok(());
    }
    cx.check()?;
    cx.store
        .put_resolved(cx.mailbox(), Kind::Email, &name, None)
        .await
        .map_err(store_error)?;
    run.digest.lock().settled.insert(id.to_owned());
    Ok(())
}

/// The run's end: tell the user about this run's messages and those an earlier run left,
/// in one message, then forget them. A transient failure to send keeps them for the next
/// run (the mailbox run is delayed); any other is logged and the notices are dropped, as
/// a notice that cannot be delivered would never be.
pub(crate) async fn send(
    kind: &EmailKind,
    cx: &RunCx<'_>,
    run: Option<&EmailRun>,
) -> Result<(), PortError> {
    let (mut all, settled) = match run {
        Some(run) => {
            let mut r = run.digest.lock();
            (
                std::mem::take(&mut r.notices),
                std::mem::take(&mut r.settled),
            )
        }
        None => Default::default(),
    };
    let mut pending = !all.is_empty();
    for (name, value) in cx.kept.with_prefix(NOTICE) {
        pending = true;
        let id = &name[NOTICE.len()..];
        if settled.contains(id) || all.listed.contains_key(id) {
            continue;
        }
        match serde_json::from_str::<MessageNotice>(value) {
            Ok(notice) => all.add(id.to_owned(), notice),
            Err(e) => {
                tracing::warn!(mailbox = cx.mailbox(), message = id, error = %e, "a kept notice cannot be read; it is dropped")
            }
        }
    }
    if !pending {
        return Ok(());
    }
    if !all.is_empty() {
        let listed: Vec<&MessageNotice> = all.listed.values().collect();
        let note = compose(&listed, all.unlisted, &kind.rules);
        match kind.notifier.notify(cx.user(), &note).await {
            Ok(()) => {
                let told = format!("told the user, in one notice: {}", note.subject);
                for id in all.listed.keys() {
                    cx.record(&cx.entry(id, None, LedgerAction::Notified, &told))
                        .await;
                }
            }
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::warn!(mailbox = cx.mailbox(), error = %e, "cannot notify the user")
            }
        }
    }
    cx.check_run()?;
    cx.store
        .clear_resolved_prefix(cx.mailbox(), Kind::Email, NOTICE)
        .await
        .map_err(store_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::model::MailMessage;
    use crate::email::notify::failure_notice;

    #[test]
    fn the_pending_name_is_one_the_store_counts() {
        assert!(NOTICE.starts_with(gc_store::PENDING));
    }

    #[test]
    fn notices_are_listed_up_to_the_limit_and_counted_beyond() {
        let mut n = Notices::default();
        let note = failure_notice(&MailMessage::default(), "why");
        for i in 0..LISTED + 3 {
            n.add(format!("m{i}"), note.clone());
        }
        assert_eq!(n.listed.len(), LISTED);
        assert_eq!(n.unlisted.not_filed, 3);
        // A listed message's later notice replaces its earlier one, and is not counted.
        n.add(
            "m0".into(),
            failure_notice(&MailMessage::default(), "again"),
        );
        assert_eq!((n.listed.len(), n.unlisted.not_filed), (LISTED, 3));
        assert_eq!(
            n.listed["m0"],
            failure_notice(&MailMessage::default(), "again")
        );
    }
}
