//! Outlook-looking ids.
//!
//! Exchange items have two id formats: the REST id (`AAMkAD…`, changes when the item moves to
//! another folder) and the immutable id (`AAkAL…`, stable within the mailbox), selected per request
//! with `Prefer: IdType="ImmutableId"`. Both are accepted on input, as in Graph.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// A new REST-format id.
pub(crate) fn rest_id(rng: &mut ChaCha20Rng) -> String {
    format!("AAMkAD{}AAA=", random_b64(rng, 96))
}

/// A new immutable-format id.
pub(crate) fn immutable_id(rng: &mut ChaCha20Rng) -> String {
    format!("AAkALg{}AAA=", random_b64(rng, 96))
}

/// A folder id (the same in both formats).
pub(crate) fn folder_id(rng: &mut ChaCha20Rng) -> String {
    format!("AAMkAD{}AAA=", random_b64(rng, 60))
}

/// A plain entity id (To Do lists and tasks, categories).
pub(crate) fn entity_id(rng: &mut ChaCha20Rng) -> String {
    format!("AAMkAG{}AAA=", random_b64(rng, 72))
}

pub(crate) fn guid(rng: &mut ChaCha20Rng) -> String {
    crate::people::guid(rng)
}

/// A change key / etag value.
pub(crate) fn change_key(seq: u64) -> String {
    let mut bytes = b"CQAAABYAAAC".to_vec();
    bytes.extend_from_slice(&seq.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn random_b64(rng: &mut ChaCha20Rng, len: usize) -> String {
    let mut bytes = vec![0u8; len * 3 / 4];
    rng.fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The EWS id of an item from its REST id. Graph's REST ids are the EWS ids made URL-safe
/// (`/` → `-`, `+` → `_`), which is what Office.js's `convertToEwsId` undoes; the sandbox keeps
/// that relation, so an EWS id goes stale when the item moves (its REST id changes), as in
/// Exchange.
pub(crate) fn ews_id(rest: &str) -> String {
    rest.replace('-', "/").replace('_', "+")
}

/// The REST id of an EWS id (see [`ews_id`]).
pub(crate) fn rest_from_ews(ews: &str) -> String {
    ews.replace('/', "-").replace('+', "_")
}

/// What the sandbox puts in an item's binary MAPI entry id (it names the immutable id, so it
/// survives moves, unlike a real one: good enough for a translation test).
const ENTRY_MAGIC: &[u8] = b"\0\0\0\0SBXE:";

/// The item's entry id as MAPI tools show it: upper-case hex of the binary id (the form the
/// EWS connector stored, `HexEntryId`).
pub(crate) fn hex_entry_id(imm: &str) -> String {
    let mut bytes = ENTRY_MAGIC.to_vec();
    bytes.extend_from_slice(imm.as_bytes());
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The item's entry id in `translateExchangeIds`'s `entryId` form: URL-safe base64 without
/// padding, followed by the number of padding characters removed (documented).
pub(crate) fn entry_id(imm: &str) -> String {
    let mut bytes = ENTRY_MAGIC.to_vec();
    bytes.extend_from_slice(imm.as_bytes());
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
    let trimmed = padded.trim_end_matches('=');
    format!("{trimmed}{}", padded.len() - trimmed.len())
}

/// The immutable id named by an `entryId` (see [`entry_id`]); `None` for anything else.
pub(crate) fn imm_from_entry_id(entry: &str) -> Option<String> {
    let (body, pad) = entry.split_at(entry.len().checked_sub(1)?);
    let pad: usize = pad.parse().ok().filter(|p| *p <= 2)?;
    let padded = format!("{body}{}", "=".repeat(pad));
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(padded)
        .ok()?;
    let rest = bytes.strip_prefix(ENTRY_MAGIC)?;
    String::from_utf8(rest.to_vec()).ok()
}

const OCCURRENCE_PREFIX: &str = "AAMkOC";

/// The id of one occurrence (or exception) of a series: encodes the series master id (in the
/// format the client asked for) and the original start date.
pub(crate) fn occurrence_id(master_id: &str, original_date: &str) -> String {
    format!(
        "{OCCURRENCE_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(format!("{master_id}|{original_date}"))
    )
}

/// Splits an occurrence id into (master id, original date `YYYY-MM-DD`).
pub(crate) fn parse_occurrence_id(id: &str) -> Option<(String, String)> {
    let rest = id.strip_prefix(OCCURRENCE_PREFIX)?;
    let raw = URL_SAFE_NO_PAD.decode(rest).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (m, d) = text.rsplit_once('|')?;
    Some((m.to_owned(), d.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn occurrence_ids_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let m = rest_id(&mut rng);
        let o = occurrence_id(&m, "2026-11-27");
        assert_eq!(
            parse_occurrence_id(&o),
            Some((m.clone(), "2026-11-27".to_owned()))
        );
        assert!(parse_occurrence_id(&m).is_none());
        assert_ne!(rest_id(&mut rng), immutable_id(&mut rng));
    }

    #[test]
    fn ews_and_entry_ids_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for _ in 0..20 {
            let rest = rest_id(&mut rng);
            assert_eq!(rest_from_ews(&ews_id(&rest)), rest);
            let imm = immutable_id(&mut rng);
            assert_eq!(
                imm_from_entry_id(&entry_id(&imm)).as_deref(),
                Some(imm.as_str())
            );
            assert!(hex_entry_id(&imm).bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(imm_from_entry_id("AAAA0"), None);
        assert_eq!(imm_from_entry_id(""), None);
    }
}
