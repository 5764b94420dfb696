//! A Graph response before it becomes HTTP ([`Resp`], [`RespBody`]): the constructors the
//! handlers answer with, Graph's error body, and `into_http`, which writes the headers, the
//! content type and the body (or drops the connection for a fault). Apart from the request side
//! because `$batch` builds its own answer from the same [`Resp`].

use crate::error::GraphError;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

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
