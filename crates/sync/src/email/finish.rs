//! After the commit: a filed message is coloured and moved to the success folder; a message
//! that was not filed is moved to the failure folder, its notice kept for the run's end
//! ([`digest`]). Both are harmless to repeat (after a crash they run again from the
//! committed link).

use gc_store::LedgerAction;
use tokio::sync::OnceCell;

use crate::email::digest;
use crate::email::folders::{self, SubFolder};
use crate::email::kind::{EmailKind, EmailRun};
use crate::email::model::{MailItem, MailMessage};
use crate::email::notify::{failure_notice, warning_notice};
use crate::engine::{Applied, ItemCx, ItemOutcome};
use crate::error::{ErrorClass, PortError};

/// Finish one item.
pub(crate) async fn finish(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    change: &MailItem,
    applied: &Applied,
) -> Result<(), PortError> {
    let message;
    let m = match change {
        MailItem::Message(m) => m.as_ref(),
        MailItem::Broken { id: Some(id), .. } => {
            message = MailMessage {
                id: id.clone(),
                ..Default::default()
            };
            &message
        }
        // Without an id nothing can be moved; the ledger has it.
        MailItem::Broken { id: None, .. } | MailItem::Removed { .. } => return Ok(()),
    };
    let activity = applied
        .link
        .as_ref()
        .or(cx.link)
        .and_then(|l| l.crm_id)
        .filter(|_| !matches!(applied.outcome, ItemOutcome::Failed | ItemOutcome::Skipped));
    match (applied.outcome, activity) {
        (ItemOutcome::Failed | ItemOutcome::Skipped, _) | (_, None) => {
            let reason = applied
                .failure
                .as_deref()
                .unwrap_or("the message could not be filed");
            to_failure(kind, cx, run, m, reason).await
        }
        (_, Some(activity)) => {
            match warning_notice(m, &applied.ledger, &kind.rules) {
                Some(notice) => digest::hold(cx, run, &m.id, notice).await?,
                None => digest::settle(cx, run, &m.id).await?,
            }
            to_success(kind, cx, run, m, activity).await
        }
    }
}

/// Colour the message and move it to the success folder.
async fn to_success(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    m: &MailMessage,
    activity: gc_store::CrmId,
) -> Result<(), PortError> {
    let r = &kind.rules;
    if let Some(cat) = &r.category
        && !m.categories.iter().any(|c| c.eq_ignore_ascii_case(cat))
    {
        let mut cats = m.categories.clone();
        cats.push(cat.clone());
        match kind.graph.set_categories(cx.user(), &m.id, &cats).await {
            Ok(()) => {}
            Err(e) if e.class == ErrorClass::NotFound => return Ok(()),
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::warn!(mailbox = cx.mailbox(), message = m.id, error = %e, "cannot categorise the message")
            }
        }
    }
    let folder = sub_folder(kind, cx, run, &run.success, &r.success_folder).await?;
    move_to(kind, cx, run, m, folder).await?;
    cx.record(&cx.entry(
        Some(activity),
        LedgerAction::Moved,
        &format!("moved to {}", r.success_folder),
    ))
    .await;
    Ok(())
}

/// Keep the notice of why the message was not filed, and move it to the failure folder.
async fn to_failure(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    m: &MailMessage,
    reason: &str,
) -> Result<(), PortError> {
    let r = &kind.rules;
    if r.notify_user_on_failure {
        digest::hold(cx, run, &m.id, failure_notice(m, reason)).await?;
    }
    let folder = sub_folder(kind, cx, run, &run.failure, &r.failure_folder).await?;
    move_to(kind, cx, run, m, folder).await?;
    cx.record(&cx.entry(
        None,
        LedgerAction::Moved,
        &format!("moved to {}", r.failure_folder),
    ))
    .await;
    Ok(())
}

/// Move a message; one that is gone already needs no move. A 404 for a move into a kept
/// folder id may be the folder's (see [`folders::forget_sub_folder`]).
async fn move_to(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    m: &MailMessage,
    folder: &SubFolder,
) -> Result<(), PortError> {
    match kind
        .graph
        .move_to(cx.user(), &m.id, &folder.folder.id)
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.class == ErrorClass::NotFound && folder.kept => {
            let name = &folder.folder.name;
            Err(
                folders::forget_sub_folder(&**cx.store, cx.mailbox(), &run.sync_folder.id, name, e)
                    .await,
            )
        }
        Err(e) if e.class == ErrorClass::NotFound => {
            tracing::info!(
                mailbox = cx.mailbox(),
                message = m.id,
                "message gone before it could be moved"
            );
            Ok(())
        }
        Err(e) if e.class == ErrorClass::Item => Err(PortError::transient(e.message)),
        Err(e) => Err(e),
    }
}

/// The success or failure subfolder of the sync folder, once per run: kept in the store when
/// the run started (see [`folders::sub_folder`]), else resolved (and created).
async fn sub_folder<'r>(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &'r EmailRun,
    cell: &'r OnceCell<SubFolder>,
    name: &str,
) -> Result<&'r SubFolder, PortError> {
    cell.get_or_try_init(|| {
        folders::sub_folder(
            &*kind.graph,
            (&**cx.store, cx.kept),
            (cx.mailbox(), cx.user()),
            (&run.sync_folder.id, &run.children),
            name,
        )
    })
    .await
}
