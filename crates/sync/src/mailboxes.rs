//! The mailbox list: the reps enabled in CRM, matched to Microsoft 365 users by address within
//! the managed domains, stored as store mailboxes. Reps without a mailbox are reported, not
//! fatal; mailboxes whose rep is no longer enabled are disabled in the store.

use std::sync::Arc;

use futures::StreamExt;
use gc_store::{MailboxUpsert, StateStore};

use crate::email::model::RepRef;
use crate::engine::{MailboxTarget, Owner};
use crate::ports::{Directory, MailUser, PortError, RepInfo};

/// A rep that cannot be synchronized, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unmatched {
    /// The rep's address.
    pub email: String,
    /// Why.
    pub reason: String,
}

/// Result of a refresh.
#[derive(Debug, Clone, Default)]
pub struct MailboxList {
    /// Mailboxes to work (reps enabled for e-mails, with a Microsoft 365 mailbox).
    pub targets: Vec<MailboxTarget>,
    /// Mailboxes whose rep's tasks are synchronized (the rep's tasks flag).
    pub task_targets: Vec<MailboxTarget>,
    /// Every enabled rep (participants who are colleagues).
    pub reps: Vec<RepRef>,
    /// Reps without a usable mailbox.
    pub unmatched: Vec<Unmatched>,
}

/// Refresh the mailbox list from CRM and the directory, and store it.
pub async fn refresh(
    directory: &dyn Directory,
    store: &Arc<dyn StateStore>,
    managed_domains: &[String],
) -> Result<MailboxList, PortError> {
    let reps = directory.enabled_reps().await?;
    let store_err = |e: gc_store::StoreError| PortError::transient(format!("state store: {e}"));
    let mut list = MailboxList {
        reps: reps
            .iter()
            .map(|r| RepRef {
                crm_id: r.crm_id,
                email: r.email.to_ascii_lowercase(),
                rep_number: r.rep_number.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let in_domain = |r: &RepInfo| {
        managed_domains.is_empty()
            || r.email
                .rsplit_once('@')
                .is_some_and(|(_, d)| managed_domains.iter().any(|m| m.eq_ignore_ascii_case(d)))
    };
    let lookups: Vec<(RepInfo, Result<Option<MailUser>, PortError>)> = futures::stream::iter(reps)
        .map(|r| async move {
            if !in_domain(&r) {
                return (r, Ok(None));
            }
            let u = match directory.find_user(&r.email).await {
                // A directory user is not enough: probe that the mailbox answers.
                Ok(Some(u)) => match directory.probe_mailbox(&r.email).await {
                    Ok(()) => Ok(Some(u)),
                    Err(e) => Err(e),
                },
                other => other,
            };
            (r, u)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut enabled_ids = Vec::new();
    for (rep, user) in lookups {
        if !in_domain(&rep) {
            list.unmatched.push(Unmatched {
                email: rep.email.clone(),
                reason: "the address is not in a managed domain".into(),
            });
            continue;
        }
        let user = match user {
            Ok(Some(u)) => u,
            Ok(None) => {
                list.unmatched.push(Unmatched {
                    email: rep.email.clone(),
                    reason: "no Microsoft 365 user with this address".into(),
                });
                continue;
            }
            Err(e) => {
                list.unmatched.push(Unmatched {
                    email: rep.email.clone(),
                    reason: format!("no usable mailbox: {e}"),
                });
                continue;
            }
        };
        let mailbox = rep.crm_id.to_string();
        store
            .upsert_mailbox(&MailboxUpsert {
                rep_id: mailbox.clone(),
                address: rep.email.to_ascii_lowercase(),
                graph_user_id: Some(user.id.clone()),
                enabled: true,
            })
            .await
            .map_err(store_err)?;
        enabled_ids.push(mailbox.clone());
        if !rep.sync_emails && !rep.sync_tasks {
            continue;
        }
        let mut addresses = user.addresses.clone();
        let primary = rep.email.to_ascii_lowercase();
        if !addresses.contains(&primary) {
            addresses.insert(0, primary.clone());
        }
        let target = MailboxTarget {
            owner: Owner {
                mailbox,
                rep_crm_id: rep.crm_id,
                rep_number: rep.rep_number.clone(),
                name: rep.name.clone(),
                email: primary.clone(),
                addresses,
                language: rep.language.clone(),
            },
            graph_user: primary,
        };
        if rep.sync_tasks {
            list.task_targets.push(target.clone());
        }
        if rep.sync_emails {
            list.targets.push(target);
        }
    }
    for m in store.list_mailboxes().await.map_err(store_err)? {
        if m.enabled && !enabled_ids.contains(&m.rep_id) {
            store
                .set_enabled(&m.rep_id, false)
                .await
                .map_err(store_err)?;
        }
    }
    list.targets
        .sort_by(|a, b| a.owner.email.cmp(&b.owner.email));
    list.task_targets
        .sort_by(|a, b| a.owner.email.cmp(&b.owner.email));
    list.unmatched.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(list)
}
