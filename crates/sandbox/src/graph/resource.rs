//! Names of Graph resources for the request counter and trip wires: the path without user keys
//! and item ids, reduced to the collection it addresses plus the function or action called on
//! it (`/users/{u}/mailFolders/{id}/messages/delta` → `messages.delta`,
//! `/users/{u}/messages/{id}/move` → `messages.move`).

/// Collections and navigation properties, in Graph's spelling.
const COLLECTIONS: &[&str] = &[
    "mailFolders",
    "childFolders",
    "messages",
    "attachments",
    "events",
    "calendar",
    "calendars",
    "calendarView",
    "instances",
    "contacts",
    "contactFolders",
    "todo",
    "lists",
    "tasks",
    "linkedResources",
    "checklistItems",
    "outlook",
    "masterCategories",
    "mailboxSettings",
    "extensions",
    "sendMail",
    "translateExchangeIds",
    "getMemberGroups",
];

/// Functions and actions called on an item or collection, in Graph's spelling.
const ACTIONS: &[&str] = &[
    "delta",
    "move",
    "copy",
    "$value",
    "$count",
    "accept",
    "decline",
    "tentativelyAccept",
    "cancel",
    "reply",
    "replyAll",
    "forward",
    "send",
    "createUploadSession",
    "dismissReminder",
];

fn canonical(list: &[&'static str], seg: &str) -> Option<&'static str> {
    list.iter().copied().find(|c| c.eq_ignore_ascii_case(seg))
}

/// The resource name of a request path (segments after `/v1.0`, as `split_path` gives them).
pub(crate) fn name(segs: &[String]) -> String {
    let Some(first) = segs.first() else {
        return "other".to_owned();
    };
    if first.eq_ignore_ascii_case("$batch") {
        return "$batch".to_owned();
    }
    if !first.eq_ignore_ascii_case("users") {
        return first.to_ascii_lowercase();
    }
    // /users, /users/delta, /users/{u}
    match segs.get(1) {
        None => return "users".to_owned(),
        Some(s) if s.eq_ignore_ascii_case("delta") => return "users.delta".to_owned(),
        Some(_) if segs.len() == 2 => return "users".to_owned(),
        Some(_) => {}
    }
    let mut collection: Option<&str> = None;
    let mut action: Option<&str> = None;
    for seg in &segs[2..] {
        if let Some(c) = canonical(COLLECTIONS, seg) {
            collection = Some(c);
            action = None;
        } else if let Some(a) = canonical(ACTIONS, seg) {
            action = Some(a);
        }
    }
    match (collection, action) {
        (Some(c), Some(a)) => format!("{c}.{a}"),
        (Some(c), None) => c.to_owned(),
        (None, Some(a)) => format!("users.{a}"),
        (None, None) => "users".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::split_path;

    #[test]
    fn names_say_what_was_asked() {
        for (path, want) in [
            ("/users", "users"),
            ("/users?$filter=x", "users"),
            ("/users/delta", "users.delta"),
            ("/users/ann@contoso.example", "users"),
            ("/users/u1/mailFolders('inbox')", "mailFolders"),
            ("/users/u1/mailFolders/inbox/childFolders", "childFolders"),
            ("/users/u1/mailFolders/delta", "mailFolders.delta"),
            (
                "/users/u1/mailFolders/AAMk/messages/delta",
                "messages.delta",
            ),
            ("/users/u1/mailfolders/AAMk/messages", "messages"),
            ("/users/u1/messages/AAkAL%3D", "messages"),
            ("/users/u1/messages/AAkAL/move", "messages.move"),
            ("/users/u1/messages/AAkAL/$value", "messages.$value"),
            ("/users/u1/messages/AAkAL/attachments/AT1", "attachments"),
            ("/users/u1/sendMail", "sendMail"),
            ("/users/u1/calendarView/delta", "calendarView.delta"),
            ("/users/u1/events/E1/instances", "instances"),
            ("/users/u1/todo/lists/L1/tasks/delta", "tasks.delta"),
            ("/users/u1/outlook/masterCategories", "masterCategories"),
            ("/users/u1/translateExchangeIds", "translateExchangeIds"),
            ("/$batch", "$batch"),
            ("/me/messages", "me"),
        ] {
            let p = path.split('?').next().unwrap();
            assert_eq!(name(&split_path(p)), want, "{path}");
        }
    }
}
