//! What a request touches: the application [`Permission`]s the connector needs and the
//! [`ResourceKind`] of a request, which names the permission a 403 lacks.

use std::fmt;

/// The application permissions (app roles on Microsoft Graph) the connector needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Calendars.ReadWrite
    CalendarsReadWrite,
    /// Contacts.ReadWrite
    ContactsReadWrite,
    /// Directory.Read.All
    DirectoryReadAll,
    /// Mail.ReadWrite
    MailReadWrite,
    /// Tasks.ReadWrite.All
    TasksReadWriteAll,
    /// User.ReadWrite.All
    UserReadWriteAll,
    /// Mail.Send (optional: notifications are created as messages without it)
    MailSend,
    /// MailboxSettings.ReadWrite (optional: needed to create master categories)
    MailboxSettingsReadWrite,
}

impl Permission {
    /// The six permissions `check` requires.
    pub const REQUIRED: [Permission; 6] = [
        Permission::CalendarsReadWrite,
        Permission::ContactsReadWrite,
        Permission::DirectoryReadAll,
        Permission::MailReadWrite,
        Permission::TasksReadWriteAll,
        Permission::UserReadWriteAll,
    ];

    /// Permissions that are useful but not required.
    pub const OPTIONAL: [Permission; 2] =
        [Permission::MailSend, Permission::MailboxSettingsReadWrite];

    /// The role name as it appears in the token's `roles` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CalendarsReadWrite => "Calendars.ReadWrite",
            Self::ContactsReadWrite => "Contacts.ReadWrite",
            Self::DirectoryReadAll => "Directory.Read.All",
            Self::MailReadWrite => "Mail.ReadWrite",
            Self::TasksReadWriteAll => "Tasks.ReadWrite.All",
            Self::UserReadWriteAll => "User.ReadWrite.All",
            Self::MailSend => "Mail.Send",
            Self::MailboxSettingsReadWrite => "MailboxSettings.ReadWrite",
        }
    }

    /// Whether a role list grants this permission (a broader role counts).
    pub fn granted_by(self, roles: &[String]) -> bool {
        let has = |r: &str| roles.iter().any(|x| x.eq_ignore_ascii_case(r));
        match self {
            Self::DirectoryReadAll => has("Directory.Read.All") || has("Directory.ReadWrite.All"),
            other => has(other.as_str()),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which family of Graph resource a request touches. It decides the `Prefer` headers, the
/// permission named when Graph answers 403, and the `resource` field of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/users`
    Users,
    /// mail folders, messages, attachments, sendMail
    Mail,
    /// events, calendarView, instances
    Calendar,
    /// contacts, contact folders
    Contacts,
    /// To Do lists and tasks
    Todo,
    /// master categories
    Categories,
    /// `$batch`
    Batch,
    /// anything else
    Other,
}

impl ResourceKind {
    /// Short label used in logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Mail => "mail",
            Self::Calendar => "calendar",
            Self::Contacts => "contacts",
            Self::Todo => "todo",
            Self::Categories => "categories",
            Self::Batch => "batch",
            Self::Other => "other",
        }
    }

    /// The permission whose absence explains a 403 on this resource.
    pub fn permission(self) -> Permission {
        match self {
            Self::Users | Self::Other | Self::Batch => Permission::UserReadWriteAll,
            Self::Mail => Permission::MailReadWrite,
            Self::Categories => Permission::MailboxSettingsReadWrite,
            Self::Calendar => Permission::CalendarsReadWrite,
            Self::Contacts => Permission::ContactsReadWrite,
            Self::Todo => Permission::TasksReadWriteAll,
        }
    }

    /// Outlook resources need `Prefer: IdType="ImmutableId"` on every request so ids survive moves.
    pub fn wants_immutable_ids(self) -> bool {
        matches!(
            self,
            Self::Mail | Self::Calendar | Self::Contacts | Self::Categories
        )
    }

    /// Guess the kind from a Graph path (used for `$batch` sub-requests and stored links): the
    /// segment after `/users/{id}` decides, so a mailbox named `calendar@...` cannot confuse it.
    pub fn from_path(path: &str) -> Self {
        let path = path.split('?').next().unwrap_or(path).to_ascii_lowercase();
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let start = segs.iter().position(|s| *s == "users" || *s == "me");
        let Some(start) = start else {
            return if segs.contains(&"$batch") {
                Self::Batch
            } else {
                Self::Other
            };
        };
        let skip = if segs[start] == "me" { 1 } else { 2 };
        let Some(next) = segs.get(start + skip) else {
            return Self::Users;
        };
        // `mailFolders('inbox')` style segments.
        let next = next.split('(').next().unwrap_or(next);
        match next {
            "mailfolders" | "messages" | "sendmail" => Self::Mail,
            "events" | "calendar" | "calendars" | "calendarview" | "calendargroups" => {
                Self::Calendar
            }
            "contacts" | "contactfolders" => Self::Contacts,
            "todo" => Self::Todo,
            "outlook" => Self::Categories,
            _ => Self::Users,
        }
    }
}
