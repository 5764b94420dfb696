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
}
