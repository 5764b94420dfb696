//! What the store keeps for one mailbox and kind under a name
//! ([`ResolvedNameStore::put_resolved`](gc_store::ResolvedNameStore::put_resolved): folder and list
//! ids, a hold, a reset date), read in one statement when a run starts.
//!
//! A run used to read each name where it needed it, five reads before its first Graph
//! request for an e-mail run (its hold, a reset date, the sync folder and the two filing
//! subfolders). The run now reads them together and its parts look them up here. Writes
//! still go to the store at once; this is only the state the run started from, which is
//! what each of those reads saw anyway: nothing else writes these names for a mailbox and
//! kind while its run holds the mailbox lease, except the administrator's confirmation of a
//! hold, which the next run reads.

use std::collections::BTreeMap;

use gc_store::{Kind, StateStore, StoreError};

/// The kept names of a mailbox and kind as the run found them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept(BTreeMap<String, String>);

impl Kept {
    /// Every kept name of `mailbox` and `kind`, in one read.
    pub async fn read(
        store: &dyn StateStore,
        mailbox: &str,
        kind: Kind,
    ) -> Result<Self, StoreError> {
        Ok(Self(
            store
                .resolved_of(mailbox, kind)
                .await?
                .into_iter()
                .collect(),
        ))
    }

    /// The value kept under `name` when the run started.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every name starting with `prefix` with its value, in name order.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_read_gives_every_name_of_the_mailbox_and_kind_and_no_other() {
        let store = gc_store::open("sqlite::memory:").await.unwrap();
        let s = store.as_ref();
        for (mailbox, kind, name, value) in [
            ("7", Kind::Email, "hold", "{}"),
            ("7", Kind::Email, "folder:/inbox/crm", "AAMk"),
            ("7", Kind::Task, "hold", "task hold"),
            ("8", Kind::Email, "hold", "other mailbox"),
        ] {
            s.put_resolved(mailbox, kind, name, Some(value))
                .await
                .unwrap();
        }
        let kept = Kept::read(s, "7", Kind::Email).await.unwrap();
        assert_eq!(kept.get("hold"), Some("{}"));
        assert_eq!(kept.get("folder:/inbox/crm"), Some("AAMk"));
        assert_eq!(kept.get("reset_from"), None);
        assert_eq!(kept.0.len(), 2, "{kept:?}");
        let folders: Vec<_> = kept.with_prefix("folder:").collect();
        assert_eq!(folders, [("folder:/inbox/crm", "AAMk")]);
        assert_eq!(kept.with_prefix("pending:").count(), 0);
    }
}
