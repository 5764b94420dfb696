//! Complex types shared by several resources.

use crate::tz::{self, TimeError};

model! {
    /// `emailAddress`: a name and an SMTP address.
    pub struct EmailAddress {
        pub name: Option<String>,
        pub address: Option<String>,
    }
}

model! {
    /// `recipient`.
    pub struct Recipient {
        pub email_address: Option<EmailAddress>,
    }
}

impl Recipient {
    /// A recipient with just an address.
    pub fn address(address: impl Into<String>) -> Self {
        Recipient {
            email_address: Some(EmailAddress {
                name: None,
                address: Some(address.into()),
            }),
        }
    }

    /// The SMTP address, if present.
    pub fn smtp(&self) -> Option<&str> {
        self.email_address.as_ref()?.address.as_deref()
    }
}

model! {
    /// `itemBody`: content and its type (`text` or `html`, any case on the wire).
    pub struct ItemBody {
        pub content_type: Option<String>,
        pub content: Option<String>,
    }
}

impl ItemBody {
    /// Whether the body is HTML.
    pub fn is_html(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("html"))
    }

    /// A plain-text body.
    pub fn text(content: impl Into<String>) -> Self {
        ItemBody {
            content_type: Some("text".into()),
            content: Some(content.into()),
        }
    }

    /// An HTML body.
    pub fn html(content: impl Into<String>) -> Self {
        ItemBody {
            content_type: Some("html".into()),
            content: Some(content.into()),
        }
    }
}

model! {
    /// `internetMessageHeader` (only returned when `$select`ed).
    pub struct InternetMessageHeader {
        pub name: Option<String>,
        pub value: Option<String>,
    }
}

model! {
    /// `singleValueLegacyExtendedProperty`: id like `String {guid} Name CrmId`.
    pub struct SingleValueExtendedProperty {
        pub id: String,
        pub value: Option<String>,
    }
}

impl SingleValueExtendedProperty {
    /// A named string property in the property set `guid` (the connector's fixed GUID).
    pub fn named_string(guid: &str, name: &str, value: impl Into<String>) -> Self {
        SingleValueExtendedProperty {
            id: format!("String {{{guid}}} Name {name}"),
            value: Some(value.into()),
        }
    }
}

model! {
    /// `physicalAddress`.
    pub struct PhysicalAddress {
        pub street: Option<String>,
        pub city: Option<String>,
        pub state: Option<String>,
        pub country_or_region: Option<String>,
        pub postal_code: Option<String>,
    }
}

model! {
    /// `dateTimeTimeZone`: a local wall-clock time without offset plus a Windows or IANA zone
    /// name. Use [`DateTimeTimeZone::to_timestamp`] to get the real instant.
    pub struct DateTimeTimeZone {
        pub date_time: String,
        pub time_zone: Option<String>,
    }
}

impl DateTimeTimeZone {
    /// The instant this local time denotes in its zone (Windows names via CLDR; IANA names and
    /// `UTC` accepted). Nonexistent times (spring-forward gap) move forward, ambiguous ones
    /// (fall-back overlap) take the earlier instant, as Outlook does.
    pub fn to_timestamp(&self) -> Result<jiff::Timestamp, TimeError> {
        tz::to_timestamp(&self.date_time, self.time_zone.as_deref())
    }

    /// The wall-clock value, ignoring the zone.
    pub fn civil(&self) -> Result<jiff::civil::DateTime, TimeError> {
        tz::parse_civil(&self.date_time)
    }

    /// A UTC value in Graph's format, for request bodies.
    pub fn utc(ts: jiff::Timestamp) -> Self {
        DateTimeTimeZone {
            date_time: ts
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .datetime()
                .strftime("%Y-%m-%dT%H:%M:%S%.7f")
                .to_string(),
            time_zone: Some("UTC".into()),
        }
    }

    /// A date at midnight with a zone, as all-day events need.
    pub fn date(date: jiff::civil::Date, time_zone: &str) -> Self {
        DateTimeTimeZone {
            date_time: format!("{}T00:00:00.0000000", date),
            time_zone: Some(time_zone.to_owned()),
        }
    }
}
