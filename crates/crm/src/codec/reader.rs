//! Reading a `<response>`: [`decode_response`] converts records as the parser completes them;
//! anything unexpected is [`CrmError::MalformedResponse`].

use super::request::Link;
use super::response::{CommandResult, Field, Record, Response, ReturnInfo};
use crate::dom::{self, Element, Node};
use crate::error::CrmError;
use gc_ids::CrmId;

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
