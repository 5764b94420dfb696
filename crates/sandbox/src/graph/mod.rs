//! The Microsoft Graph v1.0 side: request pipeline, routing, query options and paging.
//!
//! Requests are parsed into a [`Req`] (also what `$batch` builds for each inner request), pass
//! bearer check → permission check → per-mailbox throttle → fault injection, and are then
//! answered by the resource modules while holding the tenant lock.

pub(crate) mod batch;
pub(crate) mod calendar;
pub(crate) mod contacts;
pub(crate) mod mail;
pub(crate) mod resource;
pub(crate) mod todo;
pub(crate) mod users;

use crate::auth::AccessClaims;
use crate::error::{GResult, GraphError};
use crate::faults::Fault;
use crate::server::Shared;
use crate::store::Tenant;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};
use std::sync::Arc;

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
    fn applied(&self) -> Option<String> {
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

    fn has_write_method(&self) -> bool {
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

/// A Graph response before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: RespBody,
}

#[derive(Debug, Clone)]
pub(crate) enum RespBody {
    Json(Value),
    Raw(String, Vec<u8>),
    Empty,
    /// Drop the connection (fault injection).
    Reset,
}

impl Resp {
    pub fn json(status: StatusCode, v: Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: RespBody::Json(v),
        }
    }
    pub fn ok(v: Value) -> Resp {
        Resp::json(StatusCode::OK, v)
    }
    pub fn created(v: Value) -> Resp {
        Resp::json(StatusCode::CREATED, v)
    }
    pub fn no_content() -> Resp {
        Resp {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: RespBody::Empty,
        }
    }
    pub fn accepted() -> Resp {
        Resp {
            status: StatusCode::ACCEPTED,
            headers: Vec::new(),
            body: RespBody::Empty,
        }
    }
    pub fn raw(content_type: &str, bytes: Vec<u8>) -> Resp {
        Resp {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: RespBody::Raw(content_type.to_owned(), bytes),
        }
    }

    pub fn error(e: &GraphError, request_id: &str, client_request_id: Option<&str>) -> Resp {
        let date = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let mut inner = json!({"date": date, "request-id": request_id});
        if let Some(c) = client_request_id {
            inner["client-request-id"] = json!(c);
        }
        let mut headers = Vec::new();
        if let Some(r) = &e.retry_after {
            headers.push(("Retry-After".to_owned(), r.clone()));
        }
        if let Some(l) = &e.location {
            headers.push(("Location".to_owned(), l.clone()));
        }
        if e.status == StatusCode::UNAUTHORIZED {
            headers.push((
                "WWW-Authenticate".to_owned(),
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".to_owned(),
            ));
        }
        Resp {
            status: e.status,
            headers,
            body: RespBody::Json(
                json!({"error": {"code": e.code, "message": e.message, "innerError": inner}}),
            ),
        }
    }
}

/// Context handed to resource handlers.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub t: &'a mut Tenant,
    pub req: &'a Req,
}

impl Ctx<'_> {
    /// Absolute URL for a path under `/v1.0` with query pairs.
    pub fn link(&self, path: &str, query: &[(String, String)]) -> String {
        let mut s = format!("{}/v1.0{}", self.shared.base_url, path);
        if !query.is_empty() {
            s.push('?');
            s.push_str(&encode_query(query));
        }
        s
    }

    pub fn context(&self, what: &str) -> String {
        format!("{}/v1.0/$metadata#{}", self.shared.base_url, what)
    }

    /// The user index for `/users/{key}/…` or a directory 404.
    pub fn user(&self, key: &str) -> GResult<usize> {
        self.t
            .user_index(key)
            .filter(|i| !self.t.users[*i].deleted)
            .ok_or_else(|| GraphError::user_not_found(key))
    }

    /// The mailbox of `/users/{key}/…`: unknown users answer `ErrorInvalidUser`, users without an
    /// Exchange mailbox `MailboxNotEnabledForRESTAPI`.
    pub fn mailbox_index(&self, key: &str) -> GResult<usize> {
        let i = self
            .t
            .user_index(key)
            .filter(|i| !self.t.users[*i].deleted)
            .ok_or_else(|| {
                GraphError::new(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    format!("The requested user '{key}' is invalid."),
                )
            })?;
        if self.t.users[i].mailbox.is_none() {
            return Err(GraphError::mailbox_not_enabled());
        }
        Ok(i)
    }

    /// A page of a plain (non-delta) collection, paged with `$skip` as Outlook does.
    pub fn page(
        &self,
        context: &str,
        items: Vec<Value>,
        default_size: usize,
        max_size: usize,
    ) -> GResult<Resp> {
        let filtered: Vec<Value> = match self.req.filter()? {
            Some(f) => items
                .into_iter()
                .filter(|v| crate::filter::eval(&f, v))
                .collect(),
            None => items,
        };
        let view = self.req.view();
        let size = self
            .req
            .top()?
            .or(self.req.prefer.maxpagesize)
            .unwrap_or(default_size)
            .clamp(1, max_size);
        let skip: usize = self.req.q("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
        let total = filtered.len();
        let page: Vec<Value> = filtered
            .into_iter()
            .skip(skip)
            .take(size)
            .map(|v| view.apply_select(v))
            .collect();
        let mut body = json!({"@odata.context": self.context(context)});
        if self
            .req
            .q("count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"))
        {
            body["@odata.count"] = json!(total);
        }
        body["value"] = Value::Array(page);
        // `$top` alone means "first N" for Outlook lists, but Graph still links the next page.
        if skip + size < total {
            let mut q: Vec<(String, String)> = self
                .req
                .query
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip"))
                .cloned()
                .collect();
            if self.req.q("top").is_none() {
                q.push(("$top".to_owned(), size.to_string()));
            }
            q.push(("$skip".to_owned(), (skip + size).to_string()));
            body["@odata.nextLink"] = json!(self.link(&self.req.path, &q));
        }
        Ok(Resp::ok(body))
    }

    pub fn next_seq(&mut self) -> u64 {
        self.t.next_seq()
    }
}

const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'$')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',')
    .remove(b'(')
    .remove(b')')
    .remove(b'\'')
    .remove(b':')
    .remove(b'/');

pub(crate) fn encode_query(q: &[(String, String)]) -> String {
    q.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY_SET),
                utf8_percent_encode(v, QUERY_SET)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Splits a path (after `/v1.0`) into decoded segments; `mailFolders('inbox')` becomes two.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode_str(raw).decode_utf8_lossy().into_owned();
        if let Some(open) = seg.find('(')
            && seg.ends_with(')')
            && open > 0
        {
            out.push(seg[..open].to_owned());
            let key = seg[open + 1..seg.len() - 1].trim_matches('\'').to_owned();
            if !key.is_empty() {
                out.push(key);
            }
        } else {
            out.push(seg);
        }
    }
    out
}

/// What a request touches, for permissions and throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Directory,
    Mail,
    SendMail,
    Calendar,
    Contacts,
    Tasks,
    MailboxSettings,
    Batch,
    Other,
}

fn area_of(segs: &[String]) -> Area {
    let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    match l.first().map(String::as_str) {
        Some("$batch") => Area::Batch,
        Some("users") if l.len() <= 2 => Area::Directory,
        Some("users") => match l[2].as_str() {
            "mailfolders" | "messages" => Area::Mail,
            "sendmail" => Area::SendMail,
            "events" | "calendar" | "calendars" | "calendarview" => Area::Calendar,
            "contacts" | "contactfolders" => Area::Contacts,
            "todo" => Area::Tasks,
            "outlook" | "mailboxsettings" => Area::MailboxSettings,
            "translateexchangeids" => Area::Mail,
            "delta" => Area::Directory,
            _ => Area::Other,
        },
        _ => Area::Other,
    }
}

fn check_permission(area: Area, write: bool, claims: &AccessClaims) -> GResult<()> {
    let (need, code, msg): (&[&str], &'static str, &str) = match (area, write) {
        (Area::Directory, false) => (
            &[
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "User.ReadBasic.All",
            ],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        (Area::Directory, true) => (
            &["User.ReadWrite.All", "Directory.ReadWrite.All"],
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        (Area::Mail, false) => (
            &[
                "Mail.Read",
                "Mail.ReadWrite",
                "Mail.ReadBasic",
                "Mail.ReadBasic.All",
            ],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Mail, true) => (
            &["Mail.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::SendMail, _) => (
            &["Mail.Send"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Calendar, false) => (
            &["Calendars.Read", "Calendars.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Calendar, true) => (
            &["Calendars.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Contacts, false) => (
            &["Contacts.Read", "Contacts.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Contacts, true) => (
            &["Contacts.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Tasks, false) => (
            &["Tasks.Read.All", "Tasks.ReadWrite.All"],
            "accessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Tasks, true) => (
            &["Tasks.ReadWrite.All"],
            "accessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::MailboxSettings, false) => (
            &["MailboxSettings.Read", "MailboxSettings.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::MailboxSettings, true) => (
            &["MailboxSettings.ReadWrite"],
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ),
        (Area::Batch | Area::Other, _) => return Ok(()),
    };
    if claims.has_any(need) {
        Ok(())
    } else {
        Err(GraphError::new(StatusCode::FORBIDDEN, code, msg))
    }
}

/// What the monitor sees of a Graph request.
fn seen(req: &Req, in_batch: bool) -> crate::monitor::Seen {
    crate::monitor::Seen::Graph {
        resource: resource::name(&req.segs),
        write: req.method != Method::GET,
        in_batch,
    }
}

/// A response that drops the connection instead of answering (a trip wire cut it).
fn cut() -> Resp {
    Resp {
        status: StatusCode::OK,
        headers: Vec::new(),
        body: RespBody::Reset,
    }
}

/// Runs one request through permission, throttle and fault checks and the handlers.
pub(crate) async fn execute(shared: &Arc<Shared>, req: Req, in_batch: bool) -> Resp {
    let request_id = uuid::Uuid::new_v4().to_string();
    let seen = seen(&req, in_batch);
    if in_batch {
        // the envelope was counted when it arrived; its inner requests are counted here
        shared.monitor.count(&seen);
    }
    let result = execute_inner(shared, &req, in_batch, &seen).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => Resp::error(&e, &request_id, None),
    };
    resp.headers.push(("request-id".to_owned(), request_id));
    if let Some(applied) = req.prefer.applied() {
        resp.headers
            .push(("Preference-Applied".to_owned(), applied));
    }
    resp
}

async fn execute_inner(
    shared: &Arc<Shared>,
    req: &Req,
    in_batch: bool,
    seen: &crate::monitor::Seen,
) -> GResult<Resp> {
    if req
        .segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("me"))
    {
        return Err(GraphError::bad_request(
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let area = area_of(&req.segs);
    if area == Area::Batch {
        if in_batch {
            return Err(GraphError::invalid_request(
                "Nested batch requests are not supported.",
            ));
        }
        let passage = shared.monitor.pass(seen);
        if passage.cut_before() {
            return Ok(cut());
        }
        let resp = batch::handle(shared, req).await;
        return if passage.after() { Ok(cut()) } else { resp };
    }
    let write = req.has_write_method() && !is_read_post(&req.segs);
    check_permission(area, write, &req.claims)?;

    // per-mailbox throttling (Outlook and To Do resources)
    let mailbox_key = match area {
        Area::Mail
        | Area::SendMail
        | Area::Calendar
        | Area::Contacts
        | Area::Tasks
        | Area::MailboxSettings => req.segs.get(1).map(|s| shared.mailbox_key(s)),
        _ => None,
    };
    let _permit = match &mailbox_key {
        Some(k) => Some(shared.throttle.acquire(k)?),
        None => None,
    };
    let scope = format!("graph:{}", mailbox_key.as_deref().unwrap_or("tenant"));
    match shared.faults.roll(&scope) {
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut e = GraphError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
            );
            e.retry_after = Some(format!("{retry_after_secs}"));
            return Err(e);
        }
        Some(Fault::ServiceUnavailable { retry_after_secs }) => {
            let mut e = GraphError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Service Unavailable",
            );
            e.retry_after = Some(format!("{retry_after_secs}"));
            return Err(e);
        }
        Some(Fault::GatewayTimeout) => {
            return Err(GraphError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "Gateway Timeout",
            ));
        }
        Some(Fault::ConnectionReset) if !in_batch => return Ok(cut()),
        Some(Fault::ConnectionReset) => {
            return Err(GraphError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "Gateway Timeout",
            ));
        }
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    // With --latency-ms the request holds its mailbox slot while "Exchange works on it".
    crate::server::base_latency(shared).await;

    let passage = shared.monitor.pass(seen);
    if passage.cut_before() {
        return Ok(cut());
    }
    if req
        .segs
        .first()
        .is_some_and(|s| s.eq_ignore_ascii_case("subscriptions"))
    {
        // Not under the tenant lock: creating one calls the notification endpoint first.
        let resp = crate::subscriptions::handle(shared, req).await;
        return if passage.after() { Ok(cut()) } else { resp };
    }
    let resp = {
        let mut t = shared.lock_tenant();
        let mut ctx = Ctx {
            shared,
            t: &mut t,
            req,
        };
        route(&mut ctx)
    };
    if passage.after() { Ok(cut()) } else { resp }
}

/// POSTs that only read (delta-like functions) need read permission only.
fn is_read_post(segs: &[String]) -> bool {
    segs.last()
        .is_some_and(|s| s.eq_ignore_ascii_case("getMemberGroups"))
}

fn route(ctx: &mut Ctx<'_>) -> GResult<Resp> {
    let segs: Vec<String> = ctx
        .req
        .segs
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s.first() != Some(&"users") {
        return Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path));
    }
    if s.len() <= 2 || s.get(1) == Some(&"delta") {
        return users::route(ctx, &s);
    }
    // A lazy tenant generates the mailbox the first request reaches.
    let key = ctx.req.segs[1].clone();
    ctx.t.materialize_key(&key);
    match s[2] {
        "mailfolders" | "messages" | "sendmail" => mail::route(ctx, &s),
        "events" | "calendar" | "calendars" | "calendarview" => calendar::route(ctx, &s),
        "contacts" | "contactfolders" => contacts::route(ctx, &s),
        "todo" => todo::route(ctx, &s),
        "outlook" => mail::route_categories(ctx, &s),
        "translateexchangeids" => mail::translate_ids(ctx),
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

/// The axum handler for everything under `/v1.0/`.
pub(crate) async fn handler(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_owned();
    let segs = split_path(&path);
    shared.monitor.count(&crate::monitor::Seen::Graph {
        resource: resource::name(&segs),
        write: method != Method::GET,
        in_batch: false,
    });
    let claims = match crate::auth::verify_bearer(&shared, &headers) {
        Ok(c) => c,
        Err(e) => {
            crate::server::base_latency(&shared).await;
            let rid = uuid::Uuid::new_v4().to_string();
            let mut r = Resp::error(&e, &rid, client_request_id.as_deref());
            r.headers.push(("request-id".into(), rid));
            return into_http(r, client_request_id.as_deref());
        }
    };
    let req = Req {
        method,
        segs,
        path,
        query: parse_query(uri.query().unwrap_or("")),
        prefer: Prefer::parse(&headers),
        if_match: headers
            .get("if-match")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        claims,
    };
    let resp = execute(&shared, req, false).await;
    into_http(resp, client_request_id.as_deref())
}

pub(crate) fn into_http(mut r: Resp, client_request_id: Option<&str>) -> Response {
    if let Some(c) = client_request_id {
        r.headers.push(("client-request-id".into(), c.to_owned()));
        if let RespBody::Json(v) = &mut r.body
            && let Some(inner) = v.pointer_mut("/error/innerError")
        {
            inner["client-request-id"] = json!(c);
        }
    }
    let mut builder = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let built = match r.body {
        RespBody::Json(v) => builder
            .header("content-type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
            .body(Body::from(serde_json::to_vec(&v).unwrap_or_default())),
        RespBody::Raw(ct, bytes) => builder.header("content-type", ct).body(Body::from(bytes)),
        RespBody::Empty => builder.body(Body::empty()),
        RespBody::Reset => {
            let stream = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: connection reset"))
            });
            builder.header("content-type", "application/json").body(Body::from_stream(stream))
        }
    };
    built.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
