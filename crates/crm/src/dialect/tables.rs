//! The names of each table the connector reads and writes (rep, company, person, activity,
//! participant, task, absence, external key, document, catalog values), as
//! `[crm.dialect.<table>]`, and their defaults.

use serde::{Deserialize, Serialize};

use super::s;

/// Rep (ID) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepNames {
    pub table: String,
    pub short: String,
    /// The rep number other tables refer to (`Contact.RepID`).
    pub rep_id: String,
    pub name: String,
    /// ID E-mail1 (field 27).
    pub email: String,
    /// "Enable Connector settings".
    pub connector_enabled: String,
    /// "Synchronize e-mails".
    pub sync_emails: String,
    /// "Synchronize appointments".
    pub sync_appointments: String,
    /// Tasks flag.
    pub sync_tasks: String,
    /// Contacts flag.
    pub sync_contacts: String,
    /// Absences flag.
    pub sync_absences: String,
    /// UserSettings (`<SyncSettings>` XML).
    pub user_settings: String,
    /// Language of the rep (for the missing-attendees text).
    pub language: String,
}

/// Company (FI) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompanyNames {
    pub table: String,
    pub short: String,
    pub name: String,
    pub email: String,
    /// The responsible rep's number (the contacts kind selects the persons of the rep's
    /// companies by it); `""`: no such field, the rule then selects by activities only.
    pub rep_id: String,
    /// Address and phone, copied to the business address of synchronized contacts.
    pub street: String,
    pub zip_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change; not documented, like the others): with the person's, what tells the
    /// contacts' idle check that a rep's selection changed. `""`: no check, the contacts
    /// kind reads every rep's selection every cycle.
    pub updated: String,
}

/// Person (KP) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonNames {
    pub table: String,
    pub short: String,
    pub first_name: String,
    pub last_name: String,
    /// E-mail fields searched by address lookups.
    pub emails: Vec<String>,
    /// Job title, business phone and mobile phone (copied to synchronized contacts).
    pub job_title: String,
    pub phone: String,
    pub mobile_phone: String,
    /// The record's update stamp (see [`CompanyNames::updated`]).
    pub updated: String,
}

/// Activity (MA) names beyond the forms.xml vevent list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityNames {
    pub table: String,
    pub short: String,
    /// Activity type (catalog).
    pub contact_type: String,
    pub subject: String,
    pub text: String,
    pub date: String,
    pub time: String,
    pub end_date: String,
    pub end_time: String,
    pub rep_id: String,
    pub deleted: String,
    /// Update stamp CRM writes on every change (text that sorts in time order): lets the
    /// appointments kind read only what changed, and tell which side changed last. `""`: the
    /// installation has none (every run then reads the whole window).
    pub updated: String,
    /// A free text field of the activity that the connector's first insert fills with a
    /// marker derived from the item's global key, so that an activity written just before a
    /// crash (before its external key) is found again by it. `""` (the default: Aurea names
    /// no such field, and a free field may be in use) means none: recovery then compares rep,
    /// date, time, subject and text, and `check` says so.
    pub marker: String,
}

/// Participant (MB) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParticipantNames {
    pub table: String,
    pub short: String,
    pub email: String,
    pub role: String,
    pub status: String,
}

/// Task (A1) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskNames {
    pub table: String,
    pub short: String,
    pub rep_id: String,
    pub subject: String,
    pub text: String,
    pub start_date: String,
    pub due_date: String,
    pub status: String,
    pub priority: String,
    pub percent_complete: String,
    /// Reminder date and time (wall clock in `[crm] time_zone`); `""`: the table has none.
    pub reminder_date: String,
    pub reminder_time: String,
    /// Set (boolean) when the task was deleted in Microsoft To Do: the connector never
    /// deletes a CRM task. `""`: the table has no such field; the deletion is then only
    /// recorded in the ledger and the task is not sent again.
    pub deleted: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change), so that the tasks changed since a checkpoint can be asked for. `""`: none;
    /// the whole window is then read on every run.
    pub updated: String,
}

/// Absence (A3) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbsenceNames {
    pub table: String,
    pub short: String,
    pub rep_id: String,
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
    pub kind: String,
    pub text: String,
    /// The record's update stamp (text that sorts in time order, written by CRM on every
    /// change), so that an idle cycle can tell without reading the absences whether the
    /// rep's absences in the window changed. `""`: none; every run reads the window.
    pub updated: String,
}

/// External key (XK) layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalKeyNames {
    pub table: String,
    pub short: String,
    /// Catalog "Ext. System (Rep)".
    pub ext_system: String,
    /// Catalog "Content Type (groupware)".
    pub content_type: String,
    /// The groupware id (e.g. an event id or internetMessageId).
    pub ext_key: String,
    /// E-mail of the mailbox the key belongs to.
    pub mailbox: String,
    /// Our own system value in "Ext. System (Rep)".
    pub own_system: String,
}

/// Document (D1) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentNames {
    pub table: String,
    pub short: String,
    pub file_name: String,
    pub content_type: String,
    pub size: String,
    /// Content field, written as base64 with `encoding="base64"`.
    pub content: String,
}

/// Catalog access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogNames {
    /// Pseudo-table through which catalog values are queried and inserted.
    pub table: String,
    pub catalog: String,
    pub code: String,
    pub text: String,
    pub ext_key: String,
    /// Catalog "Content Type (groupware)".
    pub content_type_catalog: String,
    /// Catalog "Ext. System (Rep)".
    pub ext_system_catalog: String,
    /// The activity type catalog (MA `Contact` field).
    pub activity_type_catalog: String,
    /// The ShowAs catalog.
    pub show_as_catalog: String,
}

impl Default for RepNames {
    fn default() -> Self {
        Self {
            table: s("Rep"),
            short: s("ID"),
            rep_id: s("RepID"),
            name: s("Name"),
            email: s("EMail1"),
            connector_enabled: s("ConnectorEnabled"),
            sync_emails: s("SyncEmails"),
            sync_appointments: s("SyncAppointments"),
            sync_tasks: s("SyncTasks"),
            sync_contacts: s("SyncContacts"),
            sync_absences: s("SyncAbsences"),
            user_settings: s("UserSettings"),
            language: s("Language"),
        }
    }
}

impl Default for CompanyNames {
    fn default() -> Self {
        Self {
            table: s("Company"),
            short: s("FI"),
            name: s("Company"),
            email: s("EMail"),
            rep_id: s("RepID"),
            street: s("Street"),
            zip_code: s("ZipCode"),
            city: s("City"),
            country: s("Country"),
            phone: s("Phone"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for PersonNames {
    fn default() -> Self {
        Self {
            table: s("Person"),
            short: s("KP"),
            first_name: s("FirstName"),
            last_name: s("LastName"),
            emails: vec![s("EMail1"), s("EMail2")],
            job_title: s("JobTitle"),
            phone: s("Phone"),
            mobile_phone: s("MobilePhone"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for ActivityNames {
    fn default() -> Self {
        Self {
            table: s("Contact"),
            short: s("MA"),
            contact_type: s("Contact"),
            subject: s("Subject"),
            text: s("Text"),
            date: s("Date"),
            time: s("Time"),
            end_date: s("EndDate"),
            end_time: s("EndTime"),
            rep_id: s("RepID"),
            deleted: s("ConnectorDeleted"),
            updated: s("UpdTimestamp"),
            marker: String::new(),
        }
    }
}

impl Default for ParticipantNames {
    fn default() -> Self {
        Self {
            table: s("Participant"),
            short: s("MB"),
            email: s("EMail"),
            role: s("Role"),
            status: s("Status"),
        }
    }
}

impl Default for TaskNames {
    fn default() -> Self {
        Self {
            table: s("Tasks"),
            short: s("A1"),
            rep_id: s("RepID"),
            subject: s("Subject"),
            text: s("Text"),
            start_date: s("StartDate"),
            due_date: s("DueDate"),
            status: s("Status"),
            priority: s("Priority"),
            percent_complete: s("PercentComplete"),
            reminder_date: s("ReminderDate"),
            reminder_time: s("ReminderTime"),
            deleted: s("ConnectorDeleted"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for AbsenceNames {
    fn default() -> Self {
        Self {
            table: s("Absences"),
            short: s("A3"),
            rep_id: s("RepID"),
            start_date: s("StartDate"),
            start_time: s("StartTime"),
            end_date: s("EndDate"),
            end_time: s("EndTime"),
            kind: s("Type"),
            text: s("Text"),
            updated: s("UpdTimestamp"),
        }
    }
}

impl Default for ExternalKeyNames {
    fn default() -> Self {
        Self {
            table: s("ExternalKey"),
            short: s("XK"),
            ext_system: s("ExtSystem"),
            content_type: s("ContentType"),
            ext_key: s("ExtKey"),
            mailbox: s("Mailbox"),
            own_system: s("GraphApi"),
        }
    }
}

impl Default for DocumentNames {
    fn default() -> Self {
        Self {
            table: s("Document"),
            short: s("D1"),
            file_name: s("FileName"),
            content_type: s("ContentType"),
            size: s("Size"),
            content: s("Content"),
        }
    }
}

impl Default for CatalogNames {
    fn default() -> Self {
        Self {
            table: s("CatalogValue"),
            catalog: s("Catalog"),
            code: s("Code"),
            text: s("Text"),
            ext_key: s("ExtKey"),
            content_type_catalog: s("Content Type (groupware)"),
            ext_system_catalog: s("Ext. System (Rep)"),
            activity_type_catalog: s("Activity Type"),
            show_as_catalog: s("ShowAs"),
        }
    }
}
