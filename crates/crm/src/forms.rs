//! The CRM.interface `forms.xml` model: master users, SyncHandlers and their conditions,
//! the missing-attendees text block, option keys and the form field lists.
//!
//! forms.xml is CRM-side configuration (`Web/system/xml/`); the connector reads a copy to
//! honour it. A missing or malformed file is an error naming the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::api::ParticipantRole;
use crate::codec::{Condition, LogicalOp, Op};

/// Why forms.xml could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormsError {
    /// The file could not be read.
    #[error("cannot read forms.xml {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not well-formed XML or not the expected structure.
    #[error("{}line {line}: {message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Invalid {
        path: Option<PathBuf>,
        line: usize,
        message: String,
    },
}

/// A `<masterUser>` entry of `<authentication>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterUser {
    /// `client` (e.g. `GraphApi`, `outlook`, `notes`).
    pub client: String,
    /// `login`, split at commas (e.g. `Principal`, `ClientID`).
    pub login: Vec<String>,
    /// The CRM login acting as master (element text, e.g. `OCSU`).
    pub user: String,
    /// Line in forms.xml.
    pub line: usize,
}

/// A `<SyncHandler>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncHandler {
    /// `type`, e.g. `ExchangeConnector_VeventFilter`, `DeleteSync`, `Default`.
    pub kind: String,
    /// Its condition: sibling `<lop>`/`<cond>` elements combined with AND.
    pub condition: Option<Condition>,
}

/// How the missing-attendees text is written into the target field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingMode {
    /// The field holds only the block.
    Replace,
    /// The block is appended to the field's existing text.
    Append,
}

/// Labels of the block for one language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MissingLabels {
    pub header: String,
    pub required: String,
    pub optional: String,
    pub informational: String,
    pub unknown: String,
}

/// `<options><vevent><missing_attendees>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAttendees {
    /// Fields set on the record when attendees are missing: `(table, field, value)`, e.g.
    /// `(Contact, ConnectorMissingparticipants, true)`.
    pub flags: Vec<(String, String, String)>,
    /// Target field (e.g. `MissingParticipants`).
    pub field: String,
    /// Replace or append.
    pub mode: MissingMode,
    /// Labels per language code.
    pub labels: BTreeMap<String, MissingLabels>,
    /// Separator between addresses; `None` = one address per line.
    pub separator: Option<String>,
}

/// One `<form type=…>`: the fields exchanged per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `type`, e.g. `vevent`.
    pub kind: String,
    /// `(tablename, fields)`.
    pub tables: Vec<(String, Vec<String>)>,
}

/// The parsed forms.xml.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forms {
    pub master_users: Vec<MasterUser>,
    pub sync_handlers: Vec<SyncHandler>,
    /// Missing-attendees settings per options section (e.g. `vevent`).
    pub missing_attendees: BTreeMap<String, MissingAttendees>,
    /// `<key name value/>` per options section.
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    pub forms: Vec<Form>,
}

fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Ctx<'a> {
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, node: roxmltree::Node<'_, '_>, message: impl Into<String>) -> FormsError {
        FormsError::Invalid {
            path: None,
            line: line_of(self.text, node.range().start),
            message: message.into(),
        }
    }

    fn req<'n>(&self, node: roxmltree::Node<'n, '_>, attr: &str) -> Result<&'n str, FormsError> {
        node.attribute(attr)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                self.err(
                    node,
                    format!(
                        "<{}> needs a non-empty {attr} attribute",
                        node.tag_name().name()
                    ),
                )
            })
    }

    fn condition_item(
        &self,
        node: roxmltree::Node<'_, '_>,
    ) -> Result<Option<Condition>, FormsError> {
        match node.tag_name().name() {
            "cond" => {
                let op_s = self.req(node, "op")?;
                let op = Op::parse(op_s).ok_or_else(|| {
                    self.err(node, format!("unknown operator {op_s:?} in <cond>"))
                })?;
                let value = node
                    .attribute("value")
                    .ok_or_else(|| self.err(node, "<cond> needs a value attribute"))?;
                Ok(Some(Condition::Cond {
                    tablename: self.req(node, "tablename")?.to_owned(),
                    fieldname: self.req(node, "fieldname")?.to_owned(),
                    op,
                    value: value.to_owned(),
                }))
            }
            "lop" => {
                let v = self.req(node, "value")?;
                let op = match v.trim().to_ascii_lowercase().as_str() {
                    "and" => LogicalOp::And,
                    "or" => LogicalOp::Or,
                    other => {
                        return Err(self.err(
                            node,
                            format!("<lop value={other:?}> must be \"and\" or \"or\""),
                        ));
                    }
                };
                let mut items = Vec::new();
                for c in node.children().filter(|c| c.is_element()) {
                    if let Some(i) = self.condition_item(c)? {
                        items.push(i);
                    }
                }
                Ok(Some(Condition::Lop { op, items }))
            }
            other => Err(self.err(node, format!("unexpected <{other}> in a condition"))),
        }
    }
}

impl Forms {
    /// Reads and parses a forms.xml file.
    pub fn load(path: &Path) -> Result<Self, FormsError> {
        let text = std::fs::read_to_string(path).map_err(|source| FormsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            FormsError::Invalid { line, message, .. } => FormsError::Invalid {
                path: Some(path.to_owned()),
                line,
                message,
            },
            other => other,
        })
    }

    /// Parses forms.xml text.
    pub fn parse(text: &str) -> Result<Self, FormsError> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: false,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
            FormsError::Invalid {
                path: None,
                line: e.pos().row as usize,
                message: format!("not well-formed XML: {e}"),
            }
        })?;
        let cx = Ctx { text };
        let mut forms = Forms::default();
        let root = doc.root_element();

        for auth in root
            .descendants()
            .filter(|n| n.has_tag_name("authentication"))
        {
            for mu in auth.children().filter(|n| n.has_tag_name("masterUser")) {
                let user = mu.text().unwrap_or_default().trim().to_owned();
                if user.is_empty() {
                    return Err(cx.err(
                        mu,
                        "<masterUser> needs the CRM login as its text (e.g. OCSU)",
                    ));
                }
                forms.master_users.push(MasterUser {
                    client: cx.req(mu, "client")?.to_owned(),
                    login: mu
                        .attribute("login")
                        .unwrap_or_default()
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    user,
                    line: line_of(text, mu.range().start),
                });
            }
        }

        for sh in root.descendants().filter(|n| n.has_tag_name("SyncHandler")) {
            let kind = cx.req(sh, "type")?.to_owned();
            let mut condition = None;
            if let Some(c) = sh.children().find(|n| n.has_tag_name("condition")) {
                let mut items = Vec::new();
                for item in c.children().filter(|n| n.is_element()) {
                    if let Some(i) = cx.condition_item(item)? {
                        items.push(i);
                    }
                }
                condition = Some(if items.len() == 1 {
                    items.remove(0)
                } else {
                    Condition::Lop {
                        op: LogicalOp::And,
                        items,
                    }
                });
            }
            forms.sync_handlers.push(SyncHandler { kind, condition });
        }

        for options in root.children().filter(|n| n.has_tag_name("options")) {
            for section in options.children().filter(|n| n.is_element()) {
                let name = section.tag_name().name().to_owned();
                for child in section.children().filter(|n| n.is_element()) {
                    match child.tag_name().name() {
                        "key" => {
                            let k = cx.req(child, "name")?.to_owned();
                            let v = child.attribute("value").unwrap_or_default().to_owned();
                            forms.keys.entry(name.clone()).or_default().insert(k, v);
                        }
                        "missing_attendees" => {
                            forms
                                .missing_attendees
                                .insert(name.clone(), parse_missing(&cx, child)?);
                        }
                        _ => {}
                    }
                }
            }
        }

        for form in root.descendants().filter(|n| n.has_tag_name("form")) {
            let kind = cx.req(form, "type")?.to_owned();
            let mut tables = Vec::new();
            for t in form.children().filter(|n| n.has_tag_name("table")) {
                let tablename = cx.req(t, "tablename")?.to_owned();
                let mut fields = Vec::new();
                for f in t.children().filter(|n| n.has_tag_name("field")) {
                    fields.push(cx.req(f, "fieldname")?.to_owned());
                }
                tables.push((tablename, fields));
            }
            forms.forms.push(Form { kind, tables });
        }
        Ok(forms)
    }

    /// The master-user entry for a client kind (e.g. `GraphApi`), matched case-insensitively.
    pub fn master_user(&self, client: &str) -> Option<&MasterUser> {
        self.master_users
            .iter()
            .find(|m| m.client.eq_ignore_ascii_case(client))
    }

    /// A SyncHandler by type.
    pub fn sync_handler(&self, kind: &str) -> Option<&SyncHandler> {
        self.sync_handlers.iter().find(|h| h.kind == kind)
    }

    /// An option key (`<options><section><key name value/>`).
    pub fn key(&self, section: &str, name: &str) -> Option<&str> {
        self.keys.get(section)?.get(name).map(String::as_str)
    }

    /// `delete_sync_process_410` of the vevent section: a 410 (deleted in the mailbox)
    /// marks the activity deleted in CRM.
    pub fn delete_sync_process_410(&self) -> bool {
        self.key("vevent", "delete_sync_process_410")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
    }

    /// The fields of a form for a table (e.g. `("vevent", "Contact")`).
    pub fn form_fields(&self, kind: &str, table: &str) -> Option<&[String]> {
        self.forms
            .iter()
            .find(|f| f.kind == kind)?
            .tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, f)| f.as_slice())
    }
}

fn parse_missing(
    cx: &Ctx<'_>,
    node: roxmltree::Node<'_, '_>,
) -> Result<MissingAttendees, FormsError> {
    let mut flags = Vec::new();
    let mut summary = None;
    for c in node.children().filter(|n| n.is_element()) {
        if c.has_tag_name("summary") {
            summary = Some(c);
        } else {
            let table = c.tag_name().name().to_owned();
            for f in c.children().filter(|n| n.is_element()) {
                flags.push((
                    table.clone(),
                    f.tag_name().name().to_owned(),
                    f.text().unwrap_or_default().trim().to_owned(),
                ));
            }
        }
    }
    let summary = summary.ok_or_else(|| cx.err(node, "<missing_attendees> needs a <summary>"))?;
    let field_node = summary
        .children()
        .find(|n| n.has_tag_name("field"))
        .ok_or_else(|| cx.err(summary, "<summary> needs <field fieldname=… mode=…/>"))?;
    let field = cx.req(field_node, "fieldname")?.to_owned();
    let mode = match field_node
        .attribute("mode")
        .unwrap_or("replace")
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "replace" => MissingMode::Replace,
        "append" => MissingMode::Append,
        other => {
            return Err(cx.err(
                field_node,
                format!("mode {other:?} must be \"replace\" or \"append\""),
            ));
        }
    };
    let mut labels: BTreeMap<String, MissingLabels> = BTreeMap::new();
    let mut separator = None;
    for c in summary.children().filter(|n| n.is_element()) {
        let name = c.tag_name().name();
        if name == "email_separator" {
            separator = c.text().map(str::to_owned).filter(|s| !s.is_empty());
            continue;
        }
        if !matches!(
            name,
            "header" | "required" | "optional" | "informational" | "unknown"
        ) {
            continue;
        }
        let lang = cx.req(c, "lang")?.trim().to_ascii_lowercase();
        let text = c.text().unwrap_or_default().to_owned();
        let l = labels.entry(lang).or_default();
        match name {
            "header" => l.header = text,
            "required" => l.required = text,
            "optional" => l.optional = text,
            "informational" => l.informational = text,
            _ => l.unknown = text,
        }
    }
    if labels.is_empty() {
        return Err(cx.err(summary, "<summary> has no labels (<header lang=…> etc.)"));
    }
    Ok(MissingAttendees {
        flags,
        field,
        mode,
        labels,
        separator,
    })
}

impl MissingAttendees {
    /// Labels for a language (`de-DE` → `de`), falling back to English, then to any.
    pub fn labels_for(&self, lang: &str) -> Option<&MissingLabels> {
        let l = lang.trim().to_ascii_lowercase();
        let primary = l.split(['-', '_']).next().unwrap_or_default();
        self.labels
            .get(&l)
            .or_else(|| self.labels.get(primary))
            .or_else(|| self.labels.get("en"))
            .or_else(|| self.labels.values().next())
    }

    /// Formats the block: the header line, then per role (required, optional,
    /// informational, unknown) the label and the addresses joined with the separator, or,
    /// without separator, one `label address` line per address. Empty input gives "".
    pub fn format(&self, lang: &str, attendees: &[(ParticipantRole, String)]) -> String {
        let Some(labels) = self.labels_for(lang) else {
            return String::new();
        };
        if attendees.is_empty() {
            return String::new();
        }
        let mut lines = vec![labels.header.clone()];
        for (role, label) in [
            (ParticipantRole::Required, &labels.required),
            (ParticipantRole::Optional, &labels.optional),
            (ParticipantRole::Informational, &labels.informational),
            (ParticipantRole::Unknown, &labels.unknown),
        ] {
            let addrs: Vec<&str> = attendees
                .iter()
                .filter(|(r, _)| *r == role)
                .map(|(_, a)| a.as_str())
                .collect();
            if addrs.is_empty() {
                continue;
            }
            match &self.separator {
                Some(sep) => lines.push(format!("{label}{}", addrs.join(sep))),
                None => lines.extend(addrs.iter().map(|a| format!("{label}{a}"))),
            }
        }
        lines.join("\n")
    }

    /// Applies the block to the field's current value per mode. In append mode a block
    /// written earlier (recognised by any language's header line) is replaced rather than
    /// appended again, so re-synchronising does not repeat it.
    pub fn apply(&self, existing: Option<&str>, block: &str) -> String {
        match self.mode {
            MissingMode::Replace => block.to_owned(),
            MissingMode::Append => {
                let mut base = existing.unwrap_or_default().to_owned();
                let cut = self
                    .labels
                    .values()
                    .filter(|l| !l.header.is_empty())
                    .filter_map(|l| base.find(&l.header))
                    .min();
                if let Some(pos) = cut {
                    base.truncate(pos);
                }
                let base = base.trim_end();
                match (base.is_empty(), block.is_empty()) {
                    (true, _) => block.to_owned(),
                    (false, true) => base.to_owned(),
                    (false, false) => format!("{base}\n\n{block}"),
                }
            }
        }
    }
}

/// Evaluates a condition against one record's fields.
///
/// Conditions on other tables than `table` hold (a SyncHandler may mention several tables);
/// missing fields compare as empty; values compare case-insensitively; `true`/`false`
/// compare as booleans (a missing boolean is false); numbers compare numerically, anything
/// else as text (ISO dates order correctly as text).
pub fn evaluate(cond: &Condition, table: &str, fields: &BTreeMap<String, String>) -> bool {
    match cond {
        Condition::Lop {
            op: LogicalOp::And,
            items,
        } => items.iter().all(|c| evaluate(c, table, fields)),
        Condition::Lop {
            op: LogicalOp::Or,
            items,
        } => items.is_empty() || items.iter().any(|c| evaluate(c, table, fields)),
        Condition::Cond {
            tablename,
            fieldname,
            op,
            value,
        } => {
            if tablename != table {
                return true;
            }
            let actual = fields
                .get(fieldname)
                .map(String::as_str)
                .unwrap_or_default()
                .trim();
            let expected = value.trim();
            let ord = if let Some(b) = as_bool(expected) {
                as_bool(actual).unwrap_or(false).cmp(&b)
            } else if let (Ok(a), Ok(e)) = (actual.parse::<f64>(), expected.parse::<f64>()) {
                a.partial_cmp(&e).unwrap_or(std::cmp::Ordering::Equal)
            } else {
                actual.to_lowercase().cmp(&expected.to_lowercase())
            };
            match op {
                Op::Eq => ord.is_eq(),
                Op::Ne => !ord.is_eq(),
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
            }
        }
    }
}

fn as_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Forms {
        Forms::parse(include_str!("../tests/fixtures/forms.xml")).unwrap()
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
        let base = include_str!("../tests/fixtures/forms.xml");
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
}
