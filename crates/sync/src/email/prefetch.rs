//! What a page's messages need from CRM, read for the whole page at once.
//!
//! Filing a message asks CRM two questions before it writes: is there an activity with the
//! message's external key already, and which persons and companies have its addresses.
//! Asked per message, that was most of CRM's round trips; asked for every message of a delta
//! page together, it is a few requests per page (`find_external_keys` and the address lookups
//! carry many values per query, and all of them go in one request).
//!
//! The answers are read before the messages' global-key leases are taken, so only what cannot
//! go stale in a way that matters is used (see [`PageFacts::key_absent`]): "no external key"
//! is trusted only while the store has no link for the message's key at all (another mailbox
//! or process that files the same message records its intent, an interrupted link, before it
//! writes the key); a found key's activity is read for the whole page too, and that read is
//! used under the lease only when it already has every participant the message would add
//! (see [`PageFacts::key_activity_read`]); otherwise the activity is read again. Addresses are
//! facts about CRM's people that a few seconds do not change.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use gc_store::{CrmId, Link};

use crate::email::decide;
use crate::email::kind::EmailKind;
use crate::email::model::{ExistingActivity, MailItem, MailMessage, PeopleMatch};
use crate::email::participants;
use crate::engine::RunCx;
use crate::error::PortError;

/// The CRM facts of one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFacts {
    /// Global keys asked about.
    asked_keys: HashSet<String>,
    /// Of those, the keys CRM has an external key for, with the activity's id.
    known_keys: HashMap<String, CrmId>,
    /// Those activities as the page read them (one request for the page), with their
    /// participants.
    key_activities: HashMap<CrmId, ExistingActivity>,
    /// Addresses asked about (lower case).
    asked_addresses: HashSet<String>,
    /// What CRM has for them.
    people: PeopleMatch,
}

impl PageFacts {
    /// Whether the page's lookup found no external key for `key`, and that may still be
    /// trusted: nothing in the store links the key (`key_links`), and this message's own
    /// link records no interrupted write (an interrupted link is among `key_links`).
    pub fn key_absent(&self, key: &str, key_links: &[Link]) -> bool {
        key_links.is_empty() && self.asked_keys.contains(key) && !self.known_keys.contains_key(key)
    }

    /// The activity the page's lookup found the key on. Ids do not change, but the activity
    /// may have changed since (participants added by another mailbox), so it is read again
    /// under the lease by id: one request instead of the key lookup and the read.
    pub fn key_activity(&self, key: &str) -> Option<CrmId> {
        self.known_keys.get(key).copied()
    }

    /// The activity `id` as the page read it, when that read may stand in for a read under
    /// the lease: nothing of this mailbox links the message yet (`link`), so there is no
    /// interrupted or failed attempt to complete, and the activity already has every
    /// participant filing `m` would add. The connector only ever adds participants, so a
    /// read that has them all still has them; a read that lacks one is not trusted (another
    /// mailbox may have added it since), and the activity is read again.
    pub fn key_activity_read(
        &self,
        id: CrmId,
        m: &MailMessage,
        owner: &crate::engine::Owner,
        link: Option<&Link>,
    ) -> Option<&ExistingActivity> {
        if link.is_some() {
            return None;
        }
        self.key_activities
            .get(&id)
            .filter(|a| decide::adopts_without_writes(m, owner, a))
    }

    /// CRM's people for `addresses`, when the page's lookup asked about all of them.
    pub fn people_for(&self, addresses: &[String]) -> Option<PeopleMatch> {
        let lower: Vec<String> = addresses.iter().map(|a| a.to_ascii_lowercase()).collect();
        if !lower.iter().all(|a| self.asked_addresses.contains(a)) {
            return None;
        }
        let wanted = |e: &str| lower.iter().any(|a| a.eq_ignore_ascii_case(e));
        Some(PeopleMatch {
            persons: self
                .people
                .persons
                .iter()
                .filter(|p| wanted(&p.email))
                .cloned()
                .collect(),
            companies: self
                .people
                .companies
                .iter()
                .filter(|c| wanted(&c.email))
                .cloned()
                .collect(),
            reps: Vec::new(),
        })
    }
}

/// The facts of a run's two latest pages: the page whose items are being worked and the one
/// read ahead of it while they are, whose items start as the first page's last ones run
/// (`SyncKind::reads_ahead`). Two are enough: the walk has at most two pages in hand, so the
/// page after next is read only when every item of the first is done.
#[derive(Debug, Default)]
pub struct RecentPages(std::sync::RwLock<[Arc<PageFacts>; 2]>);

impl RecentPages {
    /// Keep the facts of the page just read; the oldest of the two goes.
    pub fn push(&self, facts: PageFacts) {
        if let Ok(mut pages) = self.0.write() {
            pages[1] = std::mem::replace(&mut pages[0], Arc::new(facts));
        }
    }

    /// The facts to gather the message with global key `key` with: those of the latest page
    /// that asked about it (a message seen on both pages was asked about again later), else
    /// the latest page's (whose answers it was not asked about are not trusted for it).
    pub fn for_key(&self, key: &str) -> Arc<PageFacts> {
        let Ok(pages) = self.0.read() else {
            return Arc::default();
        };
        pages
            .iter()
            .find(|p| p.asked_keys.contains(key))
            .unwrap_or(&pages[0])
            .clone()
    }
}

/// The messages of a page that will be gathered: in the sync folder, and not settled by
/// triage for a reason of their own (skipped by a rule, no time).
///
/// Their links are not read here: a message in the sync folder has none that settles it
/// (a filed one is moved out), except after a crash between its commit and its move, and
/// reading each message's link cost one store statement per message on top of the one at
/// the item's start. Such a rare message only adds its key and addresses to the page's
/// lookup, whose answers it does not use.
fn to_gather<'a>(
    kind: &EmailKind,
    cx: &RunCx<'_>,
    sync_folder: &str,
    items: &'a [MailItem],
) -> Vec<&'a MailMessage> {
    items
        .iter()
        .filter_map(|item| match item {
            MailItem::Message(m) => Some(m.as_ref()),
            _ => None,
        })
        .filter(|m| {
            m.parent_folder_id
                .as_deref()
                .is_none_or(|f| f == sync_folder)
        })
        .filter(|m| decide::triage(m, &cx.target.owner, None, &kind.rules).is_none())
        .collect()
}

/// Ask CRM, for every message of the page that will be gathered, about its external key
/// and its addresses: one lookup of each for the whole page.
pub(crate) async fn prefetch(
    kind: &EmailKind,
    cx: &RunCx<'_>,
    sync_folder: &str,
    items: &[MailItem],
) -> Result<PageFacts, PortError> {
    let messages = to_gather(kind, cx, sync_folder, items);
    if messages.is_empty() {
        return Ok(PageFacts::default());
    }
    let mut keys: Vec<String> = messages
        .iter()
        .map(|m| m.global_key(cx.mailbox()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut addresses: Vec<String> = messages
        .iter()
        .flat_map(|m| participants::lookup_addresses(m, &cx.target.owner))
        .map(|a| a.to_ascii_lowercase())
        .collect();
    addresses.sort();
    addresses.dedup();
    let found = kind.crm.lookup_page(cx.rep(), &keys, &addresses).await?;
    // Messages another mailbox filed already: their activities in one more request for the
    // page, instead of one read each under the lease.
    let ids: Vec<CrmId> = found.known_keys.values().copied().collect();
    let key_activities = if ids.is_empty() {
        HashMap::new()
    } else {
        kind.crm
            .activities(cx.rep(), &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect()
    };
    Ok(PageFacts {
        asked_keys: keys.into_iter().collect(),
        known_keys: found.known_keys,
        key_activities,
        asked_addresses: addresses.into_iter().collect(),
        people: found.people,
    })
}

#[cfg(test)]
mod tests {
    use gc_store::Kind;

    use super::*;
    use crate::email::model::{CompanyRef, PersonRef};

    fn facts() -> PageFacts {
        PageFacts {
            asked_keys: ["<a@x>".to_owned(), "<b@x>".to_owned()].into(),
            known_keys: [("<b@x>".to_owned(), CrmId(9))].into(),
            key_activities: HashMap::new(),
            asked_addresses: ["ann@x.example".to_owned(), "co@y.example".to_owned()].into(),
            people: PeopleMatch {
                persons: vec![PersonRef {
                    email: "ann@x.example".into(),
                    person: CrmId(1),
                    company: Some(CrmId(2)),
                }],
                companies: vec![CompanyRef {
                    email: "co@y.example".into(),
                    company: CrmId(3),
                }],
                reps: Vec::new(),
            },
        }
    }

    #[test]
    fn an_absent_key_is_trusted_only_without_links() {
        let f = facts();
        assert!(f.key_absent("<a@x>", &[]));
        // Found, or never asked: look again under the lease.
        assert!(!f.key_absent("<b@x>", &[]));
        assert!(!f.key_absent("<c@x>", &[]));
        assert_eq!(f.key_activity("<b@x>"), Some(CrmId(9)));
        assert_eq!(f.key_activity("<a@x>"), None);
        // Another mailbox (or an interrupted attempt) links the key: look again.
        let link = Link::new(Kind::Email, "7", "g1");
        assert!(!f.key_absent("<a@x>", &[link]));
    }

    #[test]
    fn the_pages_read_of_an_activity_is_used_only_when_adopting_writes_nothing() {
        use crate::email::model::{Address, ExistingParticipant, FoundBy};
        let owner = crate::email::decide::tests::owner();
        let m = MailMessage {
            id: "AAA".into(),
            internet_message_id: Some("<b@x>".into()),
            subject: "Offer".into(),
            received: Some("2026-11-20T09:15:42Z".parse().unwrap()),
            from: Some(Address::new("paul@customer.example", None)),
            to: vec![Address::new("rita@contoso.example", None)],
            ..Default::default()
        };
        let read = |participants| ExistingActivity {
            id: CrmId(9),
            participants,
            found_by: FoundBy::ExternalKey,
        };
        let rita = ExistingParticipant {
            email: None,
            rep: Some(CrmId(100)),
            person: None,
        };
        let mut f = facts();
        f.key_activities.insert(CrmId(9), read(vec![rita]));
        assert_eq!(
            f.key_activity_read(CrmId(9), &m, &owner, None)
                .map(|a| a.id),
            Some(CrmId(9))
        );
        // Not read with the page.
        assert!(f.key_activity_read(CrmId(8), &m, &owner, None).is_none());
        // This mailbox has a link already (an interrupted or failed attempt): read again.
        let link = Link::new(Kind::Email, "100", "AAA");
        assert!(
            f.key_activity_read(CrmId(9), &m, &owner, Some(&link))
                .is_none()
        );
        // This rep is missing: adopting adds it, so the activity is read again first.
        f.key_activities.insert(CrmId(9), read(Vec::new()));
        assert!(f.key_activity_read(CrmId(9), &m, &owner, None).is_none());
    }

    #[test]
    fn a_message_is_gathered_with_the_facts_of_the_page_that_asked_about_it() {
        let pages = RecentPages::default();
        pages.push(facts());
        let next = PageFacts {
            asked_keys: ["<c@x>".to_owned(), "<b@x>".to_owned()].into(),
            ..PageFacts::default()
        };
        pages.push(next);
        // Asked about on the page being worked, not on the one read ahead.
        assert!(pages.for_key("<a@x>").key_absent("<a@x>", &[]));
        // Asked about on both: the later answer counts (no key found any more).
        assert_eq!(pages.for_key("<b@x>").key_activity("<b@x>"), None);
        assert!(pages.for_key("<c@x>").key_absent("<c@x>", &[]));
        // A third page: the first is gone, its messages are looked up on their own.
        pages.push(PageFacts::default());
        assert!(!pages.for_key("<a@x>").key_absent("<a@x>", &[]));
    }

    #[test]
    fn people_are_given_only_for_addresses_that_were_asked() {
        let f = facts();
        let p = f.people_for(&["Ann@x.example".into()]).unwrap();
        assert_eq!(p.persons.len(), 1);
        assert!(p.companies.is_empty());
        let p = f
            .people_for(&["ann@x.example".into(), "co@y.example".into()])
            .unwrap();
        assert_eq!((p.persons.len(), p.companies.len()), (1, 1));
        assert_eq!(f.people_for(&["new@z.example".into()]), None);
    }
}
