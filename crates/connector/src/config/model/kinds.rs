//! The sections of the kinds of items synchronized (`[emails]`, `[appointments]`, `[tasks]`,
//! `[contacts]`, `[absences]`) with the choices each offers; one place to compare what the
//! kinds have in common (enabled, interval, window) and where they differ.

use serde::Deserialize;

/// What happens to a message's attachments when it is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentMode {
    None,
    All,
    /// Only attachments up to `max_attachment_kb`.
    Limited,
}

/// `[emails]`: filing messages from the sync folder as CRM activities.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Emails {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub sync_folder: String,
    pub create_sync_folder: bool,
    pub success_folder: String,
    pub failure_folder: String,
    pub activity_type: String,
    pub html_body: bool,
    pub max_body_chars: u32,
    pub strip_html_comments: bool,
    pub attachments: AttachmentMode,
    pub max_attachment_kb: u32,
    pub whole_message: bool,
    pub max_message_kb: u32,
    pub sync_when_owner_not_recipient: bool,
    pub validate_license: bool,
    pub categorize: bool,
    pub category: String,
    pub notify_user_on_failure: bool,
    /// Tell the user when a filed message's body was cut at `max_body_chars`.
    pub warn_user_on_truncated_body: bool,
    /// Tell the user when an attachment of a filed message was not stored.
    pub warn_user_on_skipped_attachment: bool,
}

impl Default for Emails {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            sync_folder: "/Inbox/crm".into(),
            create_sync_folder: true,
            success_folder: "Sync_Success".into(),
            failure_folder: "Sync_Failure".into(),
            activity_type: "E-Mail".into(),
            html_body: true,
            max_body_chars: 32_000,
            strip_html_comments: true,
            attachments: AttachmentMode::All,
            max_attachment_kb: 10_240,
            whole_message: false,
            max_message_kb: 25_600,
            sync_when_owner_not_recipient: false,
            validate_license: false,
            categorize: true,
            category: "Aurea CRM".into(),
            notify_user_on_failure: true,
            warn_user_on_truncated_body: true,
            warn_user_on_skipped_attachment: true,
        }
    }
}

/// `[appointments]`: calendar events, both ways, within a window.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Appointments {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub types: Vec<String>,
    /// Activity type of appointments written from Microsoft 365 (catalog text).
    pub activity_type: String,
    pub sync_deletions: bool,
    pub deletion_window_days: u32,
    pub sync_private: bool,
    /// Which ways appointments travel.
    pub direction: AppointmentDirection,
    /// Which side wins when both changed.
    pub conflict: AppointmentConflict,
    /// How often the CRM source walks the whole window (which finds CRM deletions).
    pub full_walk_minutes: u32,
    /// Length of an event made from a CRM appointment without an end or a duration.
    pub default_duration_minutes: u32,
}

/// `[appointments] direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentDirection {
    /// Both ways.
    #[default]
    Both,
    /// Events to CRM only.
    #[serde(rename = "microsoft365_to_crm")]
    Microsoft365ToCrm,
}

/// `[appointments] conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentConflict {
    /// The event wins.
    #[serde(rename = "microsoft365")]
    Microsoft365,
    /// The CRM appointment wins.
    Crm,
    /// The side changed last wins.
    #[default]
    Newest,
}

impl Default for Appointments {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            days_past: 7,
            days_future: 7,
            types: Vec::new(),
            activity_type: "Meeting".into(),
            sync_deletions: true,
            deletion_window_days: 30,
            sync_private: true,
            direction: AppointmentDirection::Both,
            conflict: AppointmentConflict::Newest,
            full_walk_minutes: 60,
            default_duration_minutes: 30,
        }
    }
}

/// Which way title and date edits of tasks flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskDirection {
    /// CRM → Microsoft To Do; only the status comes back.
    #[default]
    CrmToMicrosoft365,
    /// Title, start and due date edits in To Do go back to CRM too.
    Both,
}

/// `[tasks]`: CRM tasks to Microsoft To Do.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tasks {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub list_name: String,
    pub direction: TaskDirection,
    /// The window is walked in full (deletions in CRM found) at least this often.
    pub full_walk_minutes: u32,
    /// CRM status texts for To Do's statuses.
    pub status_not_started: String,
    pub status_in_progress: String,
    pub status_completed: String,
    pub status_waiting: String,
    pub status_deferred: String,
    /// CRM priority texts for To Do's high and low importance.
    pub priority_high: String,
    pub priority_low: String,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            days_past: 7,
            days_future: 7,
            list_name: "CRM".into(),
            direction: TaskDirection::default(),
            full_walk_minutes: 60,
            status_not_started: "Open".into(),
            status_in_progress: "In progress".into(),
            status_completed: "Completed".into(),
            status_waiting: "Waiting".into(),
            status_deferred: "Deferred".into(),
            priority_high: "High".into(),
            priority_low: "Low".into(),
        }
    }
}

/// Where synchronized CRM persons live in the rep's contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactTarget {
    Folder,
    Category,
}

/// `[contacts]`: CRM persons to the rep's contacts.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contacts {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub target: ContactTarget,
    pub folder_name: String,
    pub category: String,
    /// Select the persons of the companies whose responsible rep is the rep.
    pub responsible_companies: bool,
    /// Also select the persons of the rep's activities of the last N days (0: not).
    pub activity_days: u32,
}

impl Default for Contacts {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 1440,
            target: ContactTarget::Folder,
            folder_name: "CRM".into(),
            category: "CRM".into(),
            responsible_companies: true,
            activity_days: 90,
        }
    }
}

/// Free/busy status of an absence event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShowAs {
    Oof,
    Busy,
    Tentative,
    Free,
}

/// `[absences]`: CRM absences to calendar events.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Absences {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub days_past: u32,
    pub days_future: u32,
    pub show_as: ShowAs,
    /// The subject of an absence event whose absence has no type.
    pub subject: String,
}

impl Default for Absences {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 60,
            days_past: 7,
            days_future: 90,
            show_as: ShowAs::Oof,
            subject: "Absence".into(),
        }
    }
}
