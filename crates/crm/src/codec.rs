//! The CRM.interface request language: building `<request>` documents and reading
//! `<response>` documents.
//!
//! Requests are written with quick-xml's [`Writer`]; every value goes through
//! [`dom::escape_text`]/[`dom::escape_attr`] (see [`crate::dom`] for the character policy)
//! and every element or attribute name is checked, so no caller-provided string can change
//! the document structure. Responses are read with quick-xml into [`dom::Element`]s, one
//! record at a time, and interpreted here; anything unexpected is
//! [`CrmError::MalformedResponse`].

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use secrecy::{ExposeSecret, SecretString};

use crate::dom::{self, Element, Node};
use crate::error::CrmError;
use gc_ids::CrmId;

/// Session attributes of a `<request>`.
#[derive(Debug, Clone)]
pub struct SessionAttrs {
    /// Login of the (master) user.
    pub user: String,
    /// Its password; written into `pwd`, never into logs or errors.
    pub pwd: SecretString,
    /// `impersonate` value, e.g. `email=simon.seller@example.com`.
    pub impersonate: Option<String>,
    /// `lang` (ISO 639 code or Aurea language index).
    pub lang: Option<String>,
    /// Correlation id, sent as the custom attribute `reqid` and echoed by the server.
    pub reqid: String,
}

/// How catalog values are exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogMode {
    /// Text in the session language (CRM.interface's default).
    #[default]
    Text,
    /// Numeric codes (`catbynum="true"`).
    ByNum,
    /// External keys (`catexkeys="true"`).
    ExKeys,
}

/// A request: session attributes plus commands executed in order.
#[derive(Debug, Clone)]
pub struct Request {
    /// Session attributes.
    pub session: SessionAttrs,
    /// Commands.
    pub commands: Vec<Command>,
}

/// One command of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `<query>`.
    Query(Query),
    /// `<insert>`, `<update>`, `<delete>` or `<import>`.
    Write(Write),
    /// `<nop/>`: does nothing; used to test a login.
    Nop,
}

/// A `<query>` command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The root table; nested tables are linked child records.
    pub table: TableSpec,
    /// Optional filter.
    pub condition: Option<Condition>,
    /// Output columns per table (`<fields tablename fields="a,b"/>`).
    pub fields: Vec<FieldList>,
    /// `maxrecords`.
    pub max_records: Option<u32>,
    /// Catalog representation.
    pub catalogs: CatalogMode,
}

impl Query {
    /// A query of one table: `fields` of the records of `table` that match `condition`, catalog
    /// values as text. Nearly every read the connector makes has this shape.
    pub fn on(table: &str, condition: Option<Condition>, fields: Vec<String>) -> Self {
        Query {
            table: TableSpec::new(table),
            condition,
            fields: vec![FieldList {
                tablename: table.to_owned(),
                fields,
            }],
            max_records: None,
            catalogs: CatalogMode::Text,
        }
    }
}

/// A `<table>` in `<tables>`; children are records linked to the parent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableSpec {
    /// XML table name, e.g. `Contact`.
    pub tablename: String,
    /// Alias (needed when the same table is read twice).
    pub alias: Option<String>,
    /// Linked child tables.
    pub children: Vec<TableSpec>,
}

impl TableSpec {
    /// A table without alias or children.
    pub fn new(tablename: impl Into<String>) -> Self {
        Self {
            tablename: tablename.into(),
            alias: None,
            children: Vec::new(),
        }
    }

    /// Adds a linked child table.
    pub fn with_child(mut self, child: TableSpec) -> Self {
        self.children.push(child);
        self
    }
}

/// Comparison operators of `<cond op=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }
}

/// Logical operators of `<lop value=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    /// `and`
    And,
    /// `or`
    Or,
}

/// A filter: a single comparison or a logical combination.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `<cond tablename fieldname op value/>`.
    Cond {
        tablename: String,
        fieldname: String,
        op: Op,
        value: String,
    },
    /// `<lop value="and|or">…</lop>`.
    Lop {
        op: LogicalOp,
        items: Vec<Condition>,
    },
}

impl Condition {
    /// `tablename.fieldname op value`.
    pub fn cond(tablename: &str, fieldname: &str, op: Op, value: impl Into<String>) -> Self {
        Self::Cond {
            tablename: tablename.into(),
            fieldname: fieldname.into(),
            op,
            value: value.into(),
        }
    }

    /// All items must hold.
    pub fn and(items: Vec<Condition>) -> Self {
        Self::Lop {
            op: LogicalOp::And,
            items,
        }
    }

    /// At least one item must hold.
    pub fn or(items: Vec<Condition>) -> Self {
        Self::Lop {
            op: LogicalOp::Or,
            items,
        }
    }
}

/// `<fields tablename fields="…"/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldList {
    /// Table (or alias).
    pub tablename: String,
    /// Field names.
    pub fields: Vec<String>,
}

impl FieldList {
    /// Builds a field list.
    pub fn new(tablename: &str, fields: &[&str]) -> Self {
        Self {
            tablename: tablename.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// The write commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `<insert>`
    Insert,
    /// `<update>`: records carry an `id`.
    Update,
    /// `<delete>`: records carry an `id`.
    Delete,
    /// `<import>`: upsert; fields with `matchup="true"` find the existing record.
    Import,
}

impl WriteKind {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Insert => "insert",
            WriteKind::Update => "update",
            WriteKind::Delete => "delete",
            WriteKind::Import => "import",
        }
    }
}

/// A write command: `<insert><fields><Table>…</Table></fields></insert>` and friends.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Which command.
    pub kind: WriteKind,
    /// Catalog representation of the values.
    pub catalogs: CatalogMode,
    /// The records.
    pub records: Vec<RecordData>,
}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordData {
    /// XML table name.
    pub table: String,
    /// The record's id (update, delete).
    pub id: Option<CrmId>,
    /// Field values.
    pub fields: Vec<FieldValue>,
    /// Links to parent records (`<link tablename id/>`).
    pub links: Vec<Link>,
    /// Records written inside this one, linked to it by their place (an insert with
    /// `child_records = "nested"`; see [`crate::nested`]).
    pub children: Vec<RecordData>,
}

impl RecordData {
    /// An empty record of `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.into(),
            ..Self::default()
        }
    }

    /// Adds a field.
    pub fn field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.push(FieldValue::new(name, value));
        self
    }

    /// Adds a field used for matching (`matchup="true"`, for import).
    pub fn matchup(mut self, name: &str, value: impl Into<String>) -> Self {
        let mut f = FieldValue::new(name, value);
        f.matchup = true;
        self.fields.push(f);
        self
    }

    /// Adds a link to a parent record.
    pub fn link(mut self, tablename: &str, id: CrmId) -> Self {
        self.links.push(Link {
            tablename: tablename.into(),
            id,
        });
        self
    }
}

/// A field value in a write.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    /// Field name.
    pub name: String,
    /// Value (text; catalog values per [`CatalogMode`]).
    pub value: String,
    /// `matchup="true"`.
    pub matchup: bool,
    /// Extra attributes, e.g. `encoding="base64"`.
    pub attrs: Vec<(String, String)>,
}

impl FieldValue {
    /// A plain field value.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            matchup: false,
            attrs: Vec::new(),
        }
    }
}

/// A link from a record to another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The linked record's table.
    pub tablename: String,
    /// The linked record's id.
    pub id: CrmId,
}

// ---------------------------------------------------------------------------------------
// writing

struct Out {
    w: Writer<Vec<u8>>,
}

impl Out {
    fn start(&mut self, name: &str, attrs: &[(&str, Cow<'_, str>)]) -> Result<(), CrmError> {
        self.open(name, attrs, false)
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, Cow<'_, str>)]) -> Result<(), CrmError> {
        self.open(name, attrs, true)
    }

    fn open(
        &mut self,
        name: &str,
        attrs: &[(&str, Cow<'_, str>)],
        empty: bool,
    ) -> Result<(), CrmError> {
        check_name(name)?;
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            check_name(k)?;
            let escaped = dom::escape_attr(v);
            start.push_attribute(Attribute {
                key: QName(k),
                value: Cow::Owned(escaped),
            });
        }
        let ev = if empty {
            Event::Empty(start)
        } else {
            Event::Start(start)
        };
        self.w.write_event(ev).map_err(io_err)
    }

    fn end(&mut self, name: &str) -> Result<(), CrmError> {
        self.w
            .write_event(Event::End(BytesEnd::new(name)))
            .map_err(io_err)
    }

    fn text(&mut self, text: &str) -> Result<(), CrmError> {
        let escaped = dom::escape_text(text);
        self.w
            .write_event(Event::Text(BytesText::from_escaped(escaped)))
            .map_err(io_err)
    }
}

fn io_err(e: std::io::Error) -> CrmError {
    CrmError::InvalidRequest(format!("writing XML: {e}"))
}

fn check_name(name: &str) -> Result<(), CrmError> {
    if dom::is_valid_name(name) {
        Ok(())
    } else {
        Err(CrmError::InvalidRequest(format!(
            "{name:?} is not a valid table, field or attribute name"
        )))
    }
}

fn cat_attrs(mode: CatalogMode) -> Vec<(&'static str, Cow<'static, str>)> {
    match mode {
        CatalogMode::Text => Vec::new(),
        CatalogMode::ByNum => vec![("catbynum", Cow::Borrowed("true"))],
        CatalogMode::ExKeys => vec![("catexkeys", Cow::Borrowed("true"))],
    }
}

/// Serialises a request.
pub fn encode_request(req: &Request) -> Result<String, CrmError> {
    // Sized up front: a request carrying a big document would otherwise grow its buffer by
    // doubling and hold up to twice the document's text.
    let mut out = Out {
        w: Writer::new(Vec::with_capacity(encoded_size_hint(req))),
    };
    out.w
        .get_mut()
        .extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    let s = &req.session;
    let mut attrs: Vec<(&str, Cow<'_, str>)> = vec![
        ("reqid", Cow::Borrowed(s.reqid.as_str())),
        ("user", Cow::Borrowed(s.user.as_str())),
        ("pwd", Cow::Borrowed(s.pwd.expose_secret())),
    ];
    if let Some(imp) = &s.impersonate {
        attrs.push(("impersonate", Cow::Borrowed(imp.as_str())));
    }
    if let Some(lang) = &s.lang {
        attrs.push(("lang", Cow::Borrowed(lang.as_str())));
    }
    out.start("request", &attrs)?;
    for cmd in &req.commands {
        match cmd {
            Command::Nop => out.empty("nop", &[])?,
            Command::Query(q) => write_query(&mut out, q)?,
            Command::Write(w) => write_write(&mut out, w)?,
        }
    }
    out.end("request")?;
    String::from_utf8(out.w.into_inner())
        .map_err(|_| CrmError::InvalidRequest("request is not UTF-8".into()))
}

/// About the size of the encoded request: its field values plus room for the markup (values
/// are escaped, so a request full of `&` may still grow once).
fn encoded_size_hint(req: &Request) -> usize {
    let values: usize = req
        .commands
        .iter()
        .map(|c| match c {
            Command::Write(w) => w
                .records
                .iter()
                .map(|r| r.fields.iter().map(|f| f.value.len() + 64).sum::<usize>() + 128)
                .sum(),
            _ => 512,
        })
        .sum();
    values + 1024
}

fn write_query(out: &mut Out, q: &Query) -> Result<(), CrmError> {
    let mut attrs = cat_attrs(q.catalogs);
    if let Some(m) = q.max_records {
        attrs.push(("maxrecords", Cow::Owned(m.to_string())));
    }
    out.start("query", &attrs)?;
    out.start("tables", &[])?;
    write_table(out, &q.table)?;
    out.end("tables")?;
    if let Some(c) = &q.condition {
        out.start("condition", &[])?;
        write_condition(out, c)?;
        out.end("condition")?;
    }
    for f in &q.fields {
        for name in &f.fields {
            check_name(name)?;
        }
        out.empty(
            "fields",
            &[
                ("tablename", Cow::Borrowed(f.tablename.as_str())),
                ("fields", Cow::Owned(f.fields.join(","))),
            ],
        )?;
    }
    out.end("query")
}

fn write_table(out: &mut Out, t: &TableSpec) -> Result<(), CrmError> {
    check_name(&t.tablename)?;
    let mut attrs = vec![("tablename", Cow::Borrowed(t.tablename.as_str()))];
    if let Some(a) = &t.alias {
        check_name(a)?;
        attrs.push(("alias", Cow::Borrowed(a.as_str())));
    }
    if t.children.is_empty() {
        out.empty("table", &attrs)
    } else {
        out.start("table", &attrs)?;
        for c in &t.children {
            write_table(out, c)?;
        }
        out.end("table")
    }
}

fn write_condition(out: &mut Out, c: &Condition) -> Result<(), CrmError> {
    match c {
        Condition::Cond {
            tablename,
            fieldname,
            op,
            value,
        } => {
            check_name(tablename)?;
            check_name(fieldname)?;
            out.empty(
                "cond",
                &[
                    ("tablename", Cow::Borrowed(tablename.as_str())),
                    ("fieldname", Cow::Borrowed(fieldname.as_str())),
                    ("op", Cow::Borrowed(op.as_str())),
                    ("value", Cow::Borrowed(value.as_str())),
                ],
            )
        }
        Condition::Lop { op, items } => {
            let v = match op {
                LogicalOp::And => "and",
                LogicalOp::Or => "or",
            };
            out.start("lop", &[("value", Cow::Borrowed(v))])?;
            for i in items {
                write_condition(out, i)?;
            }
            out.end("lop")
        }
    }
}

fn write_write(out: &mut Out, w: &Write) -> Result<(), CrmError> {
    let name = w.kind.as_str();
    out.start(name, &cat_attrs(w.catalogs))?;
    out.start("fields", &[])?;
    for r in &w.records {
        if matches!(w.kind, WriteKind::Update | WriteKind::Delete) && r.id.is_none() {
            return Err(CrmError::InvalidRequest(format!(
                "{name} of {} without a record id",
                r.table
            )));
        }
        if !r.children.is_empty() && w.kind != WriteKind::Insert {
            return Err(CrmError::InvalidRequest(format!(
                "{name} of {} with nested records (only an insert nests)",
                r.table
            )));
        }
        write_record(out, r)?;
    }
    out.end("fields")?;
    out.end(name)
}

/// One record: its fields, its links, then its nested records.
fn write_record(out: &mut Out, r: &RecordData) -> Result<(), CrmError> {
    let mut attrs = Vec::new();
    if let Some(id) = r.id {
        attrs.push(("id", Cow::Owned(id.to_string())));
    }
    if r.fields.is_empty() && r.links.is_empty() && r.children.is_empty() {
        return out.empty(&r.table, &attrs);
    }
    out.start(&r.table, &attrs)?;
    for f in &r.fields {
        if f.name == "link" {
            return Err(CrmError::InvalidRequest(
                "a field cannot be named \"link\"".into(),
            ));
        }
        let mut fattrs: Vec<(&str, Cow<'_, str>)> = Vec::new();
        if f.matchup {
            fattrs.push(("matchup", Cow::Borrowed("true")));
        }
        for (k, v) in &f.attrs {
            fattrs.push((k.as_str(), Cow::Borrowed(v.as_str())));
        }
        if f.value.is_empty() {
            out.empty(&f.name, &fattrs)?;
        } else {
            out.start(&f.name, &fattrs)?;
            out.text(&f.value)?;
            out.end(&f.name)?;
        }
    }
    for l in &r.links {
        out.empty(
            "link",
            &[
                ("tablename", Cow::Borrowed(l.tablename.as_str())),
                ("id", Cow::Owned(l.id.to_string())),
            ],
        )?;
    }
    for c in &r.children {
        write_record(out, c)?;
    }
    out.end(&r.table)
}

// ---------------------------------------------------------------------------------------
// reading

/// A parsed `<response>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Attributes of `<response>` (the echoed custom attributes, e.g. `reqid`).
    pub attrs: Vec<(String, String)>,
    /// `<return>` elements directly under `<response>` (session-level results, e.g. a
    /// failed login).
    pub returns: Vec<ReturnInfo>,
    /// One result per executed command, in order.
    pub results: Vec<CommandResult>,
}

impl Response {
    /// An echoed attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The result of one command.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandResult {
    /// The element name (`query`, `insert`, …).
    pub command: String,
    /// Records (queries).
    pub records: Vec<Record>,
    /// `<return>` elements.
    pub returns: Vec<ReturnInfo>,
}

impl CommandResult {
    /// The first `<return type="error">`, if any.
    pub fn error(&self) -> Option<&ReturnInfo> {
        self.returns.iter().find(|r| r.kind == "error")
    }
}

/// A record in a response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// Element name: table name or alias.
    pub table: String,
    /// `tableshort` (info area code).
    pub tableshort: Option<String>,
    /// `id`.
    pub id: Option<CrmId>,
    /// Field values in document order.
    pub fields: Vec<Field>,
    /// Links to other records.
    pub links: Vec<Link>,
    /// Linked child records (nested tables).
    pub children: Vec<Record>,
}

impl Record {
    /// The value of a field (its text content).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// The first link to `tablename`.
    pub fn link(&self, tablename: &str) -> Option<CrmId> {
        self.links
            .iter()
            .find(|l| l.tablename == tablename)
            .map(|l| l.id)
    }
}

/// A field in a response record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Text content.
    pub value: String,
    /// Attributes such as `code`/`text` on catalog fields.
    pub attrs: Vec<(String, String)>,
}

/// A `<return>` element.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReturnInfo {
    /// `type` (`error`, `ok`, `insert`, `update`, `delete`, …).
    pub kind: String,
    /// `code`.
    pub code: Option<u16>,
    /// `text`.
    pub text: Option<String>,
    /// `tablename`.
    pub tablename: Option<String>,
    /// `fieldname`.
    pub fieldname: Option<String>,
    /// `id` of the written record.
    pub id: Option<CrmId>,
    /// `count`.
    pub count: Option<u64>,
}

fn malformed(msg: impl Into<String>) -> CrmError {
    CrmError::MalformedResponse(msg.into())
}

/// Parses a response document.
///
/// Records are converted as the parser completes them (see [`dom::parse_detaching`]): a
/// query answering thousands of records (the rep list of a large tenant) never exists as a
/// whole tree beside its records.
pub fn decode_response(xml: &str) -> Result<Response, CrmError> {
    // Command results by the position of their command among the root's elements (a
    // command's records and returns arrive before the command itself is complete).
    let mut results: Vec<Option<CommandResult>> = Vec::new();
    let mut take = |open: &[Element], el: Element| -> Result<(), String> {
        let (Some(root), Some(command)) = (open.first(), open.get(1)) else {
            return Err("a record outside a command".into());
        };
        if root.name != "response" {
            return Err(format!(
                "root element is <{}>, expected <response>",
                root.name
            ));
        }
        let at = root.elements().count();
        if results.len() <= at {
            results.resize_with(at + 1, || None);
        }
        let result = results[at].get_or_insert_with(|| CommandResult {
            command: command.name.clone(),
            ..CommandResult::default()
        });
        if el.name == "return" {
            result.returns.push(parse_return(&el).map_err(message)?);
        } else {
            result.records.push(parse_record(el).map_err(message)?);
        }
        Ok(())
    };
    let root = dom::parse_detaching(xml, 2, &mut take).map_err(|e| malformed(e.to_string()))?;
    if root.name != "response" {
        return Err(malformed(format!(
            "root element is <{}>, expected <response>",
            root.name
        )));
    }
    let mut resp = Response {
        attrs: root.attrs.clone(),
        ..Response::default()
    };
    for (at, el) in root.elements().enumerate() {
        if el.name == "return" {
            resp.returns.push(parse_return(el)?);
            continue;
        }
        resp.results.push(
            results
                .get_mut(at)
                .and_then(Option::take)
                .unwrap_or_else(|| CommandResult {
                    command: el.name.clone(),
                    ..CommandResult::default()
                }),
        );
    }
    Ok(resp)
}

/// The message of a malformed-response error, for the parser to report with its position.
fn message(e: CrmError) -> String {
    match e {
        CrmError::MalformedResponse(m) => m,
        other => other.to_string(),
    }
}

fn parse_id(s: &str, context: &str) -> Result<CrmId, CrmError> {
    s.parse()
        .map_err(|_| malformed(format!("{context}: id {s:?} is not a record id")))
}

fn parse_return(el: &Element) -> Result<ReturnInfo, CrmError> {
    let kind = el
        .attr("type")
        .ok_or_else(|| malformed("<return> without type"))?
        .to_owned();
    let code = match el.attr("code") {
        Some(c) => Some(
            c.trim()
                .parse::<u16>()
                .map_err(|_| malformed(format!("<return> code {c:?} is not a number")))?,
        ),
        None => None,
    };
    let id = match el.attr("id") {
        Some(i) if !i.trim().is_empty() => Some(parse_id(i, "<return>")?),
        _ => None,
    };
    let count = match el.attr("count") {
        Some(c) => Some(
            c.trim()
                .parse::<u64>()
                .map_err(|_| malformed(format!("<return> count {c:?} is not a number")))?,
        ),
        None => None,
    };
    let text = el
        .attr("text")
        .map(str::to_owned)
        .or_else(|| Some(el.text()).filter(|t| !t.trim().is_empty()));
    Ok(ReturnInfo {
        kind,
        code,
        text,
        tablename: el.attr("tablename").map(str::to_owned),
        fieldname: el.attr("fieldname").map(str::to_owned),
        id,
        count,
    })
}

/// A record element, taken apart (its strings move into the record).
fn parse_record(el: Element) -> Result<Record, CrmError> {
    let id = match el.attr("id") {
        Some(i) => Some(parse_id(i, &format!("<{}>", el.name))?),
        None => None,
    };
    let mut rec = Record {
        tableshort: el.attr("tableshort").map(str::to_owned),
        table: el.name,
        id,
        ..Record::default()
    };
    for child in el.children {
        let Node::Element(child) = child else {
            continue;
        };
        if child.name == "link" {
            let tablename = child
                .attr("tablename")
                .ok_or_else(|| malformed("<link> without tablename"))?;
            let id = child
                .attr("id")
                .ok_or_else(|| malformed("<link> without id"))?;
            rec.links.push(Link {
                tablename: tablename.to_owned(),
                id: parse_id(id, "<link>")?,
            });
        } else if child.attr("tableshort").is_some() {
            rec.children.push(parse_record(child)?);
        } else {
            if child.elements().next().is_some() {
                return Err(malformed(format!(
                    "field <{}> of <{}> has child elements",
                    child.name, rec.table
                )));
            }
            rec.fields.push(Field {
                value: child.text(),
                name: child.name,
                attrs: child.attrs,
            });
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
