//! Round-trip properties of the codec: whatever a caller puts into a request arrives
//! unchanged at a conforming XML parser (minus the characters XML 1.0 cannot carry, which
//! are removed), and whatever a server puts into a response is read back unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gc_crm::codec::{
    CatalogMode, Command, Condition, Op, Query, RecordData, Request, SessionAttrs, TableSpec,
    Write, WriteKind, decode_response, encode_request,
};
use gc_crm::dom::{self, escape_attr, escape_text, sanitize};
use gc_crm::{CrmError, CrmId};
use proptest::prelude::*;
use secrecy::SecretString;

fn session(pwd: &str, imp: &str) -> SessionAttrs {
    SessionAttrs {
        user: "OCSU".into(),
        pwd: SecretString::from(pwd),
        impersonate: Some(imp.into()),
        lang: Some("de".into()),
        reqid: "r".into(),
    }
}

/// `value` escaped character by character, as the escapers' documentation says: the
/// characters XML 1.0 cannot carry dropped, each other one replaced by its `reference` or kept.
fn by_characters(value: &str, reference: impl Fn(char) -> Option<&'static str>) -> String {
    value
        .chars()
        .filter(|c| dom::is_xml10_char(*c))
        .map(|c| reference(c).map_or_else(|| c.to_string(), str::to_owned))
        .collect()
}

/// Strings rich in the characters that matter: markup, quotes, whitespace, controls,
/// non-BMP, noncharacters.
fn nasty() -> impl Strategy<Value = String> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just("<".to_owned()),
            Just("&".to_owned()),
            Just(">".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("]]>".to_owned()),
            Just("&amp;".to_owned()),
            Just("\r\n".to_owned()),
            Just("\r".to_owned()),
            Just("\n".to_owned()),
            Just("\t".to_owned()),
            Just(" ".to_owned()),
            Just("\u{0}".to_owned()),
            Just("\u{1}".to_owned()),
            Just("\u{B}".to_owned()),
            Just("\u{1F}".to_owned()),
            Just("\u{7F}".to_owned()),
            Just("\u{85}".to_owned()),
            Just("\u{2028}".to_owned()),
            Just("\u{FFFE}".to_owned()),
            Just("\u{FFFF}".to_owned()),
            Just("ü".to_owned()),
            Just("日本".to_owned()),
            Just("🚀".to_owned()),
            any::<String>(),
        ],
        0..12,
    );
    pieces.prop_map(|v| v.concat())
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn field_values_and_attributes_round_trip(value in nasty(), attr in nasty(), pwd in nasty(), field in name(), table in name()) {
        prop_assume!(field != "link");
        let rec = RecordData::new(&table).field(&field, value.clone());
        let req = Request {
            session: session(&pwd, &attr),
            commands: vec![
                Command::Write(Write { kind: WriteKind::Insert, catalogs: CatalogMode::Text, records: vec![rec] }),
                Command::Query(Query {
                    table: TableSpec::new(&table),
                    condition: Some(Condition::cond(&table, &field, Op::Ne, attr.clone())),
                    ..Query::default()
                }),
            ],
        };
        let xml = encode_request(&req).unwrap();

        // a strict, independent parser
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        prop_assert_eq!(root.attribute("pwd").unwrap().to_owned(), sanitize(&pwd).into_owned());
        prop_assert_eq!(root.attribute("impersonate").unwrap().to_owned(), sanitize(&attr).into_owned());
        let f = root.descendants().find(|n| n.has_tag_name(field.as_str()) && n.parent().is_some_and(|p| p.has_tag_name(table.as_str()))).unwrap();
        prop_assert_eq!(f.text().unwrap_or("").to_owned(), sanitize(&value).into_owned());
        let cond = root.descendants().find(|n| n.has_tag_name("cond")).unwrap();
        prop_assert_eq!(cond.attribute("value").unwrap().to_owned(), sanitize(&attr).into_owned());

        // our own reader agrees
        let el = dom::parse(&xml).unwrap();
        prop_assert_eq!(el.attr("pwd").unwrap().to_owned(), sanitize(&pwd).into_owned());
    }

    /// The escapers work byte by byte; they must give what escaping each character by the
    /// rules of their documentation gives (and borrow exactly when that changes nothing).
    #[test]
    fn escaping_agrees_with_the_character_rules(value in nasty()) {
        let text = by_characters(&value, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '\r' => Some("&#13;"),
            _ => None,
        });
        let attr = by_characters(&value, |c| match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&apos;"),
            '\t' => Some("&#9;"),
            '\n' => Some("&#10;"),
            '\r' => Some("&#13;"),
            _ => None,
        });
        let escaped_text = escape_text(&value);
        prop_assert_eq!(&*escaped_text, text.as_str());
        prop_assert_eq!(matches!(escaped_text, std::borrow::Cow::Borrowed(_)), text == value);
        let escaped_attr = escape_attr(&value);
        prop_assert_eq!(&*escaped_attr, attr.as_str());
        prop_assert_eq!(matches!(escaped_attr, std::borrow::Cow::Borrowed(_)), attr == value);
    }

    #[test]
    fn clean_strings_round_trip_exactly(value in "[^\u{0}-\u{8}\u{B}\u{C}\u{E}-\u{1F}\u{FFFE}\u{FFFF}]*") {
        prop_assert_eq!(sanitize(&value).into_owned(), value.clone());
        let xml = format!("<r a=\"{}\">{}</r>", escape_attr(&value), escape_text(&value));
        let el = dom::parse(&xml).unwrap();
        prop_assert_eq!(el.attr("a").unwrap(), value.as_str());
        prop_assert_eq!(el.text(), value.clone());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        prop_assert_eq!(doc.root_element().attribute("a").unwrap(), value.as_str());
        prop_assert_eq!(doc.root_element().text().unwrap_or(""), value.as_str());
    }

    #[test]
    fn response_records_round_trip(values in prop::collection::vec((name(), nasty()), 1..6), id in any::<u64>(), pad in 0usize..3, link in any::<u64>(), text in nasty()) {
        let mut xml = String::from("<?xml version=\"1.0\"?><response reqid=\"x\"><query>");
        xml.push_str(&format!("<Contact tableshort=\"MA\" id=\"{}{id}\">", " ".repeat(pad)));
        for (k, v) in &values {
            prop_assume!(k != "link");
            xml.push_str(&format!("<{k}>{}</{k}>", escape_text(v)));
        }
        xml.push_str(&format!("<link tablename=\"Person\" id=\"{link}\"/></Contact>"));
        xml.push_str(&format!("<return type=\"error\" code=\"500\" text=\"{}\"/></query></response>", escape_attr(&text)));
        let r = decode_response(&xml).unwrap();
        let rec = &r.results[0].records[0];
        prop_assert_eq!(rec.id, Some(CrmId(id)));
        prop_assert_eq!(rec.link("Person"), Some(CrmId(link)));
        for (i, (k, v)) in values.iter().enumerate() {
            prop_assert_eq!(&rec.fields[i].name, k);
            prop_assert_eq!(rec.fields[i].value.clone(), sanitize(v).into_owned());
        }
        let err = r.results[0].error().unwrap();
        prop_assert_eq!(err.text.clone().unwrap_or_default(), sanitize(&text).into_owned());
    }

    #[test]
    fn garbage_never_panics(s in any::<String>(), cut in 0usize..400) {
        let base = "<response reqid=\"x\"><query><Contact tableshort=\"MA\" id=\"4294967394\"><Subject>a &amp; b</Subject><link tablename=\"Person\" id=\"1\"/></Contact><return type=\"ok\" count=\"1\"/></query></response>";
        let cut = cut.min(base.len());
        let truncated = &base[..cut];
        let mixed = format!("{truncated}{s}");
        for input in [truncated, s.as_str(), mixed.as_str()] {
            match decode_response(input) {
                Ok(_) => {}
                Err(CrmError::MalformedResponse(_)) => {}
                Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
            }
        }
    }

    #[test]
    fn ids_survive_the_wire(stat in any::<u32>(), seq in any::<u32>()) {
        let id = CrmId::new(stat, seq);
        let rec = RecordData { id: Some(id), ..RecordData::new("Contact") }.link("Person", id);
        let req = Request { session: session("p", "email=a@b"), commands: vec![Command::Write(Write { kind: WriteKind::Update, catalogs: CatalogMode::Text, records: vec![rec] })] };
        let xml = encode_request(&req).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let c = doc.descendants().find(|n| n.has_tag_name("Contact")).unwrap();
        let parsed: CrmId = c.attribute("id").unwrap().parse().unwrap();
        prop_assert_eq!(parsed, id);
        prop_assert_eq!(parsed.stat_no(), stat);
        prop_assert_eq!(parsed.seq_no(), seq);
        let l = doc.descendants().find(|n| n.has_tag_name("link")).unwrap();
        prop_assert_eq!(l.attribute("id").unwrap().parse::<CrmId>().unwrap(), id);
    }
}
