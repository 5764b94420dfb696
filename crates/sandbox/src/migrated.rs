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
//! Times are in UTC (events in zone `UTC`, messages received on the minute), and the
//! generated configuration sets `[crm] time_zone = "UTC"`, so a record's date and time are
//! what the item's start or receipt is.

use jiff::ToSpan;
use jiff::civil::Time;
use jiff::tz::TimeZone;

use crate::crm::LegacyItem;
use crate::ids;
use crate::people::Directory;
use crate::server::Shared;
use crate::store::{NewMessage, StateHandle};

/// The sync folder the migrated tenant's messages wait in (the connector's default).
pub const SYNC_FOLDER: &str = "Inbox/crm";

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
    /// `event` or `message`.
    pub item: &'static str,
    /// Its immutable id.
    pub graph_id: String,
    /// Its subject (unique in the tenant).
    pub subject: String,
    pub tie: Tie,
}

/// Adds the migrated items to the tenant and returns the CRM side's legacy records for them
/// (with the external keys the EWS connector would have left; an empty key = no key).
pub(crate) fn prepare(shared: &Shared) -> (Vec<LegacyItem>, Vec<MigratedItem>) {
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
    (legacy, items)
}
