//! A Graph request as the handlers see it: the [`Req`] (parsed from HTTP, or built by `$batch`
//! for each inner request), its `Prefer` header, its query options (`$top`, `$select`,
//! `$filter`, `$expand`), the `If-Match` check, and the [`View`] that says how items are
//! rendered for it. Apart from routing and the pipeline because every handler reads these.

use crate::auth::AccessClaims;
use crate::error::{GResult, GraphError};
use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;
use serde_json::{Map, Value};

/// One Graph request (top-level or inside `$batch`).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// Path after `/v1.0`, as sent (for building links).
    pub path: String,
    /// Decoded path segments, with `name('key')` split into `name`, `key`.
    pub segs: Vec<String>,
    pub query: Vec<(String, String)>,
    pub prefer: Prefer,
    /// `If-Match` (an `@odata.etag`), checked on PATCH and DELETE of Outlook items.
    pub if_match: Option<String>,
    pub body: Bytes,
    pub claims: AccessClaims,
}

/// Parsed `Prefer` header.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefer {
    pub immutable: bool,
    pub maxpagesize: Option<usize>,
    pub timezone: Option<String>,
    /// `Some(true)` for `outlook.body-content-type="text"`, `Some(false)` for html.
    pub body_text: Option<bool>,
}

impl Prefer {
    pub fn parse(headers: &HeaderMap) -> Prefer {
        let mut p = Prefer::default();
        for v in headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            for item in v.split(',') {
                let (k, val) = match item.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_owned(),
                    ),
                    None => (item.trim().to_ascii_lowercase(), String::new()),
                };
                match k.as_str() {
                    "idtype" => p.immutable = val.eq_ignore_ascii_case("ImmutableId"),
                    "odata.maxpagesize" => {
                        p.maxpagesize = val.parse().ok().filter(|n: &usize| *n > 0)
                    }
                    "outlook.timezone" => p.timezone = Some(val),
                    "outlook.body-content-type" => {
                        p.body_text = Some(val.eq_ignore_ascii_case("text"))
                    }
                    _ => {}
                }
            }
        }
        p
    }

    /// The `Preference-Applied` value.
    pub(super) fn applied(&self) -> Option<String> {
        let mut v = Vec::new();
        if let Some(n) = self.maxpagesize {
            v.push(format!("odata.maxpagesize={n}"));
        }
        if self.immutable {
            v.push("IdType=\"ImmutableId\"".to_owned());
        }
        if let Some(tz) = &self.timezone {
            v.push(format!("outlook.timezone=\"{tz}\""));
        }
        if let Some(t) = self.body_text {
            v.push(format!(
                "outlook.body-content-type=\"{}\"",
                if t { "text" } else { "html" }
            ));
        }
        (!v.is_empty()).then(|| v.join(", "))
    }
}

impl Req {
    /// A query option by name, with or without the `$` (case-insensitive).
    pub fn q(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.query
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> GResult<Map<String, Value>> {
        if self.body.is_empty() {
            return Err(GraphError::bad_request(
                "BadRequest",
                "Empty Payload. JSON content expected.",
            ));
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(GraphError::bad_request(
                "RequestBodyRead",
                "An object was expected in the request body.",
            )),
            Err(e) => Err(GraphError::bad_request(
                "RequestBodyRead",
                format!("Invalid JSON in the request body: {e}"),
            )),
        }
    }

    pub fn top(&self) -> GResult<Option<usize>> {
        match self.q("top") {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                GraphError::bad_request("BadRequest", format!("Invalid $top value '{v}'."))
            }),
        }
    }

    pub fn select(&self) -> Option<Vec<String>> {
        self.q("select").map(|s| {
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
    }

    pub fn filter(&self) -> GResult<Option<crate::filter::Expr>> {
        match self.q("filter") {
            None => Ok(None),
            Some(f) => crate::filter::parse(f).map(Some).map_err(|e| {
                GraphError::bad_request("BadRequest", format!("Invalid filter clause: {e}"))
            }),
        }
    }

    pub fn view(&self) -> View {
        View {
            immutable: self.prefer.immutable,
            tz: self.prefer.timezone.clone(),
            body_text: self.prefer.body_text,
            select: self.select(),
            expand: self.q("expand").map(str::to_owned),
        }
    }

    /// Fails with 412 when `If-Match` names another version than `seq`'s.
    pub fn check_etag(&self, seq: u64) -> GResult<()> {
        let Some(want) = self.if_match.as_deref().map(str::trim) else {
            return Ok(());
        };
        if want == "*" {
            return Ok(());
        }
        let current = crate::ids::change_key(seq);
        let bare = want.trim_start_matches("W/").trim_matches('"');
        if bare == current {
            Ok(())
        } else {
            Err(GraphError::new(
                StatusCode::PRECONDITION_FAILED,
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
            ))
        }
    }

    pub(super) fn has_write_method(&self) -> bool {
        self.method != Method::GET
    }
}

/// How items are rendered for one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    pub immutable: bool,
    pub tz: Option<String>,
    pub body_text: Option<bool>,
    pub select: Option<Vec<String>>,
    pub expand: Option<String>,
}

impl View {
    pub fn id<'a>(&self, imm: &'a str, rest: &'a str) -> &'a str {
        if self.immutable { imm } else { rest }
    }

    /// Applies `$select` (keeping `id` and annotations, as Graph does).
    pub fn apply_select(&self, v: Value) -> Value {
        let (Some(sel), Value::Object(m)) = (&self.select, &v) else {
            return v;
        };
        let mut out = Map::new();
        for (k, val) in m {
            if k == "id" || k.starts_with('@') || sel.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                out.insert(k.clone(), val.clone());
            }
        }
        Value::Object(out)
    }

    /// The `$filter` of `$expand=singleValueExtendedProperties($filter=…)`, or `Some(None)` for
    /// a plain `$expand=singleValueExtendedProperties`.
    pub fn expand_ext(&self) -> Option<Option<crate::filter::Expr>> {
        let e = self.expand.as_deref()?;
        for part in split_top(e) {
            let lower = part.to_ascii_lowercase();
            if lower.starts_with("singlevalueextendedproperties") {
                let inner = part
                    .find('(')
                    .map(|i| &part[i + 1..part.len().saturating_sub(1)]);
                let filt = inner
                    .and_then(|s| {
                        s.trim()
                            .strip_prefix("$filter=")
                            .or_else(|| s.trim().strip_prefix("filter="))
                    })
                    .and_then(|f| crate::filter::parse(f).ok());
                return Some(filt);
            }
        }
        None
    }

    pub fn expands(&self, nav: &str) -> bool {
        self.expand.as_deref().is_some_and(|e| {
            split_top(e).iter().any(|p| {
                p.to_ascii_lowercase()
                    .starts_with(&nav.to_ascii_lowercase())
            })
        })
    }
}

/// Splits `a,b($filter=x,y),c` at top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}
