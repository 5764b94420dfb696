//! Writing a `<request>`: [`encode_request`] over quick-xml's [`Writer`], every value escaped
//! and every element or attribute name checked.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use secrecy::ExposeSecret;

use super::request::{
    CatalogMode, Command, Condition, LogicalOp, Query, RecordData, Request, TableSpec, Write,
    WriteKind,
};
use crate::dom;
use crate::error::CrmError;

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
            start.push_attribute(Attribute {
                key: QName(k),
                value: dom::escape_attr(v),
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
