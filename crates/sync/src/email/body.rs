//! The activity text from a message body: HTML or plain text, HTML comments removed, capped at
//! the configured number of characters (a truncation gives a warning). Pure functions.

use crate::email::model::Body;

/// The prepared text and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBody {
    /// The text to store.
    pub text: String,
    /// Characters before capping (after comment removal / conversion).
    pub original_chars: usize,
    /// Set when the text was cut.
    pub warning: Option<String>,
}

/// How to prepare a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyOptions {
    /// Keep HTML (otherwise convert to text).
    pub html: bool,
    /// Remove `<!-- ... -->`.
    pub strip_comments: bool,
    /// Cap in characters (0: none).
    pub max_chars: usize,
}

/// Prepare a body for the activity.
pub fn prepare(body: Option<&Body>, opts: BodyOptions) -> PreparedBody {
    let Some(body) = body else {
        return PreparedBody {
            text: String::new(),
            original_chars: 0,
            warning: None,
        };
    };
    let text = match (body.html, opts.html) {
        (true, true) if opts.strip_comments => strip_html_comments(&body.content),
        (true, true) => body.content.clone(),
        (true, false) => html_to_text(&strip_html_comments(&body.content)),
        (false, _) => body.content.clone(),
    };
    let original_chars = text.chars().count();
    if opts.max_chars == 0 || original_chars <= opts.max_chars {
        return PreparedBody {
            text,
            original_chars,
            warning: None,
        };
    }
    let cut = truncate_chars(&text, opts.max_chars, body.html && opts.html);
    PreparedBody {
        warning: Some(format!(
            "body truncated from {original_chars} to {} characters (max_body_chars = {})",
            cut.chars().count(),
            opts.max_chars
        )),
        text: cut,
        original_chars,
    }
}

/// Remove every `<!-- ... -->` comment (an unterminated one runs to the end, as in browsers).
pub fn strip_html_comments(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start + 4..].find("-->") {
            Some(end) => rest = &rest[start + 4 + end + 3..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// First `max` characters; for HTML, never stop inside a tag.
fn truncate_chars(text: &str, max: usize, html: bool) -> String {
    let end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let mut cut = &text[..end];
    if html
        && let Some(lt) = cut.rfind('<')
        && !cut[lt..].contains('>')
    {
        cut = &cut[..lt];
    }
    cut.to_owned()
}

/// A readable plain text from HTML: tags removed, block ends become line breaks, the common
/// entities decoded, `<style>`/`<script>` content dropped.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[1..gt].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[gt + 1..];
        if !tag.starts_with('/') && (name == "style" || name == "script") {
            let close = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&close) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table"
        ) && !out.ends_with('\n')
        {
            out.push('\n');
        }
    }
    out.push_str(rest);
    decode_entities(&out).trim().to_owned()
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(s: &str) -> Body {
        Body {
            html: true,
            content: s.into(),
        }
    }

    const OPTS: BodyOptions = BodyOptions {
        html: true,
        strip_comments: true,
        max_chars: 0,
    };

    #[test]
    fn comments_are_removed() {
        assert_eq!(strip_html_comments("a<!-- x -->b<!--y-->c"), "abc");
        assert_eq!(strip_html_comments("a<!-- never closed"), "a");
        assert_eq!(strip_html_comments("no comments"), "no comments");
        let p = prepare(Some(&html("<p>Hi<!-- [if mso]>x<![endif] --></p>")), OPTS);
        assert_eq!(p.text, "<p>Hi</p>");
        assert!(p.warning.is_none());
    }

    #[test]
    fn comments_kept_when_disabled() {
        let p = prepare(
            Some(&html("<p>Hi<!-- c --></p>")),
            BodyOptions {
                strip_comments: false,
                ..OPTS
            },
        );
        assert_eq!(p.text, "<p>Hi<!-- c --></p>");
    }

    #[test]
    fn truncation_warns_and_counts_characters_not_bytes() {
        let p = prepare(
            Some(&Body {
                html: false,
                content: "äöüäöüäöü".into(),
            }),
            BodyOptions {
                max_chars: 4,
                ..OPTS
            },
        );
        assert_eq!(p.text, "äöüä");
        assert_eq!(p.original_chars, 9);
        let w = p.warning.unwrap();
        assert!(w.contains("9 to 4"), "{w}");
    }

    #[test]
    fn html_truncation_does_not_cut_inside_a_tag() {
        let p = prepare(
            Some(&html("<p>abc</p><p>def</p>")),
            BodyOptions {
                max_chars: 12,
                ..OPTS
            },
        );
        assert_eq!(p.text, "<p>abc</p>");
        assert!(p.warning.is_some());
    }

    #[test]
    fn exactly_at_the_cap_is_not_truncated() {
        let p = prepare(
            Some(&html("12345")),
            BodyOptions {
                max_chars: 5,
                ..OPTS
            },
        );
        assert_eq!(p.text, "12345");
        assert!(p.warning.is_none());
    }

    #[test]
    fn text_mode_converts_html() {
        let p = prepare(
            Some(&html(
                "<html><style>p{color:red}</style><p>Hello &amp; welcome</p><p>Line 2<br>x</p><!-- c --></html>",
            )),
            BodyOptions {
                html: false,
                ..OPTS
            },
        );
        assert_eq!(p.text, "Hello & welcome\nLine 2\nx");
    }

    #[test]
    fn no_body_is_empty() {
        let p = prepare(None, OPTS);
        assert_eq!(p.text, "");
        assert!(p.warning.is_none());
    }
}
