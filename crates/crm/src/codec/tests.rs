//! Unit tests of the codec: request shapes, refused names, nested inserts, response shapes
//! and malformed responses.

use super::*;
use crate::error::CrmError;
use gc_ids::CrmId;
use secrecy::SecretString;

fn session() -> SessionAttrs {
    SessionAttrs {
        user: "OCSU".into(),
        pwd: SecretString::from("s&cret\"<"),
        impersonate: Some("email=simon@example.com".into()),
        lang: Some("en".into()),
        reqid: "r1".into(),
    }
}

#[test]
fn query_shape() {
    let q = Query {
        table: TableSpec::new("Company").with_child(TableSpec::new("Person")),
        condition: Some(Condition::and(vec![
            Condition::cond("Person", "EMail1", Op::Eq, "a@x.com"),
            Condition::cond("Person", "LastName", Op::Ne, "<&>"),
        ])),
        fields: vec![FieldList::new("Person", &["FirstName", "LastName"])],
        max_records: Some(5),
        catalogs: CatalogMode::ByNum,
    };
    let xml = encode_request(&Request {
        session: session(),
        commands: vec![Command::Query(q), Command::Nop],
    })
    .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "request");
    assert_eq!(root.attribute("pwd"), Some("s&cret\"<"));
    assert_eq!(
        root.attribute("impersonate"),
        Some("email=simon@example.com")
    );
    let query = root.children().find(|n| n.has_tag_name("query")).unwrap();
    assert_eq!(query.attribute("catbynum"), Some("true"));
    assert_eq!(query.attribute("maxrecords"), Some("5"));
    let lop = query.descendants().find(|n| n.has_tag_name("lop")).unwrap();
    assert_eq!(lop.attribute("value"), Some("and"));
    let conds: Vec<_> = lop.children().filter(|n| n.is_element()).collect();
    assert_eq!(conds[1].attribute("value"), Some("<&>"));
    assert_eq!(conds[1].attribute("op"), Some("!="));
    let nested = query
        .descendants()
        .filter(|n| n.has_tag_name("table"))
        .count();
    assert_eq!(nested, 2);
    assert!(root.children().any(|n| n.has_tag_name("nop")));
}

#[test]
fn rejects_bad_names() {
    let w = Write {
        kind: WriteKind::Insert,
        catalogs: CatalogMode::Text,
        records: vec![RecordData::new("Con tact")],
    };
    let err = encode_request(&Request {
        session: session(),
        commands: vec![Command::Write(w)],
    })
    .unwrap_err();
    assert!(matches!(err, CrmError::InvalidRequest(_)));
    let w = Write {
        kind: WriteKind::Update,
        catalogs: CatalogMode::Text,
        records: vec![RecordData::new("Contact")],
    };
    assert!(
        encode_request(&Request {
            session: session(),
            commands: vec![Command::Write(w)]
        })
        .is_err()
    );
}

#[test]
fn an_insert_nests_child_records_inside_the_parent() {
    let mut parent = RecordData::new("Contact").field("Subject", "a <b> & c");
    parent.children = vec![
        RecordData::new("ExternalKey").field("ExtKey", "<m@x>"),
        RecordData::new("Participant")
            .field("EMail", "ann@x.example")
            .link("Person", CrmId(7)),
    ];
    let w = Write {
        kind: WriteKind::Insert,
        catalogs: CatalogMode::Text,
        records: vec![parent.clone()],
    };
    let xml = encode_request(&Request {
        session: session(),
        commands: vec![Command::Write(w)],
    })
    .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let contact = doc
        .descendants()
        .find(|n| n.has_tag_name("Contact"))
        .unwrap();
    let inside: Vec<&str> = contact
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(inside, ["Subject", "ExternalKey", "Participant"]);
    let key = contact
        .children()
        .find(|n| n.has_tag_name("ExternalKey"))
        .unwrap();
    assert_eq!(
        key.children()
            .find(|n| n.has_tag_name("ExtKey"))
            .unwrap()
            .text(),
        Some("<m@x>")
    );
    // Only an insert nests.
    let mut updated = parent;
    updated.id = Some(CrmId(1));
    let w = Write {
        kind: WriteKind::Update,
        catalogs: CatalogMode::Text,
        records: vec![updated],
    };
    let err = encode_request(&Request {
        session: session(),
        commands: vec![Command::Write(w)],
    })
    .unwrap_err();
    assert!(matches!(err, CrmError::InvalidRequest(_)), "{err:?}");
}

#[test]
fn debug_hides_password() {
    let r = Request {
        session: session(),
        commands: vec![],
    };
    assert!(!format!("{r:?}").contains("s&cret"));
}

#[test]
fn response_shape() {
    let xml = r#"<?xml version="1.0"?>
<response reqid="r1">
  <query>
    <Contact tableshort="MA" id=" 4294967394">
      <Subject>Kick-off &amp; more</Subject>
      <Contact code="3">Meeting</Contact>
      <link tablename="Person" id="8589934593"/>
      <Participant tableshort="MB" id="12"><EMail>a@x.com</EMail></Participant>
    </Contact>
    <return type="ok" count="1"/>
  </query>
  <insert><return type="error" code="500" text="Permission denied" tablename="Contact"/></insert>
</response>"#;
    let r = decode_response(xml).unwrap();
    assert_eq!(r.attr("reqid"), Some("r1"));
    let rec = &r.results[0].records[0];
    assert_eq!(rec.id, Some(CrmId::new(1, 98)));
    assert_eq!(rec.tableshort.as_deref(), Some("MA"));
    assert_eq!(rec.get("Subject"), Some("Kick-off & more"));
    assert_eq!(rec.link("Person"), Some(CrmId::new(2, 1)));
    assert_eq!(rec.children[0].get("EMail"), Some("a@x.com"));
    assert_eq!(r.results[0].returns[0].count, Some(1));
    let e = r.results[1].error().unwrap();
    assert_eq!(e.code, Some(500));
    assert_eq!(e.tablename.as_deref(), Some("Contact"));
}

/// Records are converted while the document is read: each lands in its own command's
/// result, in order, around returns at the root and commands with nothing in them.
#[test]
fn records_land_in_their_commands() {
    let xml = r#"<response>
  <return type="ok" text="session"/>
  <query><A id="1"><F>a1</F></A><A id="2"><F>a2</F></A><return type="ok" count="2"/></query>
  <delete/>
  <query><B id="3"><F>b3</F></B></query>
  <return type="ok" text="done"/>
  <insert><return type="insert" id="4"/></insert>
</response>"#;
    let r = decode_response(xml).unwrap();
    assert_eq!(r.returns.len(), 2);
    let commands: Vec<&str> = r.results.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(commands, ["query", "delete", "query", "insert"]);
    let values = |i: usize| -> Vec<&str> {
        r.results[i]
            .records
            .iter()
            .filter_map(|rec| rec.get("F"))
            .collect()
    };
    assert_eq!(values(0), ["a1", "a2"]);
    assert_eq!(r.results[0].returns[0].count, Some(2));
    assert!(r.results[1].records.is_empty() && r.results[1].returns.is_empty());
    assert_eq!(values(2), ["b3"]);
    assert_eq!(r.results[3].returns[0].id, Some(CrmId::new(0, 4)));
    // Something else than a response is said to be one, not a bad record.
    let err = decode_response("<html><body><p id='x'>no</p></body></html>").unwrap_err();
    assert!(err.to_string().contains("expected <response>"), "{err}");
}

#[test]
fn malformed_responses() {
    for bad in [
        "<html>oops</html>",
        "<response><query><Contact id='x'/></query></response>",
        "<response><return code='1'/></response>",
        "<response><query><return type='ok' code='abc'/></query></response>",
        "<response><query><Contact id='1'><link id='1'/></Contact></query></response>",
        "<response><query><Contact id='1'><A><B/></A></Contact></query></response>",
        "<response>",
        "",
    ] {
        assert!(
            matches!(decode_response(bad), Err(CrmError::MalformedResponse(_))),
            "{bad}"
        );
    }
}
