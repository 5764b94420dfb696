//! A tenant "migrated from the EWS connector" ([`crate::SandboxOptions::migrated_from_ews`]).
//!
//! The previous connector synchronised over Exchange Web Services and left its mappings in
//! CRM's external keys (`ExtSystem` `SyncML`) in the id forms an EWS client sees: EWS item ids
//! and, in some installations, hex MAPI entry ids. Some records it wrote have no key at all (a
//! key lost, or never written), so only their content (subject, start, organizer or sender)
//! ties them to an item. The first three mailbox users each get, besides the ordinary seed:
//!
//! | item | CRM record's external key | what the connector's adoption finds it by |
//! |---|---|---|
//! | event 1 | EWS id (`ewsId`) | `translateExchangeIds` ewsId → immutable id |
//! | event 2 | hex entry id | `translateExchangeIds` entryId → immutable id |
//! | event 3 | none | content (subject and start) |
//! | event 4 | the `iCalUId` | the external key |
//! | message 1 in `Inbox/crm` | EWS id | `translateExchangeIds` |
//! | message 2 in `Inbox/crm` | hex entry id | `translateExchangeIds` |
//! | message 3 in `Inbox/crm` | an EWS id from before the message was moved (stale) | content (subject, time, sender) |
//! | message 4 in `Inbox/crm` | none | content |
//!
//! and, for the kinds CRM writes into Microsoft 365, what the previous connector kept there
//! for CRM records (`ExtSystem` `SyncML`, content types `text/x-mmPerson`,
//! `text/x-mmAbsences`, `text/x-mmTasks`):
//!
//! | item | CRM record's external key | what the connector's adoption finds it by |
//! |---|---|---|
//! | contact 1 in the contact folder `CRM` (a person of the rep's companies) | EWS id | `translateExchangeIds` |
//! | contact 2 | hex entry id | `translateExchangeIds` |
//! | contact 3 | none | content (name and address) |
//! | absence event 1 (all day, `oof`; a new absence of the rep) | EWS id | `translateExchangeIds` |
//! | absence event 2 | hex entry id | `translateExchangeIds` |
//! | absence event 3 | none | content (subject and days) |
//! | To Do tasks 1 and 2 in the list `CRM` (new tasks of the rep) | none | content (title and due date) |
//!
//! To Do task ids are not among the id forms `translateExchangeIds` documents, so tasks are
//! tied by content only.
//! Times are in UTC (events in zone `UTC`, messages received on the minute), and the
//! generated configuration sets `[crm] time_zone = "UTC"`, so a record's date and time are
//! what the item's start or receipt is.

use jiff::ToSpan;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::crm::{LegacyItem, LegacyRecord, LegacyTarget};
use crate::ids;
use crate::people::{Directory, Person, PersonKind};
use crate::server::Shared;
use crate::store::{NewMessage, StateHandle};

/// The sync folder the migrated tenant's messages wait in (the connector's default).
pub const SYNC_FOLDER: &str = "Inbox/crm";

/// The contact folder the previous connector kept persons in (the connector's default).
pub const CONTACT_FOLDER: &str = "CRM";

/// The To Do list the previous connector kept tasks in (the connector's default).
pub const TASK_LIST: &str = "CRM";

/// How the migrated tenant ties one item to its CRM record (what adoption should report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tie {
    /// An EWS item id in the external key.
    EwsId,
    /// A hex MAPI entry id in the external key.
    EntryId,
    /// The event's `iCalUId` in the external key.
    ICalUId,
    /// An EWS id that went stale when the message moved; content decides.
    StaleEwsId,
    /// No key at all; content decides.
    ContentOnly,
}

/// One item of the migrated tenant whose CRM record exists already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratedItem {
    /// The mailbox (user address).
    pub mailbox: String,
    /// `event`, `message`, `contact`, `absence` or `task`.
    pub item: &'static str,
    /// Its immutable id (a To Do task's id).
    pub graph_id: String,
    /// Its subject, a contact's display name, a task's title (unique in the tenant).
    pub subject: String,
    pub tie: Tie,
}

/// Adds the migrated items to the tenant and returns the CRM side's legacy records for them
/// (with the external keys the EWS connector would have left; an empty key = no key): the
/// activities, and the persons, absences and tasks whose items it kept in Microsoft 365.
pub(crate) fn prepare(shared: &Shared) -> (Vec<LegacyItem>, Vec<LegacyRecord>, Vec<MigratedItem>) {
    let dir: &Directory = &shared.directory;
    let now = jiff::Timestamp::now();
    let today = now.to_zoned_datetime(TimeZone::UTC).date();
    let mut legacy = Vec::new();
    let mut items = Vec::new();
    let users: Vec<_> = dir.mailbox_users().take(3).cloned().collect();
    for (i, u) in users.iter().enumerate() {
        let Some(guest) = dir.externals.get((i * 5 + 2) % dir.externals.len().max(1)) else {
            continue;
        };
        let attendees = vec![u.email.clone(), guest.email.clone()];
        // events
        let ties = [Tie::EwsId, Tie::EntryId, Tie::ContentOnly, Tie::ICalUId];
        for (k, (tie, (day, hour))) in ties
            .into_iter()
            .zip([(-2i64, 10i8), (-1, 11), (1, 14), (2, 15)])
            .enumerate()
        {
            let Ok(date) = today.checked_add(day.days()) else {
                continue;
            };
            let start = date.to_datetime(Time::new(hour, 0, 0, 0).unwrap_or(Time::midnight()));
            let subject = format!("EWS-era review {} of {}", k + 1, u.display_name);
            let added = {
                let mut t = shared.lock_tenant();
                match t.user_index(&u.email) {
                    Some(ui) => crate::graph::calendar::add_single_event(
                        &mut t, dir, ui, &subject, start, 30, guest,
                    ),
                    None => None,
                }
            };
            let Some((imm, rest, ical)) = added else {
                continue;
            };
            let ext_key = match tie {
                Tie::EwsId => ids::ews_id(&rest),
                Tie::EntryId => ids::hex_entry_id(&imm),
                Tie::ICalUId => ical,
                _ => String::new(),
            };
            legacy.push(LegacyItem {
                mailbox: u.email.clone(),
                content_type: "text/x-vevent".into(),
                ext_key,
                subject: subject.clone(),
                date: date.to_string(),
                time: format!("{hour:02}:00"),
                attendees: attendees.clone(),
            });
            items.push(MigratedItem {
                mailbox: u.email.clone(),
                item: "event",
                graph_id: imm,
                subject,
                tie,
            });
        }
        // messages, waiting in the sync folder
        let st = StateHandle { shared };
        if st.create_folder_path(&u.email, SYNC_FOLDER).is_err() {
            continue;
        }
        let ties = [Tie::EwsId, Tie::EntryId, Tie::StaleEwsId, Tie::ContentOnly];
        for (k, tie) in ties.into_iter().enumerate() {
            let received = now
                .checked_sub(jiff::SignedDuration::from_hours(20 + k as i64))
                .unwrap_or(now);
            let received =
                jiff::Timestamp::from_second(received.as_second() / 60 * 60).unwrap_or(received);
            let subject = format!("EWS-era offer {} for {}", k + 1, u.display_name);
            // A stale id: the one the message had in the Inbox, before it was filed.
            let folder = if tie == Tie::StaleEwsId {
                None
            } else {
                Some(SYNC_FOLDER.to_owned())
            };
            let Ok(imm) = st.deliver(
                &u.email,
                NewMessage {
                    subject: subject.clone(),
                    from: Some(guest.email.clone()),
                    to: vec![u.email.clone()],
                    body_text: Some(format!("{subject}: terms attached")),
                    folder,
                    received: Some(received),
                    ..Default::default()
                },
            ) else {
                continue;
            };
            let Ok(before) = st.message(&u.email, &imm) else {
                continue;
            };
            if tie == Tie::StaleEwsId && st.file_message(&u.email, &imm, SYNC_FOLDER).is_err() {
                continue;
            }
            let ext_key = match tie {
                Tie::EwsId | Tie::StaleEwsId => ids::ews_id(&before.rest_id),
                Tie::EntryId => ids::hex_entry_id(&imm),
                _ => String::new(),
            };
            let local = received.to_zoned_datetime(TimeZone::UTC);
            legacy.push(LegacyItem {
                mailbox: u.email.clone(),
                content_type: "application/x-mmRecord".into(),
                ext_key,
                subject: subject.clone(),
                date: local.date().to_string(),
                time: format!("{:02}:{:02}", local.hour(), local.minute()),
                attendees: attendees.clone(),
            });
            items.push(MigratedItem {
                mailbox: u.email.clone(),
                item: "message",
                graph_id: imm,
                subject,
                tie,
            });
        }
    }
    let kept = prepare_kept(shared, &users, &mut items);
    (legacy, kept, items)
}

/// The key the previous connector left for an item tied by `tie`.
fn key_of(tie: Tie, imm: &str, rest: &str) -> String {
    match tie {
        Tie::EwsId | Tie::StaleEwsId => ids::ews_id(rest),
        Tie::EntryId => ids::hex_entry_id(imm),
        Tie::ICalUId | Tie::ContentOnly => String::new(),
    }
}

/// Contacts, absence events and To Do tasks the previous connector kept for CRM records of
/// `users`' reps, and those records.
fn prepare_kept(
    shared: &Shared,
    users: &[Person],
    items: &mut Vec<MigratedItem>,
) -> Vec<LegacyRecord> {
    let dir: &Directory = &shared.directory;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(TimeZone::UTC)
        .date();
    // The CRM seed makes member `m` the responsible rep of every company `c` with
    // `c % members == m`, and persons of the guests and most externals (see `crm::seed`).
    let members: Vec<&Person> = dir
        .users
        .iter()
        .filter(|p| matches!(p.kind, PersonKind::Member { .. }))
        .collect();
    let n = members.len().max(1);
    let persons: Vec<&Person> = dir.crm_persons().collect();
    let ties = [Tie::EwsId, Tie::EntryId, Tie::ContentOnly];
    let mut kept = Vec::new();
    for u in users {
        let Some(m) = members.iter().position(|p| p.email == u.email) else {
            continue;
        };
        let mut t = shared.lock_tenant();
        let Some(ui) = t.user_index(&u.email) else {
            continue;
        };
        let mine = persons
            .iter()
            .filter(|p| p.company.is_some_and(|c| c % n == m))
            .take(ties.len());
        for (p, tie) in mine.zip(ties) {
            let name = format!("{} {}", p.given_name, p.surname);
            let Some((imm, rest)) = crate::graph::contacts::add_kept_contact(
                &mut t,
                ui,
                CONTACT_FOLDER,
                &name,
                &p.email,
            ) else {
                continue;
            };
            kept.push(LegacyRecord {
                mailbox: u.email.clone(),
                ext_key: key_of(tie, &imm, &rest),
                target: LegacyTarget::Person {
                    email: p.email.clone(),
                },
            });
            items.push(MigratedItem {
                mailbox: u.email.clone(),
                item: "contact",
                graph_id: imm,
                subject: name,
                tie,
            });
        }
        for (k, tie) in ties.into_iter().enumerate() {
            let days = |n: i64| today.checked_add((10 + 3 * k as i64 + n).days());
            let (Ok(first), Ok(last), Ok(after)) = (days(0), days(1), days(2)) else {
                continue;
            };
            let subject = format!("EWS-era leave {} of {}", k + 1, u.display_name);
            let Some((imm, rest)) =
                crate::graph::calendar::add_absence_event(&mut t, ui, &subject, first, after)
            else {
                continue;
            };
            kept.push(LegacyRecord {
                mailbox: u.email.clone(),
                ext_key: key_of(tie, &imm, &rest),
                target: LegacyTarget::Absence {
                    start: first.to_string(),
                    end: last.to_string(),
                    kind: subject.clone(),
                },
            });
            items.push(MigratedItem {
                mailbox: u.email.clone(),
                item: "absence",
                graph_id: imm,
                subject,
                tie,
            });
        }
        for k in 0..2i64 {
            let Ok(due) = today.checked_add((1 + k).days()) else {
                continue;
            };
            let title = format!("EWS-era follow-up {} for {}", k + 1, u.display_name);
            let Some(id) = crate::graph::todo::add_kept_task(&mut t, ui, TASK_LIST, &title, due)
            else {
                continue;
            };
            kept.push(LegacyRecord {
                mailbox: u.email.clone(),
                ext_key: String::new(),
                target: LegacyTarget::Task {
                    subject: title.clone(),
                    due: due.to_string(),
                },
            });
            items.push(MigratedItem {
                mailbox: u.email.clone(),
                item: "task",
                graph_id: id,
                subject: title,
                tie: Tie::ContentOnly,
            });
        }
    }
    kept
}
