//! Which id form an external key holds (pure). The EWS connector's keys are not documented;
//! the forms are told apart by their shape, which Microsoft documents for each: an
//! `internetMessageId` is `<…@…>`, an `iCalUId` (Outlook's global object id) is hex starting
//! with the Outlook class id, a MAPI entry id shown by MAPI tools is hex (`HexEntryId`), and an
//! EWS id is base64.

/// The form of a stored key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyForm {
    /// `<local@domain>`.
    InternetMessageId,
    /// Hex starting with `040000008200E00074C5B7101A82E008`.
    ICalUId,
    /// Hex (an even number of digits, at least 40): a MAPI entry id.
    HexEntryId,
    /// Base64 (at least 40 characters): an EWS item id.
    EwsId,
    /// Anything else (a Graph id of our own, a key of another system).
    Other,
}

/// The class id every Outlook global object id (the `iCalUId` of an Outlook meeting) starts with.
const OUTLOOK_CLASS_ID: &str = "040000008200E00074C5B7101A82E008";

/// The form of `key`.
pub fn classify(key: &str) -> KeyForm {
    let k = key.trim();
    if k.starts_with('<') && k.ends_with('>') && k.contains('@') {
        return KeyForm::InternetMessageId;
    }
    let hex = !k.is_empty() && k.bytes().all(|b| b.is_ascii_hexdigit());
    if hex
        && k.len() >= OUTLOOK_CLASS_ID.len()
        && k[..OUTLOOK_CLASS_ID.len()].eq_ignore_ascii_case(OUTLOOK_CLASS_ID)
    {
        return KeyForm::ICalUId;
    }
    if hex && k.len() >= 40 && k.len().is_multiple_of(2) {
        return KeyForm::HexEntryId;
    }
    let base64 = k
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    // Graph's own ids are URL-safe (`-`, `_`); an EWS id uses `+` and `/`.
    if base64 && k.len() >= 40 {
        return KeyForm::EwsId;
    }
    KeyForm::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_told_apart_by_shape() {
        assert_eq!(
            classify("<abc.123@contoso.com>"),
            KeyForm::InternetMessageId
        );
        assert_eq!(
            classify("040000008200E00074C5B7101A82E00800000000D0A2F2B0"),
            KeyForm::ICalUId
        );
        assert_eq!(
            classify("00000000A1B2C3D4E5F60718293A4B5C6D7E8F9001020304"),
            KeyForm::HexEntryId
        );
        assert_eq!(
            classify("AAMkADk0ZGQ2+ZjE4LTkwYzItNDA0Ni1iYjU2LTIyZjQ1ZTk0OWNjNQBGAAAAAAA="),
            KeyForm::EwsId
        );
        // a Graph (URL-safe) id, a short token, an odd hex string
        assert_eq!(
            classify("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A6Ia_gdV4k0ePyjzqm5L9kwAAAgENAAA="),
            KeyForm::Other
        );
        assert_eq!(classify("GraphApi"), KeyForm::Other);
        assert_eq!(classify("ABC"), KeyForm::Other);
        assert_eq!(classify(""), KeyForm::Other);
    }
}
