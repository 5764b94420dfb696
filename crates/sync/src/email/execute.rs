//! Carrying out an e-mail decision: writing a new activity (after the intent, with its
//! external key and marker, documents in the same request when small), or adopting an existing
//! one (external key, missing participants, missing documents), and saying what to commit.

use gc_store::{CrmId, LedgerAction, NewLedgerEntry};

use crate::adopt::AdoptedBy;
use crate::email::attachments;
use crate::email::decide::{self, Decision};
use crate::email::kind::EmailKind;
use crate::email::model::{
    ActivityPlan, DocumentPlan, DocumentSource, FoundBy, MailItem, MailMessage, ParkedDocument,
};
use crate::email::notify::UserWarning;
use crate::engine::{Applied, ItemCx, ItemOutcome, MemoryBudget};
use crate::error::{ErrorClass, PortError};
use crate::ports::{Content, CreateOutcome};

/// Documents up to this total size (bytes) are written in the same request as the activity.
pub const INLINE_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Apply a decision about one item of the sync folder.
pub(crate) async fn apply(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    change: &MailItem,
    decision: Decision,
) -> Result<Applied, PortError> {
    let detail = |m: &MailMessage, participants: usize| {
        serde_json::json!({
            "internetMessageId": m.global_key(cx.mailbox()),
            "subject": m.subject,
            "participants": participants,
        })
    };
    match decision {
        Decision::AlreadyFiled { .. } => Ok(Applied::unchanged()),
        Decision::Skip(reason) => Ok(not_filed(
            cx,
            change,
            ItemOutcome::Skipped,
            LedgerAction::Skipped,
            reason.text(),
        )),
        Decision::Fail(reason) => Ok(not_filed(
            cx,
            change,
            ItemOutcome::Failed,
            LedgerAction::Failed,
            &reason,
        )),
        Decision::Report(reason) => {
            tracing::warn!(
                mailbox = cx.mailbox(),
                reason,
                "unreadable item without id in the sync folder"
            );
            Ok(Applied {
                outcome: ItemOutcome::Failed,
                link: None,
                ledger: vec![cx.entry(None, LedgerAction::Failed, &reason)],
                warnings: 0,
                failure: None,
            })
        }
        Decision::Create(plan) => {
            let MailItem::Message(m) = change else {
                return Err(PortError::new(ErrorClass::Item, "not a message"));
            };
            let (id, warnings) = create(kind, cx, m, &plan).await?;
            let mut ledger = vec![cx.entry(
                Some(id),
                LedgerAction::Created,
                &format!(
                    "created activity {id} with {} participant(s) and {} document(s)",
                    plan.participants.len(),
                    warnings.documents
                ),
            )];
            ledger[0].detail = Some(detail(m, plan.participants.len()));
            for w in &plan.warnings {
                ledger.push(warning(cx, id, UserWarning::TruncatedBody, w));
            }
            for w in &warnings.texts {
                ledger.push(warning(cx, id, UserWarning::SkippedAttachment, w));
            }
            Ok(Applied {
                outcome: ItemOutcome::Created,
                link: Some(cx.active_link(id)),
                ledger,
                warnings: (plan.warnings.len() + warnings.texts.len()) as u64,
                failure: None,
            })
        }
        Decision::Adopt {
            activity,
            add_participants,
            add_key,
            complete_documents,
            found_by,
        } => {
            let MailItem::Message(m) = change else {
                return Err(PortError::new(ErrorClass::Item, "not a message"));
            };
            let key = m.global_key(cx.mailbox());
            let rep = cx.rep();
            if complete_documents {
                cx.intent(Some(activity)).await?;
            }
            if add_key {
                cx.check()?;
                kind.crm
                    .add_key(rep, activity, &key, &kind.rules.content_type)
                    .await?;
            }
            if !add_participants.is_empty() {
                cx.check()?;
                kind.crm
                    .add_participants(rep, activity, &add_participants)
                    .await?;
            }
            let warnings = if complete_documents {
                complete(kind, cx, m, activity).await?
            } else {
                Vec::new()
            };
            let how = match found_by {
                FoundBy::ExternalKey => "filed by another mailbox (same internetMessageId)",
                FoundBy::Link => "linked from another mailbox or an earlier attempt",
                FoundBy::Orphan => "written by an interrupted earlier attempt",
                FoundBy::Adopted(AdoptedBy::EwsId) => {
                    "by EWS id (an external key of the previous connector)"
                }
                FoundBy::Adopted(AdoptedBy::EntryId) => {
                    "by entry id (an external key of the previous connector)"
                }
                FoundBy::Adopted(how) => how.as_str(),
            };
            let adopted_by = match found_by {
                FoundBy::ExternalKey => AdoptedBy::InternetMessageId,
                FoundBy::Link => AdoptedBy::Link,
                FoundBy::Orphan => AdoptedBy::Interrupted,
                FoundBy::Adopted(how) => how,
            };
            let mut ledger = vec![cx.entry(
                Some(activity),
                LedgerAction::Adopted,
                &format!("adopted activity {activity}: {how}"),
            )];
            let mut d = detail(m, add_participants.len());
            if let Some(o) = d.as_object_mut() {
                o.insert("adopted_by".into(), adopted_by.as_str().into());
            }
            ledger[0].detail = Some(d);
            for w in &warnings {
                ledger.push(warning(cx, activity, UserWarning::SkippedAttachment, w));
            }
            Ok(Applied {
                outcome: ItemOutcome::Adopted,
                link: Some(cx.active_link(activity)),
                ledger,
                warnings: warnings.len() as u64,
                failure: None,
            })
        }
    }
}

/// A warning ledger entry, tagged with what it is about so that `finish` can tell the user
/// (`[emails] warn_user_on_truncated_body`, `warn_user_on_skipped_attachment`).
fn warning(cx: &ItemCx<'_>, activity: CrmId, what: UserWarning, text: &str) -> NewLedgerEntry {
    let mut e = cx.entry(Some(activity), LedgerAction::Warning, text);
    e.detail = Some(serde_json::json!({ "warning": what.as_str() }));
    e
}

/// A message that is not filed (skipped or failed by decision).
fn not_filed(
    cx: &ItemCx<'_>,
    change: &MailItem,
    outcome: ItemOutcome,
    action: LedgerAction,
    reason: &str,
) -> Applied {
    let link = cx.failed_link(reason, None);
    let mut entry = cx.entry(None, action, reason);
    if let MailItem::Message(m) = change {
        entry.detail = Some(serde_json::json!({
            "internetMessageId": m.internet_message_id,
            "subject": m.subject,
        }));
    }
    Applied {
        outcome,
        link: Some(link),
        ledger: vec![entry],
        warnings: 0,
        failure: Some(reason.to_owned()),
    }
}

/// What writing a new activity reports besides its id.
struct Written {
    /// Documents attached.
    documents: usize,
    /// Warnings (attachments left out or refused).
    texts: Vec<String>,
}

/// Reads a parked document into memory, for a write with its activity.
fn load(d: ParkedDocument) -> Result<DocumentPlan, PortError> {
    let content = d.content.read_all().map_err(|e| {
        PortError::transient(format!(
            "cannot read back the parked document {:?}: {e}",
            d.file_name
        ))
    })?;
    Ok(DocumentPlan {
        file_name: d.file_name,
        content_type: d.content_type,
        content,
    })
}

/// The documents of an activity, downloaded, and the warnings for those left out.
#[derive(Debug, Default)]
struct Downloaded {
    documents: Vec<ParkedDocument>,
    warnings: Vec<String>,
}

/// Write a new activity: the intent first, then the activity with its external key, marker,
/// participants and small documents in one go, then big documents one request each, streamed
/// from where they are parked. Every document is downloaded (parked) before anything is
/// written, so an unreadable attachment fails the message before CRM sees it; the small ones
/// are in memory for their write only under the process's byte budget.
async fn create(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    m: &MailMessage,
    plan: &ActivityPlan,
) -> Result<(CrmId, Written), PortError> {
    let docs = documents(kind, cx, m, plan.documents, &[]).await?;
    cx.intent(None).await?;
    // Small documents travel with the activity; big ones follow one request each, so no
    // request grows beyond what CRM.interface accepts.
    let mut inline = Vec::new();
    let mut later = Vec::new();
    let mut room = INLINE_DOCUMENT_BYTES as u64;
    for d in docs.documents {
        if d.content.len() <= room {
            room -= d.content.len();
            inline.push(d);
        } else {
            later.push(d);
        }
    }
    let inline_bytes: u64 = inline.iter().map(|d| d.content.len()).sum();
    let reserved = cx
        .budget
        .reserve(MemoryBudget::cost_of_write(inline_bytes))
        .await;
    let inline = inline
        .into_iter()
        .map(load)
        .collect::<Result<Vec<_>, _>>()?;
    cx.check()?;
    let created = kind
        .crm
        .create(cx.rep(), plan, &inline, &kind.rules.content_type)
        .await?;
    let inline_count = inline.len();
    drop(inline);
    drop(reserved);
    let id = match created {
        CreateOutcome::Complete(id) => {
            // Written whole: a colleague's copy of the message may adopt it as written.
            kind.recent.record(&plan.key, id, &plan.participants);
            id
        }
        CreateOutcome::Partial { id, error } => {
            cx.intent(Some(id)).await?;
            return Err(match error.class {
                ErrorClass::Item | ErrorClass::NotFound => PortError::new(
                    ErrorClass::Item,
                    format!(
                        "activity {id} was written but CRM refused part of it: {}",
                        error.message
                    ),
                ),
                _ => error,
            });
        }
    };
    let mut written = Written {
        documents: inline_count,
        texts: docs.warnings,
    };
    if !later.is_empty() {
        cx.intent(Some(id)).await?;
        for d in later {
            if write_document(kind, cx, id, d, &mut written.texts).await? {
                written.documents += 1;
            }
        }
    }
    Ok((id, written))
}

/// Writes one parked document to an activity (streamed from its spool); `Ok(false)` when CRM
/// refused it (the warning is added to `warnings`).
async fn write_document(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    activity: CrmId,
    d: ParkedDocument,
    warnings: &mut Vec<String>,
) -> Result<bool, PortError> {
    cx.check()?;
    match kind.crm.add_document(cx.rep(), activity, &d).await {
        Ok(()) => Ok(true),
        Err(e) => {
            warnings.push(refused_document(
                activity,
                &d.file_name,
                d.content.len(),
                e,
            )?);
            Ok(false)
        }
    }
}

/// Downloads the documents of a new (or completed) activity, except those named in
/// `present` (already attached); an item error when an attachment that should be stored
/// cannot be read.
async fn documents(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    m: &MailMessage,
    source: DocumentSource,
    present: &[String],
) -> Result<Downloaded, PortError> {
    let attached = |name: &str| present.iter().any(|p| p == name);
    let r = &kind.rules;
    let mut out = Downloaded::default();
    match source {
        DocumentSource::None => {}
        DocumentSource::WholeMessage if attached(&attachments::whole_message_name(&m.subject)) => {}
        DocumentSource::WholeMessage => {
            let max = r.whole_message.unwrap_or(u64::MAX);
            match kind
                .graph
                .download(cx.user(), &m.id, Content::Message, max)
                .await?
            {
                Some(content) => out.documents.push(ParkedDocument {
                    file_name: attachments::whole_message_name(&m.subject),
                    content_type: "message/rfc822".into(),
                    content,
                }),
                None => out.warnings.push(attachments::whole_message_too_large(max)),
            }
        }
        DocumentSource::Attachments => {
            let list = kind.graph.attachments(cx.user(), &m.id).await?;
            let plan = attachments::plan_attachments(&list, r.attachments_for(cx.owner()))
                .map_err(|e| PortError::new(ErrorClass::Item, e))?;
            out.warnings = plan.warnings;
            for w in plan.wanted.into_iter().filter(|w| !attached(&w.file_name)) {
                let got = kind
                    .graph
                    .download(
                        cx.user(),
                        &m.id,
                        Content::Attachment(&w.attachment),
                        w.max_bytes,
                    )
                    .await;
                match got {
                    Ok(Some(content)) => out.documents.push(ParkedDocument {
                        file_name: w.file_name,
                        content_type: w.content_type,
                        content,
                    }),
                    Ok(None) => out.warnings.push(attachments::too_large(
                        &w.attachment.name,
                        None,
                        w.max_bytes,
                    )),
                    Err(e) if matches!(e.class, ErrorClass::Item | ErrorClass::NotFound) => {
                        return Err(PortError::new(
                            ErrorClass::Item,
                            format!(
                                "attachment {:?} cannot be read: {}",
                                w.attachment.name, e.message
                            ),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(out)
}

/// After an interrupted write: attach the planned documents the activity lacks. Returns the
/// warnings.
async fn complete(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    m: &MailMessage,
    activity: CrmId,
) -> Result<Vec<String>, PortError> {
    let source = decide::document_source(&kind.rules, cx.owner(), m.has_attachments);
    if source == DocumentSource::None {
        return Ok(Vec::new());
    }
    // What the interrupted attempt attached already is not downloaded again.
    let present: Vec<String> = kind
        .crm
        .documents(cx.rep(), activity)
        .await?
        .into_iter()
        .map(|d| d.file_name)
        .collect();
    let planned = documents(kind, cx, m, source, &present).await?;
    let mut warnings = planned.warnings;
    for d in planned.documents {
        write_document(kind, cx, activity, d, &mut warnings).await?;
    }
    Ok(warnings)
}

/// What a failed document write means. CRM refusing a document (too big, a refused type) does
/// not fail the message: the activity stays filed and the refusal becomes a warning. A big
/// document that still fails at transport level after the client's retries counts as refused:
/// a server that drops the connection on an oversized request looks exactly like a network
/// failure, and retrying it every run would keep the message in the sync folder for ever. Any
/// other error is raised (retried later: the intent makes the next attempt complete it).
fn refused_document(
    activity: CrmId,
    file_name: &str,
    len: u64,
    e: PortError,
) -> Result<String, PortError> {
    let refused = match e.class {
        ErrorClass::Item | ErrorClass::NotFound => true,
        ErrorClass::Transient => len > INLINE_DOCUMENT_BYTES as u64,
        _ => false,
    };
    if refused {
        Ok(format!(
            "activity {activity} was filed without the document {file_name:?} ({} KB): CRM did not accept it: {}",
            len.div_ceil(1024),
            e.message
        ))
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_documents_are_warnings_other_errors_are_raised() {
        let w = refused_document(
            CrmId(5),
            "a.pdf",
            10,
            PortError::new(ErrorClass::Item, "too big"),
        )
        .unwrap();
        assert!(w.contains("without the document \"a.pdf\"") && w.contains("too big"));
        // A big document dropped at transport level counts as refused, a small one not.
        let big = INLINE_DOCUMENT_BYTES as u64 + 1;
        assert!(refused_document(CrmId(5), "a.pdf", big, PortError::transient("reset")).is_ok());
        assert!(refused_document(CrmId(5), "a.pdf", 10, PortError::transient("reset")).is_err());
        assert!(
            refused_document(
                CrmId(5),
                "a.pdf",
                10,
                PortError::new(ErrorClass::Tenant, "unknown field")
            )
            .is_err()
        );
    }
}
