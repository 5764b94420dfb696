//! What e-mail filing reads before it decides, under the message's global-key lease: the
//! activity CRM already has for the message (by external key, else through a link of this or
//! another mailbox), the CRM people of its addresses (both from the page's lookup in
//! [`prefetch`](super::prefetch), or the activity from what this process just wrote in
//! [`recent`](super::recent), where it may be trusted), and, after an interrupted attempt, the
//! activity that attempt wrote before its external key (found by its marker).

use gc_store::{Kind, Link};

use crate::adopt::{self, AdoptedBy, Adoption, RecordTable, content};
use crate::email::decide;
use crate::email::kind::{EmailKind, EmailRun};
use crate::email::model::{ExistingActivity, FoundBy, MailMessage, PeopleMatch};
use crate::email::participants;
use crate::email::prefetch::PageFacts;
use crate::engine::ItemCx;
use crate::engine::cx::is_interrupted;
use crate::error::{PortError, store_error};

/// The facts of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The activity CRM has for the message (external key or link).
    pub existing: Option<ExistingActivity>,
    /// An activity an interrupted attempt wrote without its external key.
    pub orphan: Option<ExistingActivity>,
    /// CRM people of the message's addresses (empty for a clean adoption by key).
    pub people: PeopleMatch,
}

/// Gather the facts of a message.
pub(crate) async fn gather(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    m: &MailMessage,
    page: &PageFacts,
) -> Result<Facts, PortError> {
    let key = m.global_key(cx.mailbox());
    let rep = cx.rep();
    let owner = &cx.target.owner;
    let key_links = cx
        .store
        .links_by_global_key(Kind::Email, &key)
        .await
        .map_err(store_error)?;
    // The page's lookup said "no key", and nothing since links the key: no need to ask.
    let mut existing = if page.key_absent(&key, &key_links) {
        None
    } else if let Some(written) = kind
        .recent
        .activity(&key, &key_links)
        .filter(|a| cx.link.is_none() && decide::adopts_without_writes(m, owner, a))
    {
        // This process created it moments ago with this rep among its participants.
        tracing::debug!(
            mailbox = cx.mailbox(),
            activity = %written.id,
            "adopting the activity this process just created for the message, without reading it back"
        );
        Some(written)
    } else if let Some(id) = page.key_activity(&key)
        && let Some(mut ex) = match page.key_activity_read(id, m, owner, cx.link) {
            // The page's read has all the participants: adopting writes nothing.
            Some(read) => Some(read.clone()),
            // Read again by the id the page's key lookup found (fresh participants).
            None => kind.crm.activity(rep, id).await?,
        }
    {
        ex.found_by = FoundBy::ExternalKey;
        Some(ex)
    } else if let Some(guess) = key_links.iter().filter_map(|l| l.crm_id).min() {
        // Another mailbox (or an earlier attempt) links the key: its activity is read with
        // the key, in one request.
        kind.crm.find_by_key_guessing(rep, &key, guess).await?
    } else {
        kind.crm.find_by_key(rep, &key).await?
    };
    if existing.is_none() {
        for id in decide::candidates(cx.link, &key_links) {
            if let Some(mut ex) = kind.crm.activity(rep, id).await? {
                ex.found_by = FoundBy::Link;
                existing = Some(ex);
                break;
            }
        }
    }
    if existing.is_none()
        && let Some(ad) = &kind.adoption
    {
        existing = by_legacy_id(kind, cx, run, ad, m, &key).await?;
    }
    let needs_people = existing
        .as_ref()
        .is_none_or(|e| e.found_by != FoundBy::ExternalKey || is_interrupted(cx.link));
    let people = if needs_people {
        let addresses = participants::lookup_addresses(m, owner);
        let mut p = if addresses.is_empty() {
            PeopleMatch::default()
        } else if let Some(p) = page.people_for(&addresses) {
            p
        } else {
            kind.crm.find_people(rep, &addresses).await?
        };
        p.reps = kind.reps_among(&addresses);
        p
    } else {
        PeopleMatch::default()
    };
    let orphan = if existing.is_none() {
        find_orphan(kind, cx, m, &key, &key_links, &people).await?
    } else {
        None
    };
    if existing.is_none()
        && orphan.is_none()
        && let Some(ad) = &kind.adoption
        && ad.settings.content_match
    {
        existing = by_content(kind, cx, ad, m, &key, &people).await?;
    }
    Ok(Facts {
        existing,
        orphan,
        people,
    })
}

/// The activity the previous connector linked this message to by its EWS id or entry id
/// (translated, see [`crate::adopt::legacy`]), unless another message's link has it.
async fn by_legacy_id(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    run: &EmailRun,
    ad: &Adoption,
    m: &MailMessage,
    key: &str,
) -> Result<Option<ExistingActivity>, PortError> {
    if !ad.settings.legacy_ids {
        return Ok(None);
    }
    if adopt::legacy::came_after_switch_over(&ad.settings, run.switch_over, m.received) {
        return Ok(None);
    }
    let index = run
        .legacy
        .get(ad, cx, &kind.rules.content_type, RecordTable::Activity)
        .await?;
    let Some((id, how)) = index.find(&m.id) else {
        return Ok(None);
    };
    if adopt::taken(cx, Kind::Email, id, &m.id, Some(key)).await? {
        tracing::warn!(
            mailbox = cx.mailbox(),
            activity = %id,
            "the previous connector's key names an activity another message is linked to; not adopted"
        );
        return Ok(None);
    }
    Ok(kind.crm.activity(cx.rep(), id).await?.map(|mut ex| {
        ex.found_by = FoundBy::Adopted(how);
        ex
    }))
}

/// The last resort: the one activity of this rep with the message's subject, date and time
/// (to the minute, CRM's time zone) that has the sender among its participants and is not
/// linked to another message. Two or more such activities adopt nothing.
async fn by_content(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    ad: &Adoption,
    m: &MailMessage,
    key: &str,
    people: &PeopleMatch,
) -> Result<Option<ExistingActivity>, PortError> {
    let owner = &cx.target.owner;
    let Some(plan) = decide::plan(m, owner, people, &kind.rules) else {
        return Ok(None);
    };
    let found = ad
        .crm
        .activities_like(cx.rep(), &owner.rep_number, plan.date, &plan.subject)
        .await?;
    let sender = m.from.as_ref().map(|a| a.email.as_str());
    let mut free = Vec::new();
    for id in content::matching_activities(&found, &plan.subject, plan.time, sender) {
        if !adopt::taken(cx, Kind::Email, id, &m.id, Some(key)).await? {
            free.push(id);
        }
    }
    match free.as_slice() {
        [id] => Ok(kind.crm.activity(cx.rep(), *id).await?.map(|mut ex| {
            ex.found_by = FoundBy::Adopted(AdoptedBy::ContentMatch);
            ex
        })),
        [] => Ok(None),
        more => {
            tracing::info!(
                mailbox = cx.mailbox(),
                candidates = more.len(),
                "several activities look like this message; none adopted by content"
            );
            Ok(None)
        }
    }
}

/// An interrupted attempt (of any mailbox: the key's links say which) may have written the
/// activity without its external key; look for it under that mailbox's rep number. A found
/// activity that another item's link already points to is never taken.
async fn find_orphan(
    kind: &EmailKind,
    cx: &ItemCx<'_>,
    m: &MailMessage,
    key: &str,
    key_links: &[Link],
    people: &PeopleMatch,
) -> Result<Option<ExistingActivity>, PortError> {
    let searches = decide::orphan_searches(cx.link, key_links);
    if searches.is_empty() {
        return Ok(None);
    }
    let Some(plan) = decide::plan(m, &cx.target.owner, people, &kind.rules) else {
        return Ok(None);
    };
    for mailbox in searches {
        let mut p = plan.clone();
        if let Some(r) = kind.reps.iter().find(|r| r.crm_id.to_string() == mailbox) {
            p.rep_number = r.rep_number.clone();
        }
        let Some(found) = kind.crm.find_orphan(cx.rep(), &p).await? else {
            continue;
        };
        let taken = cx
            .store
            .links_by_crm_id(Kind::Email, found.id)
            .await
            .map_err(store_error)?
            .iter()
            .any(|l| l.global_key.as_deref().is_some_and(|k| k != key));
        if taken {
            tracing::warn!(
                mailbox = cx.mailbox(),
                activity = %found.id,
                "an activity that looks like an interrupted write belongs to another message; not adopted"
            );
            continue;
        }
        tracing::info!(
            mailbox = cx.mailbox(),
            message = m.id,
            activity = %found.id,
            "adopting the activity of an interrupted attempt"
        );
        return Ok(Some(found));
    }
    Ok(None)
}
