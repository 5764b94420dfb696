//! Query strings and paths: a query string encoded for a link and parsed from a request, a path
//! split into decoded segments (`mailFolders('inbox')` becomes two). Apart from the request
//! because links, `$batch` and the handler use them on plain strings.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'$')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',')
    .remove(b'(')
    .remove(b')')
    .remove(b'\'')
    .remove(b':')
    .remove(b'/');

pub(crate) fn encode_query(q: &[(String, String)]) -> String {
    q.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_SET),
                utf8_percent_encode(v, QUERY_SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Splits a path (after `/v1.0`) into decoded segments; `mailFolders('inbox')` becomes two.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode_str(raw).decode_utf8_lossy().into_owned();
        if let Some(open) = seg.find('(')
            && seg.ends_with(')')
            && open > 0
        {
            out.push(seg[..open].to_owned());
            let key = seg[open + 1..seg.len() - 1].trim_matches('\'').to_owned();
            if !key.is_empty() {
                out.push(key);
            }
        } else {
            out.push(seg);
        }
    }
    out
}
