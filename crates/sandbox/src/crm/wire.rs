//! Server-side reading of CRM.interface requests (with roxmltree, a strict XML 1.0 parser,
//! deliberately not the client's quick-xml) and writing of responses.
//!
//! Written from the research note (docs/CRM-INTERFACE.md), independently of gc-crm, so that
//! a client mistake shows up as an error here instead of being mirrored.

use std::collections::BTreeMap;

/// Catalog representation requested by a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CatMode {
    Text,
    ByNum,
    ExKeys,
}

#[derive(Debug, Clone)]
pub(crate) struct TableNode {
    pub name: String,
    pub alias: Option<String>,
    pub children: Vec<TableNode>,
}

impl TableNode {
    /// The name records of this node carry in the response (alias wins).
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Cmp {
        table: String,
        field: String,
        op: String,
        value: String,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Debug, Clone)]
pub(crate) struct QueryCmd {
    pub table: TableNode,
    pub cond: Option<Cond>,
    /// Requested fields per table name or alias; absent = all fields.
    pub fields: BTreeMap<String, Vec<String>>,
    pub max: Option<usize>,
    pub cat: CatMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    Insert,
    Update,
    Delete,
    Import,
}

impl WriteKind {
    pub fn name(self) -> &'static str {
        match self {
            WriteKind::Insert => "insert",
            WriteKind::Update => "update",
            WriteKind::Delete => "delete",
            WriteKind::Import => "import",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InField {
    pub name: String,
    pub value: String,
    pub matchup: bool,
    pub encoding: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct InRecord {
    pub table: String,
    pub id: Option<u64>,
    pub fields: Vec<InField>,
    pub links: Vec<(String, u64)>,
    /// Child records written inside this one (insert only): each is inserted after it,
    /// linked to it (research note: "an import could alternatively nest child records under
    /// the parent", INF).
    pub children: Vec<InRecord>,
}

#[derive(Debug, Clone)]
pub(crate) enum Cmd {
    Query(QueryCmd),
    Write {
        kind: WriteKind,
        cat: CatMode,
        records: Vec<InRecord>,
    },
    Nop,
    /// A command that could not be understood: `(element name, code, text)`.
    Bad(String, u16, String),
}

#[derive(Debug, Clone)]
pub(crate) struct ParsedRequest {
    pub attrs: Vec<(String, String)>,
    pub commands: Vec<Cmd>,
}

impl ParsedRequest {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Attributes CRM.interface processes itself; everything else on `<request>` is echoed.
const PROCESSED: &[&str] = &[
    "user",
    "pwd",
    "auth",
    "domain",
    "impersonate",
    "lang",
    "xml:lang",
    "ixslt",
    "oxslt",
    "log",
    "logmode",
    "noerrorlog",
];

pub(crate) fn echoed(attrs: &[(String, String)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .filter(|(k, _)| !PROCESSED.contains(&k.as_str()))
        .cloned()
        .collect()
}

pub(crate) fn parse_id(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_bool_attr(n: roxmltree::Node<'_, '_>, name: &str) -> bool {
    n.attribute(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

fn cat_mode(n: roxmltree::Node<'_, '_>) -> Result<CatMode, (u16, String)> {
    if n.attribute("catformat").is_some() {
        return Err((415, "catformat is not supported".into()));
    }
    match (
        parse_bool_attr(n, "catbynum"),
        parse_bool_attr(n, "catexkeys"),
    ) {
        (true, true) => Err((400, "catbynum and catexkeys cannot be combined".into())),
        (true, false) => Ok(CatMode::ByNum),
        (false, true) => Ok(CatMode::ExKeys),
        (false, false) => Ok(CatMode::Text),
    }
}

/// Parses a request document. `Err` = not a request at all (answered with a session-level
/// error).
pub(crate) fn parse_request(xml: &str) -> Result<ParsedRequest, String> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| format!("request is not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "request" {
        return Err(format!(
            "root element must be <request>, not <{}>",
            root.tag_name().name()
        ));
    }
    let attrs = root
        .attributes()
        .map(|a| {
            let name = match a.namespace() {
                Some("http://www.w3.org/XML/1998/namespace") => {
                    format!("xml:{}", a.name())
                }
                _ => a.name().to_owned(),
            };
            (name, a.value().to_owned())
        })
        .collect();
    let mut commands = Vec::new();
    for c in root.children().filter(|n| n.is_element()) {
        let name = c.tag_name().name().to_owned();
        let cmd = match name.as_str() {
            "nop" => Cmd::Nop,
            "query" => match parse_query(c) {
                Ok(q) => Cmd::Query(q),
                Err((code, text)) => Cmd::Bad(name, code, text),
            },
            "insert" | "update" | "delete" | "import" => {
                let kind = match name.as_str() {
                    "insert" => WriteKind::Insert,
                    "update" => WriteKind::Update,
                    "delete" => WriteKind::Delete,
                    _ => WriteKind::Import,
                };
                match parse_write(c, kind) {
                    Ok((cat, records)) => Cmd::Write { kind, cat, records },
                    Err((code, text)) => Cmd::Bad(name, code, text),
                }
            }
            other => Cmd::Bad(
                name.clone(),
                501,
                format!("command <{other}> is not implemented"),
            ),
        };
        commands.push(cmd);
    }
    Ok(ParsedRequest { attrs, commands })
}

fn req_attr<'a>(n: roxmltree::Node<'a, '_>, a: &str) -> Result<&'a str, (u16, String)> {
    n.attribute(a)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            (
                412,
                format!("<{}> requires attribute {a}", n.tag_name().name()),
            )
        })
}

fn parse_table(n: roxmltree::Node<'_, '_>) -> Result<TableNode, (u16, String)> {
    let mut children = Vec::new();
    for c in n.children().filter(|c| c.is_element()) {
        if c.tag_name().name() != "table" {
            return Err((
                400,
                format!("unexpected <{}> in <table>", c.tag_name().name()),
            ));
        }
        children.push(parse_table(c)?);
    }
    Ok(TableNode {
        name: req_attr(n, "tablename")?.to_owned(),
        alias: n.attribute("alias").map(str::to_owned),
        children,
    })
}

fn parse_cond(n: roxmltree::Node<'_, '_>) -> Result<Cond, (u16, String)> {
    match n.tag_name().name() {
        "cond" => {
            let op = req_attr(n, "op")?.trim().to_owned();
            if !["=", "!=", "<>", "<", "<=", ">", ">="].contains(&op.as_str()) {
                return Err((400, format!("unknown operator {op:?}")));
            }
            let table = n
                .attribute("alias")
                .or(n.attribute("tablename"))
                .ok_or_else(|| (412, "<cond> requires tablename".to_owned()))?;
            Ok(Cond::Cmp {
                table: table.to_owned(),
                field: req_attr(n, "fieldname")?.to_owned(),
                op,
                value: n
                    .attribute("value")
                    .ok_or_else(|| (412, "<cond> requires value".to_owned()))?
                    .to_owned(),
            })
        }
        "lop" => {
            let items = n
                .children()
                .filter(|c| c.is_element())
                .map(parse_cond)
                .collect::<Result<Vec<_>, _>>()?;
            match req_attr(n, "value")?.trim().to_ascii_lowercase().as_str() {
                "and" => Ok(Cond::And(items)),
                "or" => Ok(Cond::Or(items)),
                other => Err((400, format!("<lop value={other:?}> must be and/or"))),
            }
        }
        other => Err((400, format!("unexpected <{other}> in <condition>"))),
    }
}

fn parse_query(q: roxmltree::Node<'_, '_>) -> Result<QueryCmd, (u16, String)> {
    let cat = cat_mode(q)?;
    let max = match q.attribute("maxrecords") {
        Some(m) => Some(
            m.trim()
                .parse::<usize>()
                .map_err(|_| (400, format!("maxrecords {m:?} is not a number")))?,
        ),
        None => None,
    };
    let tables = q
        .children()
        .find(|c| c.has_tag_name("tables"))
        .ok_or_else(|| (412, "<query> requires <tables>".to_owned()))?;
    let first = tables
        .children()
        .find(|c| c.has_tag_name("table"))
        .ok_or_else(|| (412, "<tables> requires a <table>".to_owned()))?;
    let table = parse_table(first)?;
    let mut cond = None;
    if let Some(c) = q.children().find(|c| c.has_tag_name("condition")) {
        let items = c
            .children()
            .filter(|n| n.is_element())
            .map(parse_cond)
            .collect::<Result<Vec<_>, _>>()?;
        cond = Some(Cond::And(items));
    }
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in q.children().filter(|c| c.has_tag_name("fields")) {
        if let Some(list) = f.attribute("fields") {
            let t = req_attr(f, "tablename")?;
            fields.entry(t.to_owned()).or_default().extend(
                list.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty()),
            );
        }
        for one in f.children().filter(|c| c.has_tag_name("field")) {
            let t = req_attr(one, "tablename")?;
            fields
                .entry(t.to_owned())
                .or_default()
                .push(req_attr(one, "fieldname")?.to_owned());
        }
    }
    Ok(QueryCmd {
        table,
        cond,
        fields,
        max,
        cat,
    })
}

fn parse_write(
    w: roxmltree::Node<'_, '_>,
    kind: WriteKind,
) -> Result<(CatMode, Vec<InRecord>), (u16, String)> {
    let cat = cat_mode(w)?;
    let fields = w
        .children()
        .find(|c| c.has_tag_name("fields"))
        .ok_or_else(|| (412, format!("<{}> requires <fields>", kind.name())))?;
    let mut out = Vec::new();
    for r in fields.children().filter(|c| c.is_element()) {
        let id = match r.attribute("id") {
            Some(i) => {
                Some(parse_id(i).ok_or_else(|| (400, format!("id {i:?} is not a record id")))?)
            }
            None => None,
        };
        if matches!(kind, WriteKind::Update | WriteKind::Delete) && id.is_none() {
            return Err((
                412,
                format!(
                    "<{}> of <{}> requires an id",
                    kind.name(),
                    r.tag_name().name()
                ),
            ));
        }
        out.push(parse_record(r, kind, id, true)?);
    }
    Ok((cat, out))
}

/// One record of a write: fields, links, and (for an insert, one level deep) child records,
/// told apart from fields by having elements inside.
fn parse_record(
    r: roxmltree::Node<'_, '_>,
    kind: WriteKind,
    id: Option<u64>,
    top: bool,
) -> Result<InRecord, (u16, String)> {
    let mut rec = InRecord {
        table: r.tag_name().name().to_owned(),
        id,
        fields: Vec::new(),
        links: Vec::new(),
        children: Vec::new(),
    };
    for f in r.children().filter(|c| c.is_element()) {
        if f.has_tag_name("link") {
            let t = req_attr(f, "tablename")?;
            let i = req_attr(f, "id")?;
            rec.links.push((
                t.to_owned(),
                parse_id(i).ok_or_else(|| (400, format!("link id {i:?} is not a record id")))?,
            ));
            continue;
        }
        if f.children().any(|c| c.is_element()) {
            if !top || kind != WriteKind::Insert {
                return Err((
                    400,
                    format!("field <{}> must not contain elements", f.tag_name().name()),
                ));
            }
            rec.children.push(parse_record(f, kind, None, false)?);
            continue;
        }
        rec.fields.push(InField {
            name: f.tag_name().name().to_owned(),
            value: f.text().unwrap_or_default().to_owned(),
            matchup: parse_bool_attr(f, "matchup"),
            encoding: f.attribute("encoding").map(str::to_owned),
        });
    }
    Ok(rec)
}

// ---------------------------------------------------------------------------------------
// writing

fn esc(s: &str, attr: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' if attr => o.push_str("&quot;"),
            '\r' => o.push_str("&#13;"),
            '\n' if attr => o.push_str("&#10;"),
            '\t' if attr => o.push_str("&#9;"),
            // stored values never contain characters XML 1.0 cannot carry (roxmltree
            // rejected them on the way in), but seeds and control calls could: drop them
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

/// A response element under construction.
#[derive(Debug, Default)]
pub(crate) struct Out {
    buf: String,
}

impl Out {
    pub fn new() -> Self {
        Self {
            buf: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        }
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, String)], empty: bool) {
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            self.buf.push_str(&esc(v, true));
            self.buf.push('"');
        }
        self.buf.push_str(if empty { "/>" } else { ">" });
    }

    pub fn close(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn text_element(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.open(name, attrs, false);
        self.buf.push_str(&esc(text, false));
        self.close(name);
    }

    pub fn ret(&mut self, attrs: &[(&str, String)]) {
        self.open("return", attrs, true);
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

/// A whole response consisting of one session-level error.
pub(crate) fn session_error(echo: &[(String, String)], code: u16, text: &str) -> String {
    let mut o = Out::new();
    let attrs: Vec<(&str, String)> = echo.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    o.open("response", &attrs, false);
    o.ret(&[
        ("type", "error".into()),
        ("code", code.to_string()),
        ("text", text.to_owned()),
    ]);
    o.close("response");
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_query() {
        let xml = r#"<request reqid="7" user="OCSU" pwd="x" foo="bar">
  <query maxrecords="50">
    <tables><table tablename="Company"><table tablename="Person"><table tablename="Contact"/></table>
      <table tablename="Contact" alias="Contact2"/></table></tables>
    <condition><cond tablename="Contact" alias="Contact2" fieldname="PeGrp" op="=" value="0"/></condition>
    <fields tablename="Company" fields="Company"/>
    <fields><field tablename="Company" fieldname="FreeC1"/></fields>
  </query><nop/><frobnicate/></request>"#;
        let r = parse_request(xml).unwrap();
        assert_eq!(
            echoed(&r.attrs),
            vec![
                ("reqid".to_owned(), "7".to_owned()),
                ("foo".to_owned(), "bar".to_owned())
            ]
        );
        let Cmd::Query(q) = &r.commands[0] else {
            panic!()
        };
        assert_eq!(q.max, Some(50));
        assert_eq!(q.table.children.len(), 2);
        assert_eq!(q.table.children[1].label(), "Contact2");
        assert_eq!(q.fields["Company"], vec!["Company", "FreeC1"]);
        assert!(matches!(r.commands[1], Cmd::Nop));
        assert!(matches!(r.commands[2], Cmd::Bad(_, 501, _)));
    }

    #[test]
    fn an_insert_record_may_hold_child_records() {
        let xml = r#"<request user="OCSU" pwd="x">
  <insert><fields><Contact><Subject>s</Subject>
    <ExternalKey><ExtKey>k</ExtKey></ExternalKey>
    <Participant><EMail>a@x</EMail><link tablename="Person" id="7"/></Participant>
  </Contact></fields></insert>
  <update><fields><Contact id="1"><Subject>s</Subject><Participant><EMail>a@x</EMail></Participant></Contact></fields></update>
</request>"#;
        let r = parse_request(xml).unwrap();
        let Cmd::Write { records, .. } = &r.commands[0] else {
            panic!("a write");
        };
        let c = &records[0];
        assert_eq!(c.fields.len(), 1);
        let tables: Vec<&str> = c.children.iter().map(|c| c.table.as_str()).collect();
        assert_eq!(tables, ["ExternalKey", "Participant"]);
        assert_eq!(c.children[1].links, [("Person".to_owned(), 7)]);
        // Only an insert nests.
        assert!(
            matches!(&r.commands[1], Cmd::Bad(_, 400, _)),
            "{:?}",
            r.commands[1]
        );
    }

    #[test]
    fn rejects_non_xml10() {
        assert!(parse_request("<request a=\"&#1;\"/>").is_err());
        assert!(parse_request("<request>\u{1}</request>").is_err());
        assert!(parse_request("<req/>").is_err());
    }

    #[test]
    fn escapes_output() {
        let mut o = Out::new();
        o.text_element("a", &[("t", "\"<\n".into())], "x&y\r");
        assert!(
            o.finish()
                .ends_with("<a t=\"&quot;&lt;&#10;\">x&amp;y&#13;</a>")
        );
    }
}
