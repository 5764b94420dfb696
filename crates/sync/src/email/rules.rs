//! The rules of e-mail filing (`[emails]`, with the tenant's managed domains, time zone and
//! language, and forms.xml's missing-participants block). How mailboxes and items are worked
//! (concurrency, leases, retries) is the engine's [`RunPolicy`](crate::engine::RunPolicy). The
//! binary maps its configuration into both, so gc-sync never depends on the connector crate
//! and tests build them by hand.

use crate::engine::Owner;
use gc_crm::ParticipantRole;
use gc_crm::forms::{MissingAttendees, MissingLabels, MissingMode};

/// What happens to a message's attachments (`[emails] attachments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentPolicy {
    /// No attachment is stored.
    None,
    /// Every attachment is stored.
    All,
    /// Only attachments up to `max_bytes`; bigger ones are skipped with a warning.
    Limited {
        /// Largest attachment stored, in bytes.
        max_bytes: u64,
    },
}

/// How e-mails are filed (`[emails]`).
#[derive(Debug, Clone)]
pub struct EmailRules {
    /// Fully qualified sync folder path, e.g. `/Inbox/crm` (first segment may be well-known).
    pub sync_folder: String,
    /// Create the sync folder when it is missing.
    pub create_sync_folder: bool,
    /// Name of the success subfolder (below the sync folder).
    pub success_folder: String,
    /// Name of the failure subfolder (below the sync folder).
    pub failure_folder: String,
    /// Activity type (catalog text) of filed e-mails.
    pub activity_type: String,
    /// Store the HTML body (otherwise text).
    pub html_body: bool,
    /// Body cap in characters (0: no cap).
    pub max_body_chars: usize,
    /// Remove `<!-- ... -->` comments from HTML bodies.
    pub strip_html_comments: bool,
    /// Attachment policy (ignored with `whole_message`).
    pub attachments: AttachmentPolicy,
    /// Store the whole message (MIME `.eml`) up to this many bytes instead of attachments.
    pub whole_message: Option<u64>,
    /// File a message even if the owner is not among sender and recipients (BCC).
    pub sync_when_owner_not_recipient: bool,
    /// Before filing a mailbox's messages, make sure CRM.interface accepts to act for its rep
    /// (`[emails] validate_license`): a rep without a valid CRM licence is refused at
    /// impersonation, and the mailbox is then not worked (nothing moves to the failure folder).
    pub validate_license: bool,
    /// Outlook category set on filed messages (`None`: no colouring).
    pub category: Option<String>,
    /// Tell the user about failed messages.
    pub notify_user_on_failure: bool,
    /// Tell the user when a filed message's body was truncated (`max_body_chars`).
    pub warn_user_on_truncated_body: bool,
    /// Tell the user when an attachment of a filed message was not stored.
    pub warn_user_on_skipped_attachment: bool,
    /// Managed domains (lower case, without `@`): only these count as internal.
    pub managed_domains: Vec<String>,
    /// The missing-participants block (forms.xml `<options><vevent><missing_attendees>`).
    pub missing: MissingAttendees,
    /// Language of texts written into CRM when the rep has none.
    pub language: String,
    /// "Content Type (groupware)" of the external key of filed e-mails.
    pub content_type: String,
    /// Time zone of CRM dates and times.
    pub time_zone: jiff::tz::TimeZone,
}

impl EmailRules {
    /// The attachment policy for `owner`'s messages: the rep's `UserSettings` (`<EmailSync
    /// SyncAttach AttachSizeLimit>`) over `[emails] attachments`. `SyncAttach="false"` stores
    /// none; a size limit stores those up to it; `SyncAttach="true"` alone stores them all
    /// when the global policy stores none.
    pub fn attachments_for(&self, owner: &Owner) -> AttachmentPolicy {
        let s = &owner.settings;
        match (s.email_attachments, s.email_attachment_limit) {
            (Some(false), _) => AttachmentPolicy::None,
            (_, Some(max_bytes)) => AttachmentPolicy::Limited { max_bytes },
            (Some(true), None) if self.attachments == AttachmentPolicy::None => {
                AttachmentPolicy::All
            }
            _ => self.attachments,
        }
    }

    /// Whether `address` belongs to a managed domain.
    pub fn is_internal(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| {
            self.managed_domains
                .iter()
                .any(|m| m.eq_ignore_ascii_case(d))
        })
    }
}

impl Default for EmailRules {
    /// The seed defaults of SPEC §4.
    fn default() -> Self {
        EmailRules {
            sync_folder: "/Inbox/crm".into(),
            create_sync_folder: true,
            success_folder: "Sync_Success".into(),
            failure_folder: "Sync_Failure".into(),
            activity_type: "E-Mail".into(),
            html_body: true,
            max_body_chars: 32_000,
            strip_html_comments: true,
            attachments: AttachmentPolicy::All,
            whole_message: None,
            sync_when_owner_not_recipient: false,
            validate_license: false,
            category: Some("Aurea CRM".into()),
            notify_user_on_failure: true,
            warn_user_on_truncated_body: true,
            warn_user_on_skipped_attachment: true,
            managed_domains: Vec::new(),
            missing: default_missing_attendees(),
            language: "en".into(),
            content_type: "application/x-mmRecord".into(),
            time_zone: jiff::tz::TimeZone::UTC,
        }
    }
}

/// The missing-participants block used when no forms.xml is configured: the seed's English
/// and German labels, written into `MissingParticipants` with the connector flag set.
pub fn default_missing_attendees() -> MissingAttendees {
    let mut labels = std::collections::BTreeMap::new();
    labels.insert(
        "en".to_owned(),
        MissingLabels {
            header: "Participants not found in CRM:".into(),
            required: "Required: ".into(),
            optional: "Optional: ".into(),
            informational: "Informational: ".into(),
            unknown: "Unknown: ".into(),
        },
    );
    labels.insert(
        "de".to_owned(),
        MissingLabels {
            header: "Nicht im CRM gefundene Teilnehmer:".into(),
            required: "Erforderlich: ".into(),
            optional: "Optional: ".into(),
            informational: "Zur Information: ".into(),
            unknown: "Unbekannt: ".into(),
        },
    );
    MissingAttendees {
        flags: vec![(
            "Contact".into(),
            "ConnectorMissingparticipants".into(),
            "true".into(),
        )],
        field: "MissingParticipants".into(),
        mode: MissingMode::Replace,
        labels,
        separator: Some("; ".into()),
    }
}

/// The role a recipient list gives a participant.
pub fn role_of(list: RecipientList) -> ParticipantRole {
    match list {
        RecipientList::From | RecipientList::To => ParticipantRole::Required,
        RecipientList::Cc => ParticipantRole::Optional,
        RecipientList::Bcc => ParticipantRole::Informational,
    }
}

/// Where an address appeared in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecipientList {
    /// Sender.
    From,
    /// To.
    To,
    /// Cc.
    Cc,
    /// Bcc.
    Bcc,
}

#[cfg(test)]
mod tests {
    use super::*;
    use gc_crm::user_settings::SyncSettings;

    fn owner(settings: SyncSettings) -> Owner {
        Owner {
            settings,
            ..Owner::anna()
        }
    }

    #[test]
    fn the_reps_user_settings_choose_the_attachment_policy() {
        let limited = EmailRules {
            attachments: AttachmentPolicy::Limited { max_bytes: 100 },
            ..Default::default()
        };
        let none = EmailRules {
            attachments: AttachmentPolicy::None,
            ..Default::default()
        };
        let plain = owner(SyncSettings::default());
        assert_eq!(limited.attachments_for(&plain), limited.attachments);
        let off = owner(SyncSettings {
            email_attachments: Some(false),
            email_attachment_limit: Some(5),
            ..Default::default()
        });
        assert_eq!(limited.attachments_for(&off), AttachmentPolicy::None);
        let on = owner(SyncSettings {
            email_attachments: Some(true),
            ..Default::default()
        });
        assert_eq!(none.attachments_for(&on), AttachmentPolicy::All);
        assert_eq!(limited.attachments_for(&on), limited.attachments);
        let capped = owner(SyncSettings {
            email_attachment_limit: Some(2048),
            ..Default::default()
        });
        assert_eq!(
            none.attachments_for(&capped),
            AttachmentPolicy::Limited { max_bytes: 2048 }
        );
    }
}
