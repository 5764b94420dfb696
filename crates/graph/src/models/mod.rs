//! Typed Graph resources.
//!
//! Every `$select`-able property is an `Option` (or `Option<Vec<_>>`), unknown properties are
//! ignored, and absent values are not serialised, so the same structs serve as PATCH/POST bodies
//! (set only what you want to change). Field names follow Graph's camelCase.

/// Declares a model struct: every field gets `default` and is skipped when serialising if it is
/// the default value (absent), so partial objects round-trip and double as request bodies.
macro_rules! model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "crate::models::is_default")]
                pub $field: $ty,
            )*
        }
    };
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

mod category;
mod common;
mod contact;
mod event;
mod mail;
mod todo;
mod user;

pub use category::OutlookCategory;
pub use common::{
    DateTimeTimeZone, EmailAddress, InternetMessageHeader, ItemBody, PhysicalAddress, Recipient,
    SingleValueExtendedProperty,
};
pub use contact::{Contact, ContactFolder};
pub use event::{
    Attendee, Event, EventTime, EventType, Location, PatternedRecurrence, RecurrencePattern,
    RecurrenceRange, ResponseStatus,
};
pub use mail::{Attachment, AttachmentKind, FollowupFlag, MailFolder, Message};
pub use todo::{LinkedResource, TodoTask, TodoTaskList};
pub use user::User;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::{DeltaItem, decode_delta};

    #[test]
    fn message_with_everything_decodes_and_ignores_unknown_fields() {
        let v = serde_json::json!({
            "@odata.etag": "W/\"CQAAABYAAAC4\"",
            "id": "AAMkAD-_x/y+z=",
            "changeKey": "CQAAABYAAAC4",
            "categories": ["CRM"],
            "receivedDateTime": "2024-07-15T14:30:00Z",
            "parentFolderId": "inbox-id",
            "subject": "Offer",
            "body": {"contentType": "html", "content": "<p>hi <img src=\"cid:logo\"></p>"},
            "from": {"emailAddress": {"name": "A", "address": "a@x.com"}},
            "toRecipients": [{"emailAddress": {"address": "b@y.com"}}],
            "ccRecipients": [],
            "conversationId": "conv-1",
            "internetMessageId": "<m1@x.com>",
            "internetMessageHeaders": [{"name": "X-Mailer", "value": "Outlook"}],
            "isRead": false,
            "flag": {"flagStatus": "notFlagged"},
            "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId", "value": "123"}],
            "attachments": [
                {"@odata.type": "#microsoft.graph.fileAttachment", "id": "a1", "name": "logo.png", "contentType": "image/png", "size": 3, "isInline": true, "contentId": "logo", "contentBytes": "AQID"},
                {"@odata.type": "#microsoft.graph.itemAttachment", "id": "a2", "name": "fwd", "item": {"@odata.type": "#microsoft.graph.message", "subject": "inner"}}
            ],
            "someFutureProperty": {"nested": true}
        });
        let m: Message = serde_json::from_value(v).unwrap();
        assert_eq!(m.id, "AAMkAD-_x/y+z=");
        assert!(m.body.as_ref().unwrap().is_html());
        assert_eq!(m.from.as_ref().unwrap().smtp(), Some("a@x.com"));
        assert_eq!(m.to_recipients.as_ref().unwrap()[0].smtp(), Some("b@y.com"));
        assert_eq!(m.header("x-mailer"), Some("Outlook"));
        assert_eq!(
            m.extended_property("string {66F5A359-4659-4830-9070-00040EC6AC6E} name crmid"),
            Some("123")
        );
        assert_eq!(
            m.received().unwrap(),
            "2024-07-15T14:30:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        let atts = m.attachments.as_ref().unwrap();
        assert_eq!(atts[0].kind(), AttachmentKind::File);
        assert_eq!(atts[0].decode_content().unwrap().unwrap(), vec![1, 2, 3]);
        assert_eq!(atts[0].content_id.as_deref(), Some("logo"));
        assert_eq!(atts[1].kind(), AttachmentKind::Item);
        assert_eq!(atts[1].item.as_ref().unwrap()["subject"], "inner");
        // Serialising a partial model only emits what is set.
        let patch = Message {
            categories: Some(vec!["CRM".into()]),
            is_read: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            serde_json::json!({"categories": ["CRM"], "isRead": true})
        );
    }

    #[test]
    fn selected_subset_decodes() {
        let m: Message =
            serde_json::from_value(serde_json::json!({"id": "m", "subject": null})).unwrap();
        assert_eq!(m.subject, None);
        assert_eq!(m.body, None);
    }

    #[test]
    fn events_convert_to_instants_and_dates() {
        let timed: Event = serde_json::from_value(serde_json::json!({
            "id": "e1",
            "type": "exception",
            "seriesMasterId": "master",
            "iCalUId": "040000008200E00074C5B7101A82E008",
            "isAllDay": false,
            "start": {"dateTime": "2024-03-31T02:30:00.0000000", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2024-03-31T04:00:00.0000000", "timeZone": "W. Europe Standard Time"},
            "organizer": {"emailAddress": {"address": "o@x.com"}},
            "attendees": [{"type": "required", "status": {"response": "accepted", "time": "0001-01-01T00:00:00Z"}, "emailAddress": {"address": "p@x.com"}}],
            "recurrence": null
        }))
        .unwrap();
        assert_eq!(timed.event_type, Some(EventType::Exception));
        assert_eq!(
            timed.ical_uid.as_deref(),
            Some("040000008200E00074C5B7101A82E008")
        );
        assert_eq!(
            timed.attendees.as_ref().unwrap()[0]
                .attendee_type
                .as_deref(),
            Some("required")
        );
        assert_eq!(
            timed.time().unwrap(),
            EventTime::Timed {
                start: "2024-03-31T01:30:00Z".parse().unwrap(),
                end: "2024-03-31T02:00:00Z".parse().unwrap(),
            }
        );

        let all_day: Event = serde_json::from_value(serde_json::json!({
            "id": "e2",
            "type": "seriesMaster",
            "isAllDay": true,
            "start": {"dateTime": "2024-12-24T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2024-12-27T00:00:00.0000000", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "sunday"},
                "range": {"type": "endDate", "startDate": "2024-12-24", "endDate": "2025-03-01", "recurrenceTimeZone": "W. Europe Standard Time"}
            }
        }))
        .unwrap();
        assert_eq!(
            all_day.time().unwrap(),
            EventTime::AllDay {
                start: jiff::civil::date(2024, 12, 24),
                end: jiff::civil::date(2024, 12, 27),
            }
        );
        let rec = all_day.recurrence.unwrap();
        assert_eq!(rec.pattern.unwrap().days_of_week.unwrap(), vec!["tuesday"]);
        assert_eq!(rec.range.unwrap().range_type.as_deref(), Some("endDate"));

        let future: Event =
            serde_json::from_value(serde_json::json!({"id": "e3", "type": "somethingNew"}))
                .unwrap();
        assert_eq!(future.event_type, Some(EventType::Unknown));
    }

    #[test]
    fn other_resources_decode() {
        let u: User = serde_json::from_value(serde_json::json!({
            "id": "u1", "mail": "Ann@X.com", "proxyAddresses": ["SMTP:ann@x.com", "smtp:a.b@x.com", "X500:/o=x"]
        }))
        .unwrap();
        assert_eq!(u.smtp_addresses(), vec!["ann@x.com", "a.b@x.com"]);
        let f: MailFolder = serde_json::from_value(
            serde_json::json!({"id": "f", "displayName": "Inbox", "childFolderCount": 2}),
        )
        .unwrap();
        assert_eq!(f.child_folder_count, Some(2));
        let c: Contact = serde_json::from_value(serde_json::json!({
            "id": "c", "givenName": "A", "emailAddresses": [{"name": "A", "address": "a@x.com"}],
            "businessAddress": {"city": "Berlin"}
        }))
        .unwrap();
        assert_eq!(c.business_address.unwrap().city.as_deref(), Some("Berlin"));
        let t: TodoTask = serde_json::from_value(serde_json::json!({
            "id": "t", "title": "Call", "status": "notStarted",
            "dueDateTime": {"dateTime": "2020-08-25T00:00:00.0000000", "timeZone": "UTC"},
            "linkedResources": [{"id": "l", "applicationName": "CRM", "externalId": "42"}]
        }))
        .unwrap();
        assert_eq!(t.due_date(), Some(jiff::civil::date(2020, 8, 25)));
        assert_eq!(
            t.linked_resources.unwrap()[0].external_id.as_deref(),
            Some("42")
        );
        let l: TodoTaskList = serde_json::from_value(
            serde_json::json!({"id": "l", "wellknownListName": "defaultList"}),
        )
        .unwrap();
        assert_eq!(l.wellknown_list_name.as_deref(), Some("defaultList"));
        let cat: OutlookCategory = serde_json::from_value(
            serde_json::json!({"id": "c", "displayName": "CRM", "color": "preset9"}),
        )
        .unwrap();
        assert_eq!(cat.color.as_deref(), Some("preset9"));
        let cf: ContactFolder =
            serde_json::from_value(serde_json::json!({"id": "cf", "displayName": "CRM"})).unwrap();
        assert_eq!(cf.display_name.as_deref(), Some("CRM"));
    }

    #[test]
    fn removed_event_in_delta() {
        let d = decode_delta::<Event>(
            serde_json::json!({"id": "e", "@removed": {"reason": "deleted"}}),
        )
        .unwrap();
        assert!(matches!(d, DeltaItem::Removed { .. }));
    }

    #[test]
    fn utc_and_date_builders() {
        let d = DateTimeTimeZone::utc("2024-07-15T14:30:00Z".parse().unwrap());
        assert_eq!(d.date_time, "2024-07-15T14:30:00.0000000");
        assert_eq!(
            d.to_timestamp().unwrap(),
            "2024-07-15T14:30:00Z".parse::<jiff::Timestamp>().unwrap()
        );
        let a = DateTimeTimeZone::date(jiff::civil::date(2024, 1, 2), "W. Europe Standard Time");
        assert_eq!(a.date_time, "2024-01-02T00:00:00.0000000");
    }
}
