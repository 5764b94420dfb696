//! `translateExchangeIds`: Outlook item ids from one format into another.
//!
//! The previous (EWS) connector stored EWS item ids (and, in some installations, hex MAPI entry
//! ids) in CRM's external keys; Graph speaks REST ids. `POST /users/{id}/translateExchangeIds`
//! converts up to 1,000 ids of one mailbox and one source format per call
//! (`user-translateexchangeids`, `exchangeIdFormat`). The answer has one `convertIdResult`
//! per input: `sourceId` with `targetId`, or `errorDetails` for an id the mailbox does not
//! know.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{GraphClient, seg};
use crate::error::{GraphError, ResourceKind};

/// The most ids one request may carry (documented).
pub const MAX_IDS_PER_REQUEST: usize = 1000;

/// `exchangeIdFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExchangeIdFormat {
    /// The binary MAPI entry id, URL-safe base64 (see [`entry_id_from_hex`]).
    EntryId,
    /// The format of Exchange Web Services.
    EwsId,
    /// The binary MAPI-compatible immutable id, URL-safe base64.
    ImmutableEntryId,
    /// Graph's default id.
    RestId,
    /// Graph's immutable id (what the connector asks for with `Prefer: IdType="ImmutableId"`).
    RestImmutableEntryId,
}

impl ExchangeIdFormat {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeIdFormat::EntryId => "entryId",
            ExchangeIdFormat::EwsId => "ewsId",
            ExchangeIdFormat::ImmutableEntryId => "immutableEntryId",
            ExchangeIdFormat::RestId => "restId",
            ExchangeIdFormat::RestImmutableEntryId => "restImmutableEntryId",
        }
    }
}

/// One id's translation: `target` is `None` when the mailbox does not know the id (Graph's
/// `errorDetails`, e.g. `ErrorItemNotFound` for an item deleted since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub source: String,
    pub target: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    input_ids: &'a [String],
    source_id_type: ExchangeIdFormat,
    target_id_type: ExchangeIdFormat,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    value: Vec<ConvertIdResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConvertIdResult {
    #[serde(default)]
    source_id: Option<String>,
    #[serde(default)]
    target_id: Option<String>,
}

/// The binary-id form `translateExchangeIds` expects for `entryId` and `immutableEntryId`,
/// from the hex text a MAPI or EWS client shows (`HexEntryId`): URL-safe base64 (`+` → `-`,
/// `/` → `_`), trailing `=` removed and the number of removed padding characters (0, 1 or 2)
/// appended, as the method's documentation describes. `None` for text that is not hex.
pub fn entry_id_from_hex(hex: &str) -> Option<String> {
    let hex = hex.trim();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let b64 = STANDARD.encode(&bytes);
    let trimmed = b64.trim_end_matches('=');
    let padding = b64.len() - trimmed.len();
    Some(format!(
        "{}{padding}",
        trimmed.replace('+', "-").replace('/', "_")
    ))
}

impl GraphClient {
    /// Translate `ids` (all of `source` format, all of this mailbox) into `target` format, in
    /// requests of at most [`MAX_IDS_PER_REQUEST`]. The answer keeps the input's order; an id
    /// the mailbox does not know has no target. The call reads only (it changes nothing), so
    /// it is retried like a GET.
    pub async fn translate_exchange_ids(
        &self,
        mailbox: &str,
        ids: &[String],
        source: ExchangeIdFormat,
        target: ExchangeIdFormat,
    ) -> Result<Vec<Translated>, GraphError> {
        let path = format!("/users/{}/translateExchangeIds", seg(mailbox));
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
            let resp: Response = self
                .send_json(
                    Method::POST,
                    Some(mailbox),
                    ResourceKind::Other,
                    &path,
                    &Request {
                        input_ids: chunk,
                        source_id_type: source,
                        target_id_type: target,
                    },
                    true,
                )
                .await?;
            // By source id, not position: the documentation does not promise the order.
            let mut by_source: std::collections::HashMap<String, Option<String>> = resp
                .value
                .into_iter()
                .filter_map(|r| r.source_id.map(|s| (s, r.target_id)))
                .collect();
            for id in chunk {
                out.push(Translated {
                    source: id.clone(),
                    target: by_source.remove(id).flatten(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_entry_ids_become_url_safe_base64_with_the_padding_count() {
        // 3 bytes: no padding
        assert_eq!(entry_id_from_hex("000000").as_deref(), Some("AAAA0"));
        // 1 byte: two padding characters removed
        assert_eq!(entry_id_from_hex("FF").as_deref(), Some("_w2"));
        // 2 bytes: one; `+` and `/` made URL-safe
        assert_eq!(entry_id_from_hex("FBFF").as_deref(), Some("-_81"));
        assert_eq!(entry_id_from_hex("xyz"), None);
        assert_eq!(entry_id_from_hex("ABC"), None);
        assert_eq!(entry_id_from_hex(""), None);
    }

    #[test]
    fn formats_have_their_documented_names() {
        let names: Vec<_> = [
            ExchangeIdFormat::EntryId,
            ExchangeIdFormat::EwsId,
            ExchangeIdFormat::ImmutableEntryId,
            ExchangeIdFormat::RestId,
            ExchangeIdFormat::RestImmutableEntryId,
        ]
        .iter()
        .map(|f| serde_json::to_value(f).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "entryId",
                "ewsId",
                "immutableEntryId",
                "restId",
                "restImmutableEntryId"
            ]
        );
    }
}
