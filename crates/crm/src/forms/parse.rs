//! Reading forms.xml: the file and its text into [`Forms`], every error naming its line.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    Form, Forms, FormsError, MasterUser, MissingAttendees, MissingLabels, MissingMode, SyncHandler,
};
use crate::codec::{Condition, LogicalOp, Op};

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
