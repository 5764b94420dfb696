//! Who may use the admin server, and CSRF protection.
//!
//! - With `[admin] token` (or `token_file`) set, every request needs it: as
//!   `Authorization: Bearer <token>` (scripts, Prometheus), or through the session cookie the
//!   login page sets after asking for the token once (`HttpOnly; SameSite=Strict`).
//! - Without a token the server only listens on loopback (refused at start otherwise) and
//!   serves loopback clients only; anything else is refused.
//! - Every POST that does not carry the bearer header must carry the session's CSRF token,
//!   as the form field `csrf` or the header `X-CSRF-Token` (a page from another site can make
//!   the browser send the cookie, but cannot read the token).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::Rng;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AdminState;

/// Name of the session cookie.
pub const COOKIE: &str = "gc_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest go first).
const MAX_SESSIONS: usize = 1000;
/// Largest form body read for the CSRF check.
const MAX_FORM: usize = 64 * 1024;

/// A browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its CSRF token.
    pub csrf: String,
    created: Instant,
}

/// How a request was authenticated; handlers read it from the request extensions.
#[derive(Debug, Clone)]
pub enum Access {
    /// `Authorization: Bearer` with the configured token (no CSRF token needed).
    Bearer,
    /// A browser session (forms carry its CSRF token).
    Session {
        /// The session id (cookie value).
        id: String,
        /// The CSRF token forms must carry.
        csrf: String,
        /// Started on the login page (a token is configured), so "log out" makes sense.
        login: bool,
    },
}

impl Access {
    /// The CSRF token to embed in forms (empty for bearer clients, which need none).
    pub fn csrf(&self) -> &str {
        match self {
            Access::Bearer => "",
            Access::Session { csrf, .. } => csrf,
        }
    }
}

/// The session store (in memory: a restart asks for the token again).
#[derive(Debug, Default)]
pub struct Sessions(std::sync::Mutex<HashMap<String, Session>>);

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new session: (id, CSRF token).
    pub fn create(&self) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let mut all = self.lock();
        all.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if all.len() >= MAX_SESSIONS
            && let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
        {
            all.remove(&oldest);
        }
        all.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: Instant::now(),
            },
        );
        (id, csrf)
    }

    /// The session with this id, if valid.
    pub fn get(&self, id: &str) -> Option<Session> {
        self.lock()
            .get(id)
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .cloned()
    }

    /// End a session.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The `Set-Cookie` value for a session.
pub fn cookie(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether `given` is the configured token (constant time).
pub fn token_matches(state: &AdminState, given: &str) -> bool {
    state
        .config
        .admin
        .token
        .as_ref()
        .is_some_and(|t| bool::from(t.expose_secret().as_bytes().ct_eq(given.as_bytes())))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

fn refuse(path: &str, status: StatusCode, why: &str) -> Response {
    if is_api(path) {
        (
            status,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(serde_json::json!({ "error": why })),
        )
            .into_response()
    } else if status == StatusCode::UNAUTHORIZED {
        Redirect::to("/login").into_response()
    } else {
        (status, why.to_owned()).into_response()
    }
}

/// The middleware: authenticate, check CSRF on POST, and set a session cookie for browsers
/// that have none yet (loopback without token).
pub async fn guard(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/login" || path == "/static/admin.css" {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let token_set = state.config.admin.token.is_some();
    let session = cookie_value(&headers, COOKIE)
        .and_then(|id| state.sessions.get(id).map(|s| (id.to_owned(), s)));
    let mut new_cookie = None;
    let access = match (bearer(&headers), &session) {
        (Some(given), _) if token_set => {
            if !token_matches(&state, given) {
                return refuse(&path, StatusCode::UNAUTHORIZED, "wrong admin token");
            }
            Access::Bearer
        }
        (_, Some((id, s))) if token_set || peer.ip().is_loopback() => Access::Session {
            id: id.clone(),
            csrf: s.csrf.clone(),
            login: token_set,
        },
        _ if token_set => {
            return refuse(
                &path,
                StatusCode::UNAUTHORIZED,
                "the admin token is required (Authorization: Bearer <token>)",
            );
        }
        _ if !peer.ip().is_loopback() => {
            // Cannot happen with a valid configuration (no token: loopback only), but a
            // proxy on this machine could forward others: refuse them.
            return refuse(
                &path,
                StatusCode::FORBIDDEN,
                "only local clients may use the admin server without a token",
            );
        }
        _ => {
            let (id, csrf) = state.sessions.create();
            new_cookie = Some(cookie(&id));
            Access::Session {
                id,
                csrf,
                login: false,
            }
        }
    };
    if req.method() == Method::POST
        && let Access::Session { csrf, .. } = &access
    {
        let header_token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        let ok = match header_token {
            Some(t) => bool::from(t.as_bytes().ct_eq(csrf.as_bytes())),
            None => {
                let (parts, body) = req.into_parts();
                let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
                    return refuse(&path, StatusCode::PAYLOAD_TOO_LARGE, "request too large");
                };
                let field = url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == "csrf")
                    .map(|(_, v)| v.into_owned());
                req = Request::from_parts(parts, Body::from(bytes));
                field.is_some_and(|t| bool::from(t.as_bytes().ct_eq(csrf.as_bytes())))
            }
        };
        if !ok {
            return refuse(
                &path,
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page and try again",
            );
        }
    }
    req.extensions_mut().insert(access);
    let mut resp = next.run(req).await;
    if let Some(c) = new_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_http_only_and_strict() {
        let c = cookie("abc");
        let s = c.to_str().unwrap();
        assert!(s.starts_with("gc_session=abc;"));
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Strict"));
    }

    #[test]
    fn sessions_expire_and_are_bounded() {
        let s = Sessions::default();
        let (id, csrf) = s.create();
        assert_eq!(s.get(&id).unwrap().csrf, csrf);
        assert_ne!(id, csrf);
        assert!(s.get("nope").is_none());
        for _ in 0..MAX_SESSIONS + 5 {
            s.create();
        }
        assert!(s.lock().len() <= MAX_SESSIONS);
        s.remove(&id);
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn cookie_header_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gc_session=xyz; b=2"),
        );
        assert_eq!(cookie_value(&h, COOKIE), Some("xyz"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  tok "),
        );
        assert_eq!(bearer(&h), Some("tok"));
    }
}
