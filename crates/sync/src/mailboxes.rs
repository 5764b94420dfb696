//! The mailbox list: the reps enabled in CRM, matched to Microsoft 365 users by address within
//! the managed domains, stored as store mailboxes. Reps without a mailbox are reported, not
//! fatal; mailboxes whose rep is no longer enabled are disabled in the store.

use std::sync::Arc;

use futures::StreamExt;
use gc_crm::user_settings::{SizeUnit, SyncSettings};
use gc_store::{CrmId, Kind, MailboxUpsert, StateStore};

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

/// How the refresh reads the reps' `UserSettings` (`[mailboxes] user_settings`,
/// `user_settings_size_unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepOverrides {
    /// The global settings apply to every rep.
    Ignore,
    /// Honour each rep's `UserSettings`, reading sizes in this unit.
    Honour(SizeUnit),
}

/// Result of a refresh.
#[derive(Debug, Clone, Default)]
pub struct MailboxList {
    /// Mailboxes to work: every enabled rep with a Microsoft 365 mailbox. Each kind works
    /// those whose rep has its flag set ([`MailboxList::targets_of`]).
    pub targets: Vec<MailboxTarget>,
    /// Every enabled rep (participants who are colleagues). Shared: every run of every kind
    /// hands it to its kind, and with 10,000 reps a copy per run would cost more than the run.
    pub reps: Arc<Vec<RepRef>>,
    /// Reps without a usable mailbox.
    pub unmatched: Vec<Unmatched>,
    /// Reps whose `UserSettings` could not be read (the global settings apply to them) or
    /// name something this connector does not honour.
    pub settings_warnings: Vec<Unmatched>,
}

impl MailboxList {
    /// The mailboxes `kind` works: those whose rep has the kind's flag set.
    pub fn targets_of(&self, kind: Kind) -> Vec<MailboxTarget> {
        self.iter_of(kind).cloned().collect()
    }

    /// The mailboxes `kind` works, borrowed: the service's scheduler looks at every one on
    /// every pass and copies only those it starts.
    pub fn iter_of(&self, kind: Kind) -> impl Iterator<Item = &MailboxTarget> {
        self.targets.iter().filter(move |t| t.owner.kinds.has(kind))
    }
}

/// Mailbox probes of one refresh in flight at once. Each asks a different mailbox, so the
/// per-mailbox limit does not apply and the Graph client's tenant budget (`[microsoft]
/// requests_per_second`) paces them; a first refresh of a few dozen reps, whose users are
/// all new, answers in one round trip instead of one per 8 reps, in front of every
/// mailbox's first run.
const MAILBOX_PROBES_AT_ONCE: usize = 32;

/// Refresh the mailbox list from CRM and the directory, and store it.
pub async fn refresh(
    directory: &dyn Directory,
    store: &Arc<dyn StateStore>,
    managed_domains: &[String],
    overrides: RepOverrides,
) -> Result<MailboxList, PortError> {
    list(directory, store, managed_domains, overrides, true).await
}

/// The mailbox list as [`refresh`] finds it, without storing anything (`graph-connector
/// plan`): a rep not stored yet is listed under its CRM id as a refresh would store it.
pub async fn discover(
    directory: &dyn Directory,
    store: &Arc<dyn StateStore>,
    managed_domains: &[String],
    overrides: RepOverrides,
) -> Result<MailboxList, PortError> {
    list(directory, store, managed_domains, overrides, false).await
}

async fn list(
    directory: &dyn Directory,
    store: &Arc<dyn StateStore>,
    managed_domains: &[String],
    overrides: RepOverrides,
    keep: bool,
) -> Result<MailboxList, PortError> {
    let reps = directory.enabled_reps().await?;
    let store_err = |e: gc_store::StoreError| PortError::transient(format!("state store: {e}"));
    let mut list = MailboxList {
        reps: Arc::new({
            // Sorted by address, as the kinds look addresses up in it (`EmailKind::new`
            // would otherwise sort a copy for every run).
            let mut refs: Vec<RepRef> = reps
                .iter()
                .map(|r| RepRef {
                    crm_id: r.crm_id,
                    email: r.email.to_ascii_lowercase(),
                    rep_number: r.rep_number.clone(),
                })
                .collect();
            refs.sort_by(|a, b| a.email.cmp(&b.email));
            refs
        }),
        ..Default::default()
    };
    let in_domain = |r: &RepInfo| {
        managed_domains.is_empty()
            || r.email
                .rsplit_once('@')
                .is_some_and(|(_, d)| managed_domains.iter().any(|m| m.eq_ignore_ascii_case(d)))
    };
    // One grouped lookup for every rep in a managed domain, and the mailbox probe, only for
    // users not already known to have a working mailbox (stored, enabled, same user): a rep
    // whose mailbox answered before costs no request per refresh. A mailbox that stops
    // answering fails its runs, which count toward exclusion. In the first refresh of a
    // store (it knows no mailbox yet), every rep's probe goes out together with the lookup
    // (a probe asks by address, it does not need the user's id): the first cycle waits one
    // round trip instead of two in front of every mailbox's first run, and a rep without a
    // user costs a probe that is not used, once. Later refreshes probe only the users the
    // lookup found, so a rep without a user costs nothing per refresh.
    let (asked, skipped): (Vec<RepInfo>, Vec<RepInfo>) = reps.into_iter().partition(in_domain);
    let addresses: Vec<String> = asked.iter().map(|r| r.email.clone()).collect();
    let stored = store.list_mailboxes().await.map_err(store_err)?;
    // The enabled ones by rep id: with 10,000 reps a search through the list per rep would
    // dominate.
    let known: std::collections::HashMap<&str, &gc_store::MailboxRecord> = stored
        .iter()
        .filter(|m| m.enabled)
        .map(|m| (m.rep_id.as_str(), m))
        .collect();
    let first: Vec<(CrmId, String)> = if stored.is_empty() {
        asked.iter().map(|r| (r.crm_id, r.email.clone())).collect()
    } else {
        Vec::new()
    };
    let (found, mut early) = tokio::join!(
        directory.find_users(&addresses),
        futures::stream::iter(first)
            .map(|(id, email)| async move { (id, directory.probe_mailbox(&email).await) })
            .buffer_unordered(MAILBOX_PROBES_AT_ONCE)
            .collect::<std::collections::HashMap<_, _>>()
    );
    let proven = |r: &RepInfo, u: &MailUser| {
        known
            .get(r.crm_id.to_string().as_str())
            .is_some_and(|m| m.graph_user_id.as_deref() == Some(u.id.as_str()))
    };
    let mut lookups: Vec<(RepInfo, Result<Option<MailUser>, PortError>)> =
        futures::stream::iter(asked.into_iter().zip(found).map(|(r, u)| {
            let probed = early.remove(&r.crm_id);
            (r, u, probed)
        }))
        .map(|(r, u, probed)| async move {
            let u = match u {
                Ok(Some(u)) if proven(&r, &u) => Ok(Some(u)),
                // A directory user is not enough: the mailbox must answer.
                Ok(Some(u)) => match probed {
                    Some(answer) => answer.map(|()| Some(u)),
                    None => directory.probe_mailbox(&r.email).await.map(|()| Some(u)),
                },
                other => other,
            };
            (r, u)
        })
        .buffer_unordered(MAILBOX_PROBES_AT_ONCE)
        .collect()
        .await;
    lookups.extend(skipped.into_iter().map(|r| (r, Ok(None))));
    let mut enabled_ids = std::collections::HashSet::new();
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
        // A rep stored as it is now (enabled, same address and user) is not written again:
        // a refresh of an unchanged tenant writes nothing.
        let unchanged = known.get(mailbox.as_str()).is_some_and(|m| {
            m.address == rep.email.to_ascii_lowercase()
                && m.graph_user_id.as_deref() == Some(user.id.as_str())
        });
        if keep && !unchanged {
            store
                .upsert_mailbox(&MailboxUpsert {
                    rep_id: mailbox.clone(),
                    address: rep.email.to_ascii_lowercase(),
                    graph_user_id: Some(user.id.clone()),
                    enabled: true,
                })
                .await
                .map_err(store_err)?;
        }
        enabled_ids.insert(mailbox.clone());
        if !rep.kinds.any() {
            continue;
        }
        let settings = match (overrides, rep.user_settings.as_deref()) {
            (RepOverrides::Honour(unit), Some(text)) => match SyncSettings::parse(text, unit) {
                Ok(s) => {
                    for n in &s.not_honoured {
                        list.settings_warnings.push(Unmatched {
                            email: rep.email.clone(),
                            reason: format!("UserSettings: {n}"),
                        });
                    }
                    s
                }
                Err(e) => {
                    list.settings_warnings.push(Unmatched {
                        email: rep.email.clone(),
                        reason: format!("{e}; the global settings apply"),
                    });
                    SyncSettings::default()
                }
            },
            _ => SyncSettings::default(),
        };
        let mut addresses = user.addresses.clone();
        let primary = rep.email.to_ascii_lowercase();
        if !addresses.contains(&primary) {
            addresses.insert(0, primary.clone());
        }
        list.targets.push(MailboxTarget {
            owner: Owner {
                mailbox,
                rep_crm_id: rep.crm_id,
                rep_number: rep.rep_number.clone(),
                name: rep.name.clone(),
                email: primary.clone(),
                addresses,
                language: rep.language.clone(),
                kinds: rep.kinds,
                settings,
            },
            graph_user: primary,
        });
    }
    // The list read before: the refresh itself only enabled reps of `enabled_ids`.
    for m in &stored {
        if keep && m.enabled && !enabled_ids.contains(&m.rep_id) {
            store
                .set_enabled(&m.rep_id, false)
                .await
                .map_err(store_err)?;
        }
    }
    list.targets
        .sort_by(|a, b| a.owner.email.cmp(&b.owner.email));
    list.unmatched.sort_by(|a, b| a.email.cmp(&b.email));
    for w in &list.settings_warnings {
        tracing::warn!(rep = w.email, "{}", w.reason);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::engine::RepKinds;
    use gc_store::CrmId;

    /// A directory of `n` reps, each with a user; its mailbox probes take a while and count
    /// how many run at once.
    struct Slow {
        n: u64,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        /// Set when the grouped user lookup has answered.
        looked_up: AtomicBool,
        /// Probes that started before it had.
        early: AtomicUsize,
        /// The address of a rep the directory has no user for.
        without_user: String,
    }

    impl Slow {
        fn new(n: u64) -> Self {
            Slow {
                n,
                in_flight: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
                looked_up: AtomicBool::new(false),
                early: AtomicUsize::new(0),
                without_user: String::new(),
            }
        }
    }

    #[async_trait::async_trait]
    impl Directory for Slow {
        async fn enabled_reps(&self) -> Result<Vec<RepInfo>, PortError> {
            Ok((1..=self.n)
                .map(|i| RepInfo {
                    crm_id: CrmId(i),
                    rep_number: i.to_string(),
                    name: format!("Rep {i}"),
                    email: format!("rep{i}@example.com"),
                    language: None,
                    kinds: RepKinds {
                        emails: true,
                        appointments: false,
                        tasks: false,
                        contacts: false,
                        absences: false,
                    },
                    user_settings: None,
                })
                .collect())
        }

        async fn find_user(&self, address: &str) -> Result<Option<MailUser>, PortError> {
            Ok((address != self.without_user).then(|| MailUser {
                id: format!("id-{address}"),
                addresses: vec![address.to_owned()],
            }))
        }

        async fn find_users(
            &self,
            addresses: &[String],
        ) -> Vec<Result<Option<MailUser>, PortError>> {
            // Longer than two waves of probes.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let mut out = Vec::new();
            for a in addresses {
                out.push(self.find_user(a).await);
            }
            self.looked_up.store(true, Ordering::SeqCst);
            out
        }

        async fn probe_mailbox(&self, _user: &str) -> Result<(), PortError> {
            if !self.looked_up.load(Ordering::SeqCst) {
                self.early.fetch_add(1, Ordering::SeqCst);
            }
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_first_refresh_probes_the_new_mailboxes_together_and_the_next_none() {
        let store = gc_store::open("sqlite::memory:").await.unwrap();
        let dir = Slow::new(40);
        let list = refresh(&dir, &store, &[], RepOverrides::Ignore)
            .await
            .unwrap();
        assert_eq!(list.targets.len(), 40);
        // A first refresh: probed up to the fan-out at once, not 8 at a time, while the
        // users were looked up.
        assert_eq!(dir.most.load(Ordering::SeqCst), MAILBOX_PROBES_AT_ONCE);
        assert_eq!(dir.early.load(Ordering::SeqCst), 40);
        // Known now, with the same users: nothing to probe.
        dir.most.store(0, Ordering::SeqCst);
        let list = refresh(&dir, &store, &[], RepOverrides::Ignore)
            .await
            .unwrap();
        assert_eq!(list.targets.len(), 40);
        assert_eq!(dir.most.load(Ordering::SeqCst), 0);
        // A rep no longer enabled in CRM is disabled in the store, the others stay.
        let fewer = Slow::new(39);
        let list = refresh(&fewer, &store, &[], RepOverrides::Ignore)
            .await
            .unwrap();
        assert_eq!(list.targets.len(), 39);
        let stored = store.list_mailboxes().await.unwrap();
        let disabled: Vec<&str> = stored
            .iter()
            .filter(|m| !m.enabled)
            .map(|m| m.rep_id.as_str())
            .collect();
        assert_eq!(disabled, ["40"]);
        assert_eq!(stored.len(), 40);
    }

    #[tokio::test]
    async fn a_rep_probed_in_a_first_refresh_without_a_user_is_listed_as_having_none() {
        let store = gc_store::open("sqlite::memory:").await.unwrap();
        let mut dir = Slow::new(3);
        dir.without_user = "rep2@example.com".into();
        let list = refresh(&dir, &store, &[], RepOverrides::Ignore)
            .await
            .unwrap();
        assert_eq!(list.targets.len(), 2);
        assert_eq!(dir.early.load(Ordering::SeqCst), 3);
        assert_eq!(list.unmatched.len(), 1);
        assert_eq!(list.unmatched[0].email, "rep2@example.com");
        assert_eq!(
            list.unmatched[0].reason,
            "no Microsoft 365 user with this address"
        );
    }
}
