//! Evaluating a SyncHandler's condition against one record's fields.

use std::collections::BTreeMap;

use crate::codec::{Condition, LogicalOp, Op};

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
