//! A small element tree read with quick-xml, and the escaping rules for writing.
//!
//! CRM.interface responses are small documents; reading them into a tree first keeps the
//! interpretation code (see [`crate::codec`]) free of parser state. Reading never panics:
//! anything that is not a single well-formed element is an error carrying the byte offset.
//!
//! # Characters XML 1.0 cannot carry
//!
//! XML 1.0 forbids the C0 control characters other than TAB, LF and CR (U+0000–U+0008,
//! U+000B, U+000C, U+000E–U+001F) and U+FFFE/U+FFFF, even as character references. A
//! subject copied from a mail can contain them. The writer **removes** them ([`sanitize`]);
//! every other character round-trips exactly. TAB, LF and CR are written as character
//! references where a conforming parser would otherwise normalise them (CR in text; TAB,
//! LF and CR in attribute values), so that e.g. `"a\r\nb"` arrives unchanged.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

/// A parsed element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The element name as written (prefix included, if any).
    pub name: String,
    /// Attributes in document order, values unescaped and normalised.
    pub attrs: Vec<(String, String)>,
    /// Child nodes in document order.
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Character data (text, CDATA and resolved references).
    Text(String),
}

impl Element {
    /// The value of an attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The concatenated text content of the direct text children.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {position})")]
pub struct DomError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the input where the problem was detected.
    pub position: u64,
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Parses a document into its root element.
pub fn parse(xml: &str) -> Result<Element, DomError> {
    parse_inner(xml, None)
}

/// What [`parse_detaching`] hands each detached element to: the open ancestors (the root
/// first, without the children detached so far) and the element.
pub type Take<'a> = dyn FnMut(&[Element], Element) -> Result<(), String> + 'a;

/// Parses a document like [`parse`], but hands every element at `depth` (the root is at
/// depth 0) to `take` as soon as it is complete, instead of keeping it in the tree. A long
/// response (thousands of records) is then converted one record at a time and never held
/// whole as a tree beside its conversion. An error of `take` stops the parse, at the
/// position of the element's end.
pub fn parse_detaching(xml: &str, depth: usize, take: &mut Take<'_>) -> Result<Element, DomError> {
    parse_inner(xml, Some((depth, take)))
}

fn parse_inner(xml: &str, mut detach: Option<(usize, &mut Take<'_>)>) -> Result<Element, DomError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let err = |reader: &Reader<&[u8]>, message: String| DomError {
        message,
        position: reader.buffer_position(),
    };
    loop {
        let event = reader.read_event().map_err(|e| DomError {
            message: e.to_string(),
            position: reader.error_position(),
        })?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let name: String = start.name().as_ref().to_owned();
                let mut attrs = Vec::new();
                for a in start.attributes() {
                    let a =
                        a.map_err(|e| err(&reader, format!("bad attribute in <{name}>: {e}")))?;
                    let key: String = a.key.as_ref().to_owned();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| err(&reader, format!("bad value of {key} in <{name}>: {e}")))?
                        .into_owned();
                    attrs.push((key, value));
                }
                if root.is_some() && stack.is_empty() {
                    return Err(err(&reader, format!("second root element <{name}>")));
                }
                stack.push(Element {
                    name,
                    attrs,
                    children: Vec::new(),
                });
                if empty {
                    close(&mut stack, &mut root, &mut detach).map_err(|m| err(&reader, m))?;
                }
            }
            Event::End(_) => {
                if stack.is_empty() {
                    return Err(err(&reader, "end tag without start tag".into()));
                }
                close(&mut stack, &mut root, &mut detach).map_err(|m| err(&reader, m))?;
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                push_text(&mut stack, &content).map_err(|m| err(&reader, m))?;
            }
            Event::CData(c) => {
                let content = c.xml10_content();
                push_text(&mut stack, &content).map_err(|m| err(&reader, m))?;
            }
            Event::GeneralRef(r) => {
                let ch = match r
                    .resolve_char_ref()
                    .map_err(|e| err(&reader, format!("bad character reference: {e}")))?
                {
                    Some(c) => c,
                    None => {
                        let name: String = r.as_ref().to_owned();
                        predefined_entity(&name)
                            .ok_or_else(|| err(&reader, format!("unknown entity &{name};")))?
                    }
                };
                let mut buf = [0u8; 4];
                push_text(&mut stack, ch.encode_utf8(&mut buf)).map_err(|m| err(&reader, m))?;
            }
            Event::DocType(_) => {
                return Err(err(&reader, "DOCTYPE is not accepted".into()));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(DomError {
            message: format!("document ends inside <{}>", open.name),
            position: xml.len() as u64,
        });
    }
    root.ok_or(DomError {
        message: "no root element".into(),
        position: 0,
    })
}

fn close(
    stack: &mut Vec<Element>,
    root: &mut Option<Element>,
    detach: &mut Option<(usize, &mut Take<'_>)>,
) -> Result<(), String> {
    let Some(done) = stack.pop() else {
        return Ok(());
    };
    if let Some((depth, take)) = detach
        && stack.len() == *depth
    {
        return take(stack, done);
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(done)),
        None => *root = Some(done),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(el) => {
            if let Some(Node::Text(prev)) = el.children.last_mut() {
                prev.push_str(text);
            } else {
                el.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".into()),
    }
}

/// Whether XML 1.0 can carry this character at all.
pub fn is_xml10_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= '\u{20}' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Removes the characters XML 1.0 cannot carry (see the module documentation).
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml10_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| is_xml10_char(*c)).collect())
    }
}

/// Escapes character data: markup characters as entities, CR as a character reference;
/// characters XML 1.0 cannot carry are removed. Text with nothing to escape or remove is
/// returned as it is, without a copy.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape_with(s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#13;"),
        b'\t' | b'\n' => None,
        0..=0x1F => Some(""),
        _ => None,
    })
}

/// Escapes an attribute value for a double-quoted attribute: markup characters and quotes
/// as entities, TAB/LF/CR as character references (attribute-value normalisation would turn
/// them into spaces otherwise); characters XML 1.0 cannot carry are removed. A value with
/// nothing to escape or remove (most of a request's: field names, ids, dates) is returned as
/// it is, without a copy: a CRM request has dozens of attributes.
pub fn escape_attr(s: &str) -> Cow<'_, str> {
    escape_with(s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\'' => Some("&apos;"),
        b'\t' => Some("&#9;"),
        b'\n' => Some("&#10;"),
        b'\r' => Some("&#13;"),
        0..=0x1F => Some(""),
        _ => None,
    })
}

/// `s` with every ASCII byte `reference` names replaced by what it gives (`""` removes it),
/// and U+FFFE and U+FFFF removed (the only characters above ASCII that XML 1.0 cannot carry,
/// a Rust string holding no surrogates); borrowed when nothing changes.
///
/// Byte by byte, copying the unchanged runs whole: an activity's text is the longest string a
/// CRM request carries, and decoding and re-encoding it character by character was a
/// noticeable part of writing a request (docs/PERFORMANCE.md, round of 2026-12-07 04:00 UTC).
/// Every index it cuts at is a character boundary: an ASCII byte, or the first byte of
/// U+FFFE or U+FFFF.
fn escape_with(s: &str, reference: impl Fn(u8) -> Option<&'static str>) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out: Option<String> = None;
    let mut kept_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, width) = match bytes[i] {
            b @ 0..=0x7F => match reference(b) {
                Some(r) => (r, 1),
                None => {
                    i += 1;
                    continue;
                }
            },
            // U+FFFE and U+FFFF: EF BF BE and EF BF BF.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                ("", 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
        o.push_str(&s[kept_from..i]);
        o.push_str(replacement);
        i += width;
        kept_from = i;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[kept_from..]);
            Cow::Owned(o)
        }
    }
}

/// Whether `s` can be used as an element or attribute name as-is (a conservative subset of
/// XML names: ASCII letters, digits, `_`, `-`, `.`; not starting with a digit, `-` or `.`).
pub fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tree_with_refs_and_cdata() {
        let e = parse(
            "<?xml version='1.0'?><!-- c --><a x=\"1 &amp; 2\"><b>t&lt;&#65;&#x42;<![CDATA[<raw>]]></b><c/>tail</a>",
        )
        .unwrap();
        assert_eq!(e.name, "a");
        assert_eq!(e.attr("x"), Some("1 & 2"));
        assert_eq!(e.child("b").unwrap().text(), "t<AB<raw>");
        assert!(e.child("c").is_some());
        assert_eq!(e.text(), "tail");
    }

    #[test]
    fn detached_elements_are_handed_over_with_their_ancestors_and_left_out_of_the_tree() {
        let mut seen: Vec<(String, String, String)> = Vec::new();
        let mut take = |open: &[Element], el: Element| -> Result<(), String> {
            let path = open.iter().map(|e| e.name.as_str()).collect::<Vec<_>>();
            seen.push((path.join("/"), el.name.clone(), el.text()));
            Ok(())
        };
        let root = parse_detaching("<r><c><x>1</x><y/></c><z>2</z></r>", 2, &mut take).unwrap();
        assert_eq!(
            seen,
            [
                ("r/c".to_owned(), "x".to_owned(), "1".to_owned()),
                ("r/c".to_owned(), "y".to_owned(), String::new()),
            ]
        );
        let c = root.child("c").unwrap();
        assert!(
            c.elements().next().is_none(),
            "detached children are not kept"
        );
        assert_eq!(root.child("z").unwrap().text(), "2");
        // An error of the taker stops the parse, with the position of the element's end.
        let mut refuse = |_: &[Element], _: Element| -> Result<(), String> { Err("no".into()) };
        let e = parse_detaching("<r><c><x/></c></r>", 2, &mut refuse).unwrap_err();
        assert_eq!(e.message, "no");
        assert_eq!(e.position, 10);
    }

    #[test]
    fn malformed_is_error_not_panic() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "text",
            "<a x='1' x='2'/>",
            "<a>&bogus;</a>",
            "<a x=1/>",
            "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            "<a><b></a></b>",
            "<a>&#xZZ;</a>",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn escaping_rules() {
        assert_eq!(escape_text("a<b&c>\r\n\u{1}"), "a&lt;b&amp;c&gt;&#13;\n");
        assert_eq!(escape_attr("\"'\t\n"), "&quot;&apos;&#9;&#10;");
        assert_eq!(
            escape_attr("a<b&c>\r\u{1}\u{FFFE}é"),
            "a&lt;b&amp;c&gt;&#13;é"
        );
        // Nothing to escape or remove: the value itself, not a copy.
        assert!(matches!(
            escape_attr("2026-05-04 Müller"),
            Cow::Borrowed("2026-05-04 Müller")
        ));
        assert!(matches!(escape_attr("x\u{FFFF}"), Cow::Owned(v) if v == "x"));
        assert_eq!(sanitize("a\u{0}b\u{FFFF}c\u{7F}"), "abc\u{7F}");
        assert!(is_valid_name("E-mail1"));
        assert!(!is_valid_name("1abc"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name(""));
    }
}
