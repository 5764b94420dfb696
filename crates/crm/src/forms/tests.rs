//! Tests of the forms.xml model: the sample file, conditions, the missing-attendees block and
//! the errors of broken files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::api::ParticipantRole;
use crate::codec::{Condition, LogicalOp, Op};

fn sample() -> Forms {
    Forms::parse(include_str!("../../tests/fixtures/forms.xml")).unwrap()
}

#[test]
fn sample_parses() {
    let f = sample();
    assert_eq!(f.master_users.len(), 3);
    let g = f.master_user("GraphApi").unwrap();
    assert_eq!(g.user, "OCSU");
    assert_eq!(g.login, vec!["Principal", "ClientID"]);
    assert_eq!(g.line, 8);
    let h = f.sync_handler("ExchangeConnector_VeventFilter").unwrap();
    assert!(
        matches!(h.condition, Some(Condition::Lop { op: LogicalOp::And, ref items }) if items.len() == 2)
    );
    assert!(f.delete_sync_process_410());
    let m = &f.missing_attendees["vevent"];
    assert_eq!(m.field, "MissingParticipants");
    assert_eq!(m.mode, MissingMode::Replace);
    assert_eq!(m.separator.as_deref(), Some(", "));
    assert_eq!(
        m.flags,
        vec![(
            "Contact".into(),
            "ConnectorMissingparticipants".into(),
            "true".into()
        )]
    );
    let fields = f.form_fields("vevent", "Contact").unwrap();
    assert_eq!(fields.len(), 50);
    assert_eq!(fields[0], "StatNo");
    assert!(fields.iter().any(|x| x == "F5044"));
}

#[test]
fn handler_condition_evaluates() {
    let f = sample();
    let c = f
        .sync_handler("ExchangeConnector_VeventFilter")
        .unwrap()
        .condition
        .clone()
        .unwrap();
    let mut rec = BTreeMap::new();
    assert!(evaluate(&c, "Contact", &rec));
    rec.insert("ConnectorDeleted".to_owned(), "true".to_owned());
    assert!(!evaluate(&c, "Contact", &rec));
    rec.insert("ConnectorDeleted".to_owned(), "false".to_owned());
    rec.insert("ConnectorPublished".to_owned(), "TRUE".to_owned());
    assert!(!evaluate(&c, "Contact", &rec));
    rec.insert("ConnectorPublished".to_owned(), "false".to_owned());
    assert!(evaluate(&c, "Contact", &rec));
    // conditions on other tables do not filter this one
    assert!(evaluate(
        &c,
        "Tasks",
        &BTreeMap::from([("ConnectorDeleted".to_owned(), "true".to_owned())])
    ));
}

#[test]
fn comparisons() {
    let rec = BTreeMap::from([
        ("Date".to_owned(), "2024-03-05".to_owned()),
        ("N".to_owned(), "10".to_owned()),
    ]);
    let c = |f: &str, op, v: &str| Condition::cond("T", f, op, v);
    assert!(evaluate(&c("Date", Op::Ge, "2024-03-01"), "T", &rec));
    assert!(!evaluate(&c("Date", Op::Lt, "2024-03-01"), "T", &rec));
    assert!(evaluate(&c("N", Op::Gt, "9"), "T", &rec));
    assert!(evaluate(
        &Condition::or(vec![c("N", Op::Eq, "1"), c("N", Op::Eq, "10")]),
        "T",
        &rec
    ));
}

const ATTENDEES: &[(ParticipantRole, &str)] = &[
    (ParticipantRole::Required, "a@x.com"),
    (ParticipantRole::Optional, "c@z.com"),
    (ParticipantRole::Required, "b@y.com"),
    (ParticipantRole::Unknown, "d@w.com"),
];

fn attendees() -> Vec<(ParticipantRole, String)> {
    ATTENDEES
        .iter()
        .map(|(r, a)| (*r, (*a).to_owned()))
        .collect()
}

#[test]
fn missing_text_both_languages() {
    let m = sample().missing_attendees["vevent"].clone();
    assert_eq!(
        m.format("en", &attendees()),
        "Unassigned participants:\nTo: a@x.com, b@y.com\nCC: c@z.com\nUnknown: d@w.com"
    );
    assert_eq!(
        m.format("de-DE", &attendees()),
        "Fehlende Teilnehmer:\nTo: a@x.com, b@y.com\nCC: c@z.com\nUnbekannt: d@w.com"
    );
    // unknown language falls back to English
    assert!(
        m.format("fr", &attendees())
            .starts_with("Unassigned participants:")
    );
    assert_eq!(m.format("en", &[]), "");
}

#[test]
fn missing_text_without_separator_is_one_per_line() {
    let mut m = sample().missing_attendees["vevent"].clone();
    m.separator = None;
    assert_eq!(
        m.format("en", &attendees()[..3]),
        "Unassigned participants:\nTo: a@x.com\nTo: b@y.com\nCC: c@z.com"
    );
}

#[test]
fn replace_and_append_modes() {
    let mut m = sample().missing_attendees["vevent"].clone();
    let block = m.format("en", &attendees()[..1]);
    assert_eq!(m.apply(Some("old text"), &block), block);
    m.mode = MissingMode::Append;
    let once = m.apply(Some("Agenda: budget"), &block);
    assert_eq!(
        once,
        "Agenda: budget\n\nUnassigned participants:\nTo: a@x.com"
    );
    // appending again replaces the earlier block instead of repeating it
    let block_de = m.format("de", &attendees()[..1]);
    let twice = m.apply(Some(&once), &block_de);
    assert_eq!(twice, "Agenda: budget\n\nFehlende Teilnehmer:\nTo: a@x.com");
    assert_eq!(m.apply(Some(&once), ""), "Agenda: budget");
    assert_eq!(m.apply(None, &block), block);
}

fn broken(text: &str) -> (usize, String) {
    match Forms::parse(text) {
        Err(FormsError::Invalid { line, message, .. }) => (line, message),
        other => panic!("expected error, got {other:?}"),
    }
}

#[test]
fn broken_variants_name_the_line() {
    let base = include_str!("../../tests/fixtures/forms.xml");
    // unclosed element: reported where the parser notices (the mismatched end tag)
    let t = base.replacen("</authentication>", "", 1);
    let (line, msg) = broken(&t);
    assert_eq!(line, 10, "{msg}");
    // bad operator on line 14
    let t = base.replacen("op=\"!=\" value=\"true\"/>", "op=\"~\" value=\"true\"/>", 1);
    let (line, msg) = broken(&t);
    assert_eq!(line, 14);
    assert!(msg.contains("operator"));
    // bad mode
    let t = base.replace("mode='replace'", "mode='prepend'");
    let (line, msg) = broken(&t);
    assert_eq!(line, 30);
    assert!(msg.contains("prepend"));
    // master user without login text
    let t = base.replace(
        ">OCSU</masterUser>\n    </authentication>",
        "></masterUser>\n    </authentication>",
    );
    let (line, _) = broken(&t);
    assert_eq!(line, 8);
    // field without fieldname
    let t = base.replace("<field fieldname='Subject'/>", "<field/>");
    let (line, _) = broken(&t);
    assert_eq!(
        line,
        base.lines()
            .position(|l| l.contains("fieldname='Subject'"))
            .unwrap()
            + 1
    );
    // not XML at all
    let (line, _) = broken("\n\nhello");
    assert_eq!(line, 3);
}

#[test]
fn load_names_file() {
    let dir = tempfile_dir();
    let p = dir.join("forms.xml");
    std::fs::write(&p, "<root>\n<SyncHandler/>\n</root>").unwrap();
    let e = Forms::load(&p).unwrap_err().to_string();
    assert!(e.contains("forms.xml") && e.contains("line 2"), "{e}");
    let e = Forms::load(&dir.join("missing.xml")).unwrap_err();
    assert!(matches!(e, FormsError::Io { .. }));
    assert!(e.to_string().contains("missing.xml"));
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("gc-crm-forms-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
