//! The access token and the provider that fetches and caches it: one POST to the token
//! endpoint, refreshed ahead of expiry with a single fetch in flight, roles and tenant read
//! from the token. Kept apart from the credentials, which only say how to ask.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use super::Credential;
use crate::error::{AuthCause, AuthError};
use crate::options::GraphOptions;
use crate::retry;

/// A cached access token.
pub struct AccessToken {
    secret: SecretString,
    /// Monotonic expiry (what refresh decisions use).
    expires_at: Instant,
    /// Lifetime granted at issue; short-lived tokens refresh at half-life.
    lifetime: Duration,
    /// Wall-clock expiry, for display.
    pub expires_on: jiff::Timestamp,
    /// Granted application roles, decoded (not verified) from the token payload. `None` when
    /// the token is not a JWT we can read; an empty list when the JWT has no `roles` claim
    /// (no application permission consented at all).
    pub roles: Option<Vec<String>>,
    /// Tenant id claim (`tid`), if readable.
    pub tenant: Option<String>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("expires_on", &self.expires_on)
            .field("roles", &self.roles)
            .finish()
    }
}

impl AccessToken {
    /// The bearer value. Never log it.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// Time left before expiry.
    pub fn remaining(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }

    fn is_valid(&self) -> bool {
        // A token with under 30 s left (a quarter of the lifetime for short-lived ones) may
        // expire in flight.
        self.remaining() > Duration::from_secs(30).min(self.lifetime / 4)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenClaims {
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    tid: Option<String>,
}

/// Decode a JWT's payload without verifying it (we only read `roles` for diagnostics; the
/// token is ours and Graph validates it).
fn decode_claims(token: &str) -> Option<TokenClaims> {
    let mut parts = token.split('.');
    let (_h, payload, _s) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Acquires and caches app-only tokens.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    margin: Duration,
    base_backoff: Duration,
    current: RwLock<Option<Arc<AccessToken>>>,
    refresh: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider using `http` for the token endpoint.
    pub fn new(http: reqwest::Client, options: &GraphOptions) -> Self {
        TokenProvider {
            http,
            token_url: options.token_url(),
            client_id: options.client_id.clone(),
            scope: options.scope.clone(),
            credential: options.credential.clone(),
            margin: options.token_refresh_margin,
            base_backoff: options.base_backoff,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched from the endpoint so far (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cached(&self) -> Option<Arc<AccessToken>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    fn needs_refresh(&self, t: &AccessToken) -> bool {
        t.remaining() <= self.margin.min(t.lifetime / 2)
    }

    /// A valid token, from the cache or freshly fetched.
    pub async fn token(&self) -> Result<Arc<AccessToken>, AuthError> {
        if let Some(t) = self.cached() {
            if t.is_valid() && !self.needs_refresh(&t) {
                return Ok(t);
            }
            if t.is_valid() {
                // Refresh ahead of expiry; whoever else arrives meanwhile keeps the old token.
                if let Ok(_guard) = self.refresh.try_lock() {
                    if let Some(newer) = self.cached().filter(|n| !self.needs_refresh(n)) {
                        return Ok(newer);
                    }
                    match self.fetch().await {
                        Ok(fresh) => return Ok(fresh),
                        Err(e) => {
                            tracing::warn!(error = %e, "token refresh failed; using the current token until it expires");
                            return Ok(t);
                        }
                    }
                }
                return Ok(t);
            }
        }
        let _guard = self.refresh.lock().await;
        if let Some(t) = self.cached().filter(|t| t.is_valid()) {
            return Ok(t);
        }
        self.fetch().await
    }

    /// Forget the cached token if it is still `stale` (Graph rejected it with 401).
    pub fn invalidate(&self, stale: &AccessToken) {
        if let Ok(mut g) = self.current.write()
            && g.as_ref().is_some_and(|t| t.expose() == stale.expose())
        {
            *g = None;
        }
    }

    async fn fetch(&self) -> Result<Arc<AccessToken>, AuthError> {
        let mut attempt = 0u32;
        loop {
            match self.fetch_once().await {
                Ok(t) => {
                    let t = Arc::new(t);
                    if let Ok(mut g) = self.current.write() {
                        *g = Some(t.clone());
                    }
                    return Ok(t);
                }
                Err(e) if e.is_transient() && attempt < 4 => {
                    attempt += 1;
                    let wait = retry::backoff(attempt, self.base_backoff, Duration::from_secs(30));
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "token endpoint unavailable, retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    #[tracing::instrument(skip_all, name = "token")]
    async fn fetch_once(&self) -> Result<AccessToken, AuthError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        match &self.credential {
            Credential::Secret(s) => form.push(("client_secret", s.expose_secret().to_owned())),
            Credential::Certificate(c) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    c.assertion(&self.client_id, &self.token_url)?,
                ));
            }
        }
        let started = Instant::now();
        let resp = self.http.post(&self.token_url).form(&form).send().await;
        drop(form);
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                return Err(AuthError::local(
                    AuthCause::Other {
                        code: None,
                        error: None,
                    },
                    format!("cannot reach the token endpoint: {}", describe_reqwest(&e)),
                ));
            }
        };
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let err = AuthError::from_token_response(status, &body);
            tracing::warn!(status, cause = %err.cause, codes = ?err.codes, "token request refused");
            return Err(err);
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            AuthError::local(
                AuthCause::Other {
                    code: None,
                    error: None,
                },
                "the token endpoint answered without an access_token",
            )
        })?;
        let expires_in = parsed
            .expires_in
            .as_ref()
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3599);
        let claims = decode_claims(&parsed.access_token);
        let roles = claims.as_ref().map(|c| c.roles.clone().unwrap_or_default());
        let tenant = claims.and_then(|c| c.tid);
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(
            expires_in,
            roles = roles.as_ref().map(|r| r.len()),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "token acquired"
        );
        let lifetime = Duration::from_secs(expires_in);
        Ok(AccessToken {
            secret: SecretString::from(parsed.access_token),
            expires_at: Instant::now() + lifetime,
            lifetime,
            expires_on: jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(expires_in as i64))
                .unwrap_or(jiff::Timestamp::MAX),
            roles,
            tenant,
        })
    }
}

/// A reqwest error described without its URL (which may carry tokens).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body could not be read"
    } else if e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_decoded_from_the_payload() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"roles":["Mail.ReadWrite","User.ReadWrite.All"],"tid":"t1"}"#);
        let c = decode_claims(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")).unwrap();
        assert_eq!(
            c.roles.unwrap(),
            vec!["Mail.ReadWrite", "User.ReadWrite.All"]
        );
        assert_eq!(c.tid.as_deref(), Some("t1"));
        let none = URL_SAFE_NO_PAD.encode(br#"{"tid":"t1"}"#);
        assert!(
            decode_claims(&format!("h.{none}.s"))
                .unwrap()
                .roles
                .is_none()
        );
        assert!(decode_claims("opaque-token").is_none());
    }
}
