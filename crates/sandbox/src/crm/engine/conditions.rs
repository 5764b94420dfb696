//! A query's condition on one level of its nested tables: comparisons (booleans, numbers,
//! text), `and`/`or`, and the parts that concern another level left out. Apart from the query
//! walk because it is the one piece of pure logic in it.

use crate::crm::wire::Cond;

fn norm_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "x" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

fn compare(actual: &str, op: &str, expected: &str) -> bool {
    use std::cmp::Ordering;
    let (a, e) = (actual.trim(), expected.trim());
    let ord = if matches!(e.to_ascii_lowercase().as_str(), "true" | "false") {
        norm_bool(a)
            .unwrap_or(false)
            .cmp(&norm_bool(e).unwrap_or(false))
    } else if let (Ok(x), Ok(y)) = (a.parse::<f64>(), e.parse::<f64>()) {
        x.partial_cmp(&y).unwrap_or(Ordering::Equal)
    } else {
        a.to_lowercase().cmp(&e.to_lowercase())
    };
    match op {
        "=" => ord == Ordering::Equal,
        "!=" | "<>" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => false,
    }
}

/// Evaluates the parts of a condition that concern this level (`label` = alias or table
/// name); `None` = nothing applies here.
pub(super) fn eval(
    c: &Cond,
    label: &str,
    table: &str,
    value_of: &dyn Fn(&str) -> String,
) -> Option<bool> {
    match c {
        Cond::Cmp {
            table: t,
            field,
            op,
            value,
        } => {
            if t != label && t != table {
                return None;
            }
            Some(compare(&value_of(field), op, value))
        }
        Cond::And(items) => {
            let vals: Vec<bool> = items
                .iter()
                .filter_map(|i| eval(i, label, table, value_of))
                .collect();
            if vals.is_empty() {
                None
            } else {
                Some(vals.iter().all(|v| *v))
            }
        }
        Cond::Or(items) => {
            let vals: Vec<bool> = items
                .iter()
                .filter_map(|i| eval(i, label, table, value_of))
                .collect();
            if vals.is_empty() {
                None
            } else {
                Some(vals.iter().any(|v| *v))
            }
        }
    }
}
