//! A small OData `$filter` parser and evaluator over rendered Graph JSON.
//!
//! Supports what the connector and the SDKs send: `eq ne gt ge lt le`, `and or not`, parentheses,
//! `startswith/endswith/contains(path,'x')`, lambda `any`/`all` over collections
//! (`singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')`,
//! `categories/any(c:c eq 'CRM')`), string/number/bool/null and date-time literals.
//! String comparison is case-insensitive, as in Exchange.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Cmp(Op, Operand, Operand),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Func(String, Operand, Operand),
    Lambda {
        any: bool,
        path: Vec<String>,
        var: String,
        body: Box<Expr>,
    },
    Bool(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Path(Vec<String>),
    Lit(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    Comma,
    Colon,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '(' | ')' | ',' | '\'' | '\t') {
                    // a colon ends an identifier only inside lambdas (`c:c eq`), never inside a
                    // date-time literal (which starts with a digit)
                    if chars[i] == ':' && !chars[start].is_ascii_digit() {
                        break;
                    }
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.is_empty() {
                    return Err(format!("unexpected character {c:?}"));
                }
                if word
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '-')
                {
                    if let Ok(n) = word.parse::<f64>() {
                        out.push(Tok::Num(n));
                    } else {
                        // date or date-time literal
                        out.push(Tok::Str(word));
                    }
                } else {
                    out.push(Tok::Ident(word));
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

/// Parses a `$filter` expression.
pub(crate) fn parse(s: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(s)?,
        pos: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token {:?}", p.toks.get(p.pos)));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(k))
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.kw("or") {
            self.pos += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        while self.kw("and") {
            self.pos += 1;
            let r = self.unary()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.kw("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        self.comparison()
    }
    fn comparison(&mut self) -> Result<Expr, String> {
        // function call?
        if let Some(Tok::Ident(name)) = self.peek().cloned() {
            let lname = name.to_ascii_lowercase();
            if matches!(lname.as_str(), "startswith" | "endswith" | "contains")
                && self.toks.get(self.pos + 1) == Some(&Tok::LParen)
            {
                self.pos += 2;
                let a = self.operand()?;
                self.expect(Tok::Comma)?;
                let b = self.operand()?;
                self.expect(Tok::RParen)?;
                let f = Expr::Func(lname, a, b);
                return self.maybe_bool_cmp(f);
            }
            // lambda: path/any(v: expr)
            let parts: Vec<&str> = name.split('/').collect();
            if let Some(last) = parts.last()
                && (last.eq_ignore_ascii_case("any") || last.eq_ignore_ascii_case("all"))
                && self.toks.get(self.pos + 1) == Some(&Tok::LParen)
            {
                let any = last.eq_ignore_ascii_case("any");
                let path: Vec<String> = parts[..parts.len() - 1]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                self.pos += 2;
                let var = match self.next() {
                    Some(Tok::Ident(v)) => v,
                    other => return Err(format!("expected lambda variable, found {other:?}")),
                };
                self.expect(Tok::Colon)?;
                let body = self.or()?;
                self.expect(Tok::RParen)?;
                return Ok(Expr::Lambda {
                    any,
                    path,
                    var,
                    body: Box::new(body),
                });
            }
        }
        let l = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Ident(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Some(Op::Eq),
                "ne" => Some(Op::Ne),
                "gt" => Some(Op::Gt),
                "ge" => Some(Op::Ge),
                "lt" => Some(Op::Lt),
                "le" => Some(Op::Le),
                _ => None,
            },
            _ => None,
        };
        match op {
            Some(op) => {
                self.pos += 1;
                let r = self.operand()?;
                Ok(Expr::Cmp(op, l, r))
            }
            None => Ok(Expr::Bool(l)),
        }
    }
    fn maybe_bool_cmp(&mut self, f: Expr) -> Result<Expr, String> {
        if self.kw("eq") {
            self.pos += 1;
            return match self.operand()? {
                Operand::Lit(Value::Bool(true)) => Ok(f),
                Operand::Lit(Value::Bool(false)) => Ok(Expr::Not(Box::new(f))),
                other => Err(format!("cannot compare a function result with {other:?}")),
            };
        }
        Ok(f)
    }
    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Operand::Lit(Value::String(s))),
            Some(Tok::Num(n)) => Ok(Operand::Lit(
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            )),
            Some(Tok::Ident(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Ok(Operand::Lit(Value::Bool(true))),
                "false" => Ok(Operand::Lit(Value::Bool(false))),
                "null" => Ok(Operand::Lit(Value::Null)),
                _ => Ok(Operand::Path(w.split('/').map(str::to_owned).collect())),
            },
            other => Err(format!("expected an operand, found {other:?}")),
        }
    }
}

struct Scope<'a> {
    vars: Vec<(&'a str, &'a Value)>,
}

/// Evaluates `e` against a rendered item.
pub(crate) fn eval(e: &Expr, item: &Value) -> bool {
    eval_in(e, item, &Scope { vars: Vec::new() })
}

fn eval_in(e: &Expr, item: &Value, scope: &Scope<'_>) -> bool {
    match e {
        Expr::And(a, b) => eval_in(a, item, scope) && eval_in(b, item, scope),
        Expr::Or(a, b) => eval_in(a, item, scope) || eval_in(b, item, scope),
        Expr::Not(a) => !eval_in(a, item, scope),
        Expr::Bool(o) => resolve(o, item, scope).as_bool().unwrap_or(false),
        Expr::Cmp(op, l, r) => compare(*op, &resolve(l, item, scope), &resolve(r, item, scope)),
        Expr::Func(name, a, b) => {
            let a = resolve(a, item, scope);
            let b = resolve(b, item, scope);
            let (Some(a), Some(b)) = (a.as_str(), b.as_str()) else {
                return false;
            };
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match name.as_str() {
                "startswith" => a.starts_with(&b),
                "endswith" => a.ends_with(&b),
                _ => a.contains(&b),
            }
        }
        Expr::Lambda {
            any,
            path,
            var,
            body,
        } => {
            let coll = lookup(item, path, scope);
            let Some(arr) = coll.as_array() else {
                return !*any;
            };
            let test = |v: &Value| {
                let mut vars = scope.vars.clone();
                vars.push((var.as_str(), v));
                eval_in(body, item, &Scope { vars })
            };
            if *any {
                arr.iter().any(test)
            } else {
                arr.iter().all(test)
            }
        }
    }
}

fn resolve(o: &Operand, item: &Value, scope: &Scope<'_>) -> Value {
    match o {
        Operand::Lit(v) => v.clone(),
        Operand::Path(p) => lookup(item, p, scope),
    }
}

fn lookup(item: &Value, path: &[String], scope: &Scope<'_>) -> Value {
    let (mut cur, rest) = match path
        .first()
        .and_then(|h| scope.vars.iter().rev().find(|(v, _)| v == h))
    {
        Some((_, v)) => ((*v).clone(), &path[1..]),
        None => (item.clone(), path),
    };
    for seg in rest {
        cur = match &cur {
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
    }
    cur
}

fn compare(op: Op, l: &Value, r: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Value::String(a), Value::String(b)) => {
            // date-times compare as instants when both parse
            match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
                (Ok(x), Ok(y)) => Some(x.cmp(&y)),
                _ => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            }
        }
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters() {
        let item = json!({
            "mail": "Adele.Vance@contoso.example",
            "receivedDateTime": "2026-11-20T10:00:00Z",
            "categories": ["CRM", "Blue"],
            "isRead": false,
            "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId", "value": "123"}]
        });
        let t = |f: &str| eval(&parse(f).unwrap(), &item);
        assert!(t("mail eq 'adele.vance@contoso.example'"));
        assert!(!t("mail eq 'x@y'"));
        assert!(t("startswith(mail,'adele')"));
        assert!(t(
            "receivedDateTime ge 2026-11-01T00:00:00Z and isRead eq false"
        ));
        assert!(!t("receivedDateTime gt 2026-12-01T00:00:00Z"));
        assert!(t("categories/any(c:c eq 'crm')"));
        assert!(t(
            "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00040ec6ac6e} Name CrmId' and ep/value eq '123')"
        ));
        assert!(!t(
            "singleValueExtendedProperties/Any(ep: ep/value eq '124')"
        ));
        assert!(t("not (mail eq 'x') or isRead"));
        assert!(t("mail eq 'a''b' or mail ne 'a'"));
        assert!(parse("mail eq").is_err());
    }
}
