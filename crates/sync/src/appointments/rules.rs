//! The `[appointments]` rules and what else the kind is configured with (the CRM names, the
//! forms.xml vevent form and missing-attendees block, the managed domains).

use gc_crm::Dialect;
use gc_crm::forms::MissingAttendees;

/// How appointments are synchronized.
#[derive(Debug, Clone)]
pub struct AppointmentRules {
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

impl Default for AppointmentRules {
    fn default() -> Self {
        AppointmentRules {
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
