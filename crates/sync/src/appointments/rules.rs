//! The `[appointments]` rules and what else the kind is configured with (the CRM names, the
//! forms.xml vevent form and missing-attendees block, the managed domains).

use gc_crm::Dialect;
use gc_crm::forms::MissingAttendees;

/// Which side wins when both changed the same appointment since the last sync
/// (`[appointments] conflict`); the losing version is kept in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The event wins.
    Microsoft365,
    /// The CRM appointment wins.
    Crm,
    /// The side changed last wins (the event's `lastModifiedDateTime` against CRM's update
    /// stamp); without both times, the event wins.
    Newest,
}

/// Which ways appointments travel (`[appointments] direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Events to CRM and CRM appointments to events.
    Both,
    /// Only events to CRM.
    Microsoft365ToCrm,
}

/// How appointments are synchronized.
#[derive(Debug, Clone)]
pub struct AppointmentRules {
    /// Which ways appointments travel.
    pub direction: Direction,
    /// The both-changed rule.
    pub conflict: Conflict,
    /// The CRM source reads only what changed since its last run, and walks the whole window
    /// (which finds appointments deleted in CRM) at least this often.
    pub full_walk_every: std::time::Duration,
    /// forms.xml's `ExchangeConnector_VeventFilter` condition: CRM appointments that fail it
    /// are not written to calendars (and one marked `ConnectorDeleted` removes its event).
    pub vevent_filter: Option<gc_crm::codec::Condition>,
    /// Length of an event made from a CRM appointment that has a start time but neither an
    /// end nor a duration.
    pub default_minutes: i64,
    /// Days before today in the window.
    pub days_past: u32,
    /// Days after today in the window.
    pub days_future: u32,
    /// Activity types synchronized (catalog texts; empty: all): an existing appointment of
    /// another type is left alone.
    pub types: Vec<String>,
    /// Activity type of appointments written from Microsoft 365.
    pub activity_type: String,
    /// Propagate deletions.
    pub sync_deletions: bool,
    /// Only for events starting within this many days of now.
    pub deletion_window_days: u32,
    /// Synchronize private events (they stay private).
    pub sync_private: bool,
    /// forms.xml `delete_sync_process_410`: a deletion in the mailbox marks the activity
    /// `ConnectorDeleted` (true without forms.xml).
    pub delete_410: bool,
    /// forms.xml's vevent form fields of the activity table: only these are written (`None`:
    /// no forms.xml, every configured field is).
    pub form_fields: Option<Vec<String>>,
    /// The missing-attendees block.
    pub missing: MissingAttendees,
    /// Language of texts written into CRM (the rep's, else this).
    pub language: String,
    /// Domains whose addresses belong to the tenant (lower case).
    pub managed_domains: Vec<String>,
    /// The CRM's time zone.
    pub time_zone: jiff::tz::TimeZone,
    /// The CRM names.
    pub dialect: Dialect,
}

impl AppointmentRules {
    /// Minutes per reminder unit: only the minutes unit (or none) is known; any other unit
    /// leaves the reminder alone.
    pub fn reminder_minutes(&self, unit: &str) -> Option<i64> {
        let minutes = &self.dialect.appointment.reminder_unit_minutes;
        (unit.trim().is_empty() || unit.trim().eq_ignore_ascii_case(minutes)).then_some(1)
    }

    /// Whether CRM appointments are written to calendars.
    pub fn crm_to_microsoft365(&self) -> bool {
        self.direction == Direction::Both
    }

    /// The activity fields the CRM source reads: everything the content and the rules need,
    /// and every field the VeventFilter condition names.
    pub fn read_fields(&self) -> Vec<String> {
        let d = &self.dialect.activity;
        let m = &self.dialect.appointment;
        let mut v: Vec<String> = [
            &d.contact_type,
            &d.subject,
            &d.text,
            &d.date,
            &d.time,
            &d.end_date,
            &d.end_time,
            &d.rep_id,
            &d.deleted,
            &d.updated,
            &m.location,
            &m.body,
            &m.private,
            &m.show_as,
            &m.priority,
            &m.reminder_duration,
            &m.reminder_unit,
            &m.duration,
            &m.published,
            &m.is_master,
            &m.is_serial,
        ]
        .into_iter()
        .filter(|f| !f.is_empty())
        .cloned()
        .collect();
        if let Some(c) = &self.vevent_filter {
            condition_fields(c, &d.table, &mut v);
        }
        v.sort();
        v.dedup();
        v
    }
    /// `sync_private` for `owner`: the rep's `UserSettings` (`AppointSync_Ex2Up/@SyncPrivate`)
    /// over `[appointments] sync_private`.
    pub fn sync_private_for(&self, owner: &crate::engine::Owner) -> bool {
        owner.settings.sync_private.unwrap_or(self.sync_private)
    }

    /// Whether an activity field is written: a configured name, and (with forms.xml) one of
    /// the vevent form's fields.
    pub fn writes(&self, field: &str) -> bool {
        !field.is_empty()
            && self
                .form_fields
                .as_ref()
                .is_none_or(|f| f.iter().any(|x| x.eq_ignore_ascii_case(field)))
    }

    /// Whether an activity type is synchronized.
    pub fn type_synced(&self, contact_type: &str) -> bool {
        self.types.is_empty()
            || self
                .types
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case(contact_type.trim()))
    }

    /// Whether an address is inside the managed domains (any address when none are set).
    pub fn is_managed(&self, address: &str) -> bool {
        let domain = address.rsplit('@').next().unwrap_or_default();
        self.managed_domains.is_empty()
            || self
                .managed_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
    }
}

fn condition_fields(c: &gc_crm::codec::Condition, table: &str, out: &mut Vec<String>) {
    match c {
        gc_crm::codec::Condition::Cond {
            tablename,
            fieldname,
            ..
        } => {
            if tablename == table {
                out.push(fieldname.clone());
            }
        }
        gc_crm::codec::Condition::Lop { items, .. } => {
            for i in items {
                condition_fields(i, table, out);
            }
        }
    }
}

impl Default for AppointmentRules {
    fn default() -> Self {
        AppointmentRules {
            direction: Direction::Both,
            conflict: Conflict::Newest,
            full_walk_every: std::time::Duration::from_secs(3600),
            vevent_filter: None,
            default_minutes: 30,
            days_past: 7,
            days_future: 7,
            types: Vec::new(),
            activity_type: "Meeting".into(),
            sync_deletions: true,
            deletion_window_days: 30,
            sync_private: true,
            delete_410: true,
            form_fields: None,
            missing: crate::email::rules::default_missing_attendees(),
            language: "en".into(),
            managed_domains: Vec::new(),
            time_zone: jiff::tz::TimeZone::UTC,
            dialect: Dialect::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Owner;
    use gc_crm::user_settings::SyncSettings;

    #[test]
    fn the_reps_user_settings_override_sync_private() {
        let owner = |sync_private| Owner {
            settings: SyncSettings {
                sync_private,
                ..Default::default()
            },
            ..Owner::anna()
        };
        let rules = AppointmentRules {
            sync_private: true,
            ..Default::default()
        };
        assert!(rules.sync_private_for(&owner(None)));
        assert!(!rules.sync_private_for(&owner(Some(false))));
        let off = AppointmentRules {
            sync_private: false,
            ..Default::default()
        };
        assert!(off.sync_private_for(&owner(Some(true))));
    }
}
