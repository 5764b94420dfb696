//! What one request is ([`Req`], its [`Body`], the [`Resp`] of a success), the encoding of
//! path segments and query values, and the typed helpers the operations build requests with
//! (`get`, `send_json`, `delete`, the `Prefer` header): the shapes of a call, kept apart from
//! the loop in `send` that carries it out.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::GraphClient;
use crate::error::{GraphError, ResourceKind};
use crate::slots::Lane;

/// Request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(serde_json::Value),
}

/// One logical request (retries re-send it).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    pub mailbox: Option<String>,
    pub resource: ResourceKind,
    pub body: Option<Body>,
    pub prefer: Vec<String>,
    pub idempotent: bool,
    /// Which waiting request of the mailbox a free slot goes to first (see [`crate::slots`]).
    pub lane: Lane,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Resp {
    pub body: Bytes,
}

impl Resp {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| GraphError::Decode(format!("cannot read the answer as JSON: {e}")))
    }
}

/// Percent-encode one path segment (Graph ids may contain `/`, `+` and `=`).
pub(crate) fn seg(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'@')
        .remove(b'=');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Percent-encode a query value.
pub(crate) fn qv(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b',')
        .remove(b'$')
        .remove(b'/')
        .remove(b'(')
        .remove(b')')
        .remove(b'@')
        .remove(b':');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

impl GraphClient {
    /// GET any JSON resource by path relative to the Graph base (`/users/{id}/...`), through the
    /// same request layer as the typed operations. `mailbox` enables per-mailbox limits.
    pub async fn get<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        path: &str,
    ) -> Result<T, GraphError> {
        let kind = ResourceKind::from_path(path.split('?').next().unwrap_or(path));
        self.get_json(mailbox, kind, path).await
    }

    /// GET a JSON resource by path.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Result<T, GraphError> {
        self.send(self.plain_req(Method::GET, mailbox, resource, path))
            .await?
            .json()
    }

    /// Send a JSON body and read a JSON answer.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, GraphError> {
        self.send(self.json_req(method, mailbox, resource, path, body, idempotent)?)
            .await?
            .json()
    }

    /// A request of `path` with `body` as JSON, in the item lane.
    pub(crate) fn json_req<B: Serialize + ?Sized>(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<Req, GraphError> {
        let value = serde_json::to_value(body)
            .map_err(|e| GraphError::Config(format!("cannot serialise the request body: {e}")))?;
        Ok(Req {
            method,
            url: self.url(path),
            mailbox: mailbox.map(str::to_owned),
            resource,
            body: Some(Body::Json(value)),
            prefer: Vec::new(),
            idempotent,
            lane: Lane::Item,
        })
    }

    /// DELETE a resource.
    pub(crate) async fn delete(
        &self,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Result<(), GraphError> {
        self.send(self.plain_req(Method::DELETE, mailbox, resource, path))
            .await
            .map(|_| ())
    }

    /// A request of `path` without a body, that may be repeated.
    pub(super) fn plain_req(
        &self,
        method: Method,
        mailbox: Option<&str>,
        resource: ResourceKind,
        path: &str,
    ) -> Req {
        Req {
            method,
            url: self.url(path),
            mailbox: mailbox.map(str::to_owned),
            resource,
            body: None,
            prefer: Vec::new(),
            idempotent: true,
            lane: Lane::Item,
        }
    }

    pub(super) fn prefer_header(&self, req: &Req) -> Option<HeaderValue> {
        let mut parts: Vec<String> = Vec::new();
        if req.resource.wants_immutable_ids() {
            parts.push("IdType=\"ImmutableId\"".into());
        }
        if req.resource == ResourceKind::Calendar && req.method == Method::GET {
            parts.push("outlook.timezone=\"UTC\"".into());
        }
        parts.extend(req.prefer.iter().cloned());
        if parts.is_empty() {
            return None;
        }
        HeaderValue::from_str(&parts.join(", ")).ok()
    }
}
