//! What a request touches ([`Area`]: directory, mail, calendar, â¦) and the application roles it
//! needs for reading or writing there, answered with the error code each Graph workload uses.
//! Apart from the pipeline because it is a table, not a step.

use crate::auth::AccessClaims;
use crate::error::{GResult, GraphError};
use axum::http::StatusCode;

/// What a request touches, for permissions and throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Area {
    Directory,
    Mail,
    SendMail,
    Calendar,
    Contacts,
    Tasks,
    MailboxSettings,
    Batch,
    Other,
}

pub(super) fn area_of(segs: &[String]) -> Area {
    let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    match l.first().map(String::as_str) {
        Some("$batch") => Area::Batch,
        Some("users") if l.len() <= 2 => Area::Directory,
        Some("users") => match l[2].as_str() {
            "mailfolders" | "messages" => Area::Mail,
            "sendmail" => Area::SendMail,
            "events" | "calendar" | "calendars" | "calendarview" => Area::Calendar,
            "contacts" | "contactfolders" => Area::Contacts,
            "todo" => Area::Tasks,
            "outlook" | "mailboxsettings" => Area::MailboxSettings,
            "translateexchangeids" => Area::Mail,
            "delta" => Area::Directory,
            _ => Area::Other,
        },
        _ => Area::Other,
    }
}

pub(super) fn check_permission(area: Area, write: bool, claims: &AccessClaims) -> GResult<()> {
    let (need, code, msg): (&[&str], &'static str, &str) = match (area, write) {
        (Area::Directory, false) => (
            &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "User.ReadBasic.All",
            ],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        (Area::Directory, true) => (
            &["User.ReadWrite.All", "Directory.ReadWrite.All"],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        (Area::Mail, false) => (
            &[
                "Mail.Read",
                "Mail.ReadWrite",
                "Mail.ReadBasic",
                "Mail.ReadBasic.All",
            ],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Mail, true) => (
            &["Mail.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::SendMail, _) => (
            &["Mail.Send"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Calendar, false) => (
            &["Calendars.Read", "Calendars.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Calendar, true) => (
            &["Calendars.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Contacts, false) => (
            &["Contacts.Read", "Contacts.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Contacts, true) => (
            &["Contacts.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Tasks, false) => (
            &["Tasks.Read.All", "Tasks.ReadWrite.All"],
            "accessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Tasks, true) => (
            &["Tasks.ReadWrite.All"],
            "accessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::MailboxSettings, false) => (
            &["MailboxSettings.Read", "MailboxSettings.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::MailboxSettings, true) => (
            &["MailboxSettings.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Batch | Area::Other, _) => return Ok(()),
    };
    if claims.has_any(need) {
        Ok(())
    } else {
        Err(GraphError::new(StatusCode::FORBIDDEN, code, msg))
    }
}

/// POSTs that only read (delta-like functions) need read permission only.
pub(super) fn is_read_post(segs: &[String]) -> bool {
    segs.last()
        .is_some_and(|s| s.eq_ignore_ascii_case("getMemberGroups"))
}
