//! `singleValueExtendedProperties`: rendered for an item when a request expands them, and
//! merged from a create or PATCH body into an item's list. Shared by messages, folders,
//! events and contacts, so apart from each of them.

use super::View;
use crate::error::{GResult, GraphError};
use serde_json::{Map, Value, json};

/// Renders `singleValueExtendedProperties` for an item when expanded.
pub(crate) fn ext_props(view: &View, ext: &[(String, String)], out: &mut Map<String, Value>) {
    if let Some(filter) = view.expand_ext() {
        let arr: Vec<Value> = ext
            .iter()
            .map(|(id, value)| json!({"id": id, "value": value}))
            .filter(|v| filter.as_ref().is_none_or(|f| crate::filter::eval(f, v)))
            .collect();
        out.insert("singleValueExtendedProperties".into(), Value::Array(arr));
    }
}

/// Merges `singleValueExtendedProperties` from a create/PATCH body into an item's list.
pub(crate) fn merge_ext(body: &Map<String, Value>, ext: &mut Vec<(String, String)>) -> GResult<()> {
    let Some(arr) = body.get("singleValueExtendedProperties") else {
        return Ok(());
    };
    let arr = arr.as_array().ok_or_else(|| {
        GraphError::bad_request(
            "ErrorInvalidProperty",
            "singleValueExtendedProperties must be an array.",
        )
    })?;
    for p in arr {
        let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
        let value = match p.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if id.split_whitespace().count() < 2 {
            return Err(GraphError::bad_request(
                "ErrorInvalidProperty",
                format!("The extended property id '{id}' is not valid."),
            ));
        }
        match ext.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(id)) {
            Some(slot) => slot.1 = value,
            None => ext.push((id.to_owned(), value)),
        }
    }
    Ok(())
}
