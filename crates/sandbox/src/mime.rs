//! RFC 822 MIME of messages (`GET …/messages/{id}/$value`, item attachments' `$value`).

use crate::store::{Attachment, AttachmentContent};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::mime::MimePart;
use serde_json::{Map, Value};

fn addr(v: &Value) -> Option<(String, String)> {
    let e = v.get("emailAddress")?;
    let address = e.get("address")?.as_str()?.to_owned();
    let name = e
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((name, address))
}

fn addrs(props: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(addr).collect())
        .unwrap_or_default()
}

fn list(v: Vec<(String, String)>) -> Address<'static> {
    Address::new_list(
        v.into_iter()
            .map(|(n, a)| Address::new_address(Some(n), a))
            .collect(),
    )
}

fn bare_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// Builds the MIME of a message. `include_bcc` is true for the sender's copy only.
pub(crate) fn message_mime(
    props: &Map<String, Value>,
    attachments: &[Attachment],
    include_bcc: bool,
) -> Vec<u8> {
    let s = |k: &str| {
        props
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut b = MessageBuilder::new();
    if let Some(from) = props.get("from").and_then(addr) {
        b = b.from(Address::new_address(Some(from.0), from.1));
    }
    let to = addrs(props, "toRecipients");
    if !to.is_empty() {
        b = b.to(list(to));
    }
    let cc = addrs(props, "ccRecipients");
    if !cc.is_empty() {
        b = b.cc(list(cc));
    }
    let bcc = addrs(props, "bccRecipients");
    if include_bcc && !bcc.is_empty() {
        b = b.bcc(list(bcc));
    }
    b = b.subject(s("subject"));
    let mid = s("internetMessageId");
    if !mid.is_empty() {
        b = b.message_id(bare_id(&mid));
    }
    let sent = props
        .get("sentDateTime")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0);
    b = b.date(sent);
    if let Some(headers) = props
        .get("internetMessageHeaders")
        .and_then(Value::as_array)
    {
        for h in headers {
            let name = h.get("name").and_then(Value::as_str).unwrap_or_default();
            let value = h.get("value").and_then(Value::as_str).unwrap_or_default();
            if name.eq_ignore_ascii_case("In-Reply-To") {
                b = b.in_reply_to(bare_id(value));
            } else if name.eq_ignore_ascii_case("References") {
                let refs: Vec<String> = value.split_whitespace().map(bare_id).collect();
                b = b.references(refs);
            }
        }
    }
    b = b.header(
        "X-MS-Exchange-Organization-SCL",
        mail_builder::headers::raw::Raw::new("-1"),
    );
    let body = props.get("body");
    let content = body
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let is_html = body
        .and_then(|b| b.get("contentType"))
        .and_then(Value::as_str)
        .is_some_and(|c| c.eq_ignore_ascii_case("html"));
    if is_html {
        b = b.text_body(html_to_text(&content)).html_body(content);
    } else {
        b = b.text_body(content);
    }
    for a in attachments {
        match &a.content {
            AttachmentContent::Item(item) => {
                let inner = message_mime(item, &[], false);
                let part =
                    MimePart::new("message/rfc822", inner).attachment(format!("{}.eml", a.name));
                b = b.attachment_part(part);
            }
            other => {
                let bytes = other.file_bytes().unwrap_or_default();
                if a.is_inline {
                    let cid = a.content_id.clone().unwrap_or_else(|| a.name.clone());
                    b = b.inline(a.content_type.clone(), cid, bytes);
                } else {
                    b = b.attachment(a.content_type.clone(), a.name.clone(), bytes);
                }
            }
        }
    }
    b.write_to_vec().unwrap_or_default()
}

trait AttachmentPart {
    fn attachment_part(self, part: MimePart<'static>) -> Self;
}

impl AttachmentPart for MessageBuilder<'static> {
    fn attachment_part(mut self, part: MimePart<'static>) -> Self {
        self.attachments.get_or_insert_with(Vec::new).push(part);
        self
    }
}

/// A crude but dependable HTML → text conversion (for `outlook.body-content-type="text"`,
/// `bodyPreview` and the text alternative of the MIME).
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map(|i| &after[i + 3..]).unwrap_or("");
            continue;
        }
        let lower_start: String = rest
            .chars()
            .take(7)
            .collect::<String>()
            .to_ascii_lowercase();
        if lower_start.starts_with("<style") || lower_start.starts_with("<script") {
            let tag = if lower_start.starts_with("<style") {
                "</style>"
            } else {
                "</script>"
            };
            let low = rest.to_ascii_lowercase();
            rest = low.find(tag).map(|i| &rest[i + tag.len()..]).unwrap_or("");
            continue;
        }
        if rest.starts_with('<') {
            let end = rest.find('>').map(|i| i + 1).unwrap_or(rest.len());
            let tag = rest[..end].to_ascii_lowercase();
            if tag.starts_with("<br")
                || tag.starts_with("</p")
                || tag.starts_with("</div")
                || tag.starts_with("</tr")
                || tag.starts_with("</li")
            {
                out.push('\n');
            }
            rest = &rest[end..];
            continue;
        }
        let next = rest.find('<').unwrap_or(rest.len());
        out.push_str(&decode_entities(&rest[..next]));
        rest = &rest[next..];
    }
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut text = lines.join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_owned()
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `bodyPreview`: the first 255 characters of the text.
pub(crate) fn preview(body: &Value) -> String {
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let html = body
        .get("contentType")
        .and_then(Value::as_str)
        .is_some_and(|c| c.eq_ignore_ascii_case("html"));
    let text = if html {
        html_to_text(content)
    } else {
        content.to_owned()
    };
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(255).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_drops_comments_and_tags() {
        let t = html_to_text(
            "<html><head><style>p{}</style></head><body><!-- secret --><p>Hello&nbsp;<b>World</b></p><p>Bye</p></body></html>",
        );
        assert_eq!(t, "Hello World\nBye");
    }
}
