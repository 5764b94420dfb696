//! The rep record's `UserSettings` field: per-rep overrides of the global settings.
//!
//! Aurea documents the field as a text of up to 2048 characters holding
//!
//! ```xml
//! <SyncSettings>
//!   <EmailSync SyncAttach=".." AttachSizeLimit=".."/>
//!   <AppointSync_Ex2Up SyncAttach=".." SyncPrivate="true|false"/>
//!   <AppointSync_Up2Ex/>
//!   <ContactSync Category=".."/>
//! </SyncSettings>
//! ```
//!
//! without saying what the values of `SyncAttach` and `AttachSizeLimit` look like. We read
//! `SyncAttach` as a flag (`true`/`false`, `1`/`0`, `yes`/`no`) and `AttachSizeLimit` as a
//! number in the unit of [`SizeUnit`] (kilobytes unless configured otherwise, the unit of the
//! configurator's own size fields). Everything the connector cannot honour is collected in
//! [`SyncSettings::not_honoured`] so the caller can say so once, instead of silently
//! ignoring a rep's wish; a text that is not such XML at all is a [`UserSettingsError`] (a
//! warning for that rep: the global settings apply).

use crate::dom;

/// The unit of `AttachSizeLimit` (not documented by Aurea; `[mailboxes]
/// user_settings_size_unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SizeUnit {
    /// Bytes.
    Bytes,
    /// Kilobytes (1024 bytes), the default.
    #[default]
    Kilobytes,
    /// Megabytes (1024 × 1024 bytes).
    Megabytes,
}

impl SizeUnit {
    fn bytes(self, n: u64) -> u64 {
        match self {
            SizeUnit::Bytes => n,
            SizeUnit::Kilobytes => n.saturating_mul(1024),
            SizeUnit::Megabytes => n.saturating_mul(1024 * 1024),
        }
    }
}

/// The overrides one rep's `UserSettings` carries. `None` everywhere: the global setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSettings {
    /// `<EmailSync SyncAttach>`: store attachments of filed e-mails or not.
    pub email_attachments: Option<bool>,
    /// `<EmailSync AttachSizeLimit>`, in bytes: the largest attachment stored.
    pub email_attachment_limit: Option<u64>,
    /// `<AppointSync_Ex2Up SyncPrivate>`: synchronize the rep's private appointments.
    pub sync_private: Option<bool>,
    /// `<ContactSync Category>`: the category of the rep's synchronized contacts.
    pub contact_category: Option<String>,
    /// Elements and attributes present but not honoured by this connector, with why.
    pub not_honoured: Vec<String>,
}

/// A `UserSettings` text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("UserSettings of the rep is not a <SyncSettings> document: {0}")]
pub struct UserSettingsError(String);

impl SyncSettings {
    /// Whether there is any override.
    pub fn is_empty(&self) -> bool {
        self.email_attachments.is_none()
            && self.email_attachment_limit.is_none()
            && self.sync_private.is_none()
            && self.contact_category.is_none()
    }

    /// Reads a `UserSettings` text. An empty text has no overrides.
    pub fn parse(text: &str, unit: SizeUnit) -> Result<SyncSettings, UserSettingsError> {
        let mut out = SyncSettings::default();
        if text.trim().is_empty() {
            return Ok(out);
        }
        let root = dom::parse(text).map_err(|e| UserSettingsError(e.to_string()))?;
        if !root.name.eq_ignore_ascii_case("SyncSettings") {
            return Err(UserSettingsError(format!(
                "the root element is <{}>",
                root.name
            )));
        }
        for el in root.elements() {
            for (name, value) in &el.attrs {
                let at = format!("{}/@{}", el.name, name);
                match (el.name.as_str(), name.as_str()) {
                    ("EmailSync", "SyncAttach") => {
                        out.email_attachments = Some(flag(&at, value)?);
                    }
                    ("EmailSync", "AttachSizeLimit") => {
                        let n: u64 = value.trim().parse().map_err(|_| {
                            UserSettingsError(format!("{at} = {value:?} is not a whole number"))
                        })?;
                        out.email_attachment_limit = Some(unit.bytes(n));
                    }
                    ("AppointSync_Ex2Up", "SyncPrivate") => {
                        out.sync_private = Some(flag(&at, value)?);
                    }
                    ("AppointSync_Ex2Up", "SyncAttach") => out.not_honoured.push(format!(
                        "{at}: appointment attachments are not synchronized by this connector"
                    )),
                    ("ContactSync", "Category") => {
                        let c = value.trim();
                        if !c.is_empty() {
                            out.contact_category = Some(c.to_owned());
                        }
                    }
                    _ => out.not_honoured.push(format!("{at}: not a known setting")),
                }
            }
            if !matches!(
                el.name.as_str(),
                "EmailSync" | "AppointSync_Ex2Up" | "AppointSync_Up2Ex" | "ContactSync"
            ) {
                out.not_honoured
                    .push(format!("<{}>: not a known setting", el.name));
            }
        }
        Ok(out)
    }
}

fn flag(at: &str, value: &str) -> Result<bool, UserSettingsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(UserSettingsError(format!(
            "{at} = {value:?} is neither true nor false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let s = SyncSettings::parse(
            r#"<SyncSettings>
                 <EmailSync SyncAttach="true" AttachSizeLimit="500"/>
                 <AppointSync_Ex2Up SyncAttach="false" SyncPrivate="false"/>
                 <AppointSync_Up2Ex/>
                 <ContactSync Category="Kunden"/>
               </SyncSettings>"#,
            SizeUnit::Kilobytes,
        )
        .unwrap();
        assert_eq!(s.email_attachments, Some(true));
        assert_eq!(s.email_attachment_limit, Some(500 * 1024));
        assert_eq!(s.sync_private, Some(false));
        assert_eq!(s.contact_category.as_deref(), Some("Kunden"));
        assert_eq!(s.not_honoured.len(), 1, "{:?}", s.not_honoured);
        assert!(s.not_honoured[0].contains("AppointSync_Ex2Up/@SyncAttach"));
    }

    #[test]
    fn the_size_unit_is_configurable() {
        let t = r#"<SyncSettings><EmailSync AttachSizeLimit="2"/></SyncSettings>"#;
        let b = |u| {
            SyncSettings::parse(t, u)
                .unwrap()
                .email_attachment_limit
                .unwrap()
        };
        assert_eq!(b(SizeUnit::Bytes), 2);
        assert_eq!(b(SizeUnit::Megabytes), 2 * 1024 * 1024);
    }

    #[test]
    fn empty_means_no_override() {
        assert!(
            SyncSettings::parse("  ", SizeUnit::Kilobytes)
                .unwrap()
                .is_empty()
        );
        assert!(
            SyncSettings::parse("<SyncSettings/>", SizeUnit::Kilobytes)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn unreadable_texts_are_errors_with_the_reason() {
        for bad in [
            "<SyncSettings><EmailSync",
            "<Other/>",
            r#"<SyncSettings><EmailSync SyncAttach="maybe"/></SyncSettings>"#,
            r#"<SyncSettings><EmailSync AttachSizeLimit="1 MB"/></SyncSettings>"#,
            "just text",
        ] {
            let e = SyncSettings::parse(bad, SizeUnit::Kilobytes).unwrap_err();
            assert!(e.to_string().contains("UserSettings"), "{e}");
        }
    }

    #[test]
    fn unknown_entries_are_listed_not_dropped_silently() {
        let s = SyncSettings::parse(
            r#"<SyncSettings><TaskSync X="1"/><EmailSync Colour="red"/></SyncSettings>"#,
            SizeUnit::Kilobytes,
        )
        .unwrap();
        assert!(s.is_empty());
        assert_eq!(s.not_honoured.len(), 3, "{:?}", s.not_honoured);
    }
}
