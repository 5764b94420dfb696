//! To Do `todoTaskList`, `todoTask`, `linkedResource`.

use super::event::PatternedRecurrence;
use super::{DateTimeTimeZone, ItemBody};

model! {
    /// A To Do list.
    pub struct TodoTaskList {
        pub id: String,
        pub display_name: Option<String>,
        pub is_owner: Option<bool>,
        pub is_shared: Option<bool>,
        /// `none`, `defaultList`, `flaggedEmails`.
        pub wellknown_list_name: Option<String>,
    }
}

model! {
    /// A link from a task to an external record; used to stamp tasks with the CRM id because
    /// tasks have no extended properties.
    pub struct LinkedResource {
        pub id: String,
        pub web_url: Option<String>,
        pub application_name: Option<String>,
        pub display_name: Option<String>,
        pub external_id: Option<String>,
    }
}

model! {
    /// A To Do task.
    pub struct TodoTask {
        pub id: String,
        #[serde(rename = "@odata.etag")]
        pub etag: Option<String>,
        pub title: Option<String>,
        pub body: Option<ItemBody>,
        /// `notStarted`, `inProgress`, `completed`, `waitingOnOthers`, `deferred`.
        pub status: Option<String>,
        /// `low`, `normal`, `high`.
        pub importance: Option<String>,
        pub categories: Option<Vec<String>>,
        pub is_reminder_on: Option<bool>,
        pub created_date_time: Option<String>,
        pub last_modified_date_time: Option<String>,
        pub body_last_modified_date_time: Option<String>,
        pub due_date_time: Option<DateTimeTimeZone>,
        pub start_date_time: Option<DateTimeTimeZone>,
        pub completed_date_time: Option<DateTimeTimeZone>,
        pub reminder_date_time: Option<DateTimeTimeZone>,
        pub recurrence: Option<PatternedRecurrence>,
        pub has_attachments: Option<bool>,
        pub linked_resources: Option<Vec<LinkedResource>>,
    }
}

impl TodoTask {
    /// The due date as a calendar date (To Do due dates are date-only; the time is dropped).
    pub fn due_date(&self) -> Option<jiff::civil::Date> {
        self.due_date_time.as_ref()?.civil().ok().map(|d| d.date())
    }
}
