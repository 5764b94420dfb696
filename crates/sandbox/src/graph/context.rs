//! The [`Ctx`] handed to resource handlers: the shared state, the tenant (locked) and the
//! request, with what every handler needs of them: absolute links and `@odata.context`, the
//! user and the mailbox a path names (or Graph's error), a page of a plain collection with
//! `$filter`, `$top`, `$skip` and `$count`.

use super::url::encode_query;
use super::{Req, Resp};
use crate::error::{GResult, GraphError};
use crate::server::Shared;
use crate::store::Tenant;
use axum::http::StatusCode;
use serde_json::{Value, json};

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
