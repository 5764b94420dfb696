//! Client-credentials tokens: client secret or certificate (signed JWT assertion).
//!
//! One POST to `{login}/{tenant}/oauth2/v2.0/token`. Tokens are cached and refreshed ahead of
//! expiry; while a still-valid token is being refreshed other tasks keep using it, and when no
//! valid token exists exactly one task fetches while the others wait for its result.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::error::{AuthCause, AuthError};
use crate::options::GraphOptions;
use crate::retry;

/// How the application proves its identity.
#[derive(Clone)]
pub enum Credential {
    /// A client secret (the secret's *value*).
    Secret(SecretString),
    /// A certificate whose public part is registered on the app.
    Certificate(Arc<CertificateCredential>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret([REDACTED])"),
            Credential::Certificate(c) => {
                f.debug_tuple("Credential::Certificate").field(c).finish()
            }
        }
    }
}

impl Credential {
    /// A client secret.
    pub fn secret(secret: impl Into<String>) -> Self {
        Credential::Secret(SecretString::from(secret.into()))
    }

    /// When the credential itself expires, if known (certificates only; a secret's expiry is
    /// only visible in Entra).
    pub fn not_after(&self) -> Option<jiff::Timestamp> {
        match self {
            Credential::Secret(_) => None,
            Credential::Certificate(c) => c.not_after,
        }
    }
}

/// Signature algorithm and thumbprint header of the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// PS256 with `x5t#S256` (SHA-256 thumbprint), what Microsoft documents today.
    #[default]
    Ps256,
    /// RS256 with `x5t` (SHA-1 thumbprint), the classic MSAL form, as a fallback.
    Rs256,
}

/// A certificate and its private key, ready to sign client assertions.
pub struct CertificateCredential {
    key: EncodingKey,
    x5t_s256: String,
    x5t: String,
    /// Certificate expiry, for "certificate expires in N days" alerts.
    pub not_after: Option<jiff::Timestamp>,
    /// Certificate subject, for display.
    pub subject: String,
    algorithm: AssertionAlgorithm,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("subject", &self.subject)
            .field("x5t#S256", &self.x5t_s256)
            .field("not_after", &self.not_after)
            .field("algorithm", &self.algorithm)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl CertificateCredential {
    /// From a PEM certificate and a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`).
    pub fn from_pem(cert_pem: &[u8], key_pem: &SecretString) -> Result<Self, AuthError> {
        let der = first_pem_block(cert_pem, "CERTIFICATE").ok_or_else(|| {
            AuthError::local(
                AuthCause::Other {
                    code: None,
                    error: None,
                },
                "the certificate file contains no PEM CERTIFICATE block",
            )
        })?;
        let key = EncodingKey::from_rsa_pem(key_pem.expose_secret().as_bytes()).map_err(|_| {
            AuthError::local(
                AuthCause::Other {
                    code: None,
                    error: None,
                },
                "the private key is not an RSA key in PEM form",
            )
        })?;
        Ok(Self::from_parts(&der, key))
    }

    /// From a PKCS#12 (`.pfx`/`.p12`) archive holding the key and its certificate.
    pub fn from_pfx(pfx: &[u8], password: &SecretString) -> Result<Self, AuthError> {
        let local = |msg: &str| {
            AuthError::local(
                AuthCause::Other {
                    code: None,
                    error: None,
                },
                msg,
            )
        };
        let store = p12_keystore::KeyStore::from_pkcs12(
            pfx,
            password.expose_secret(),
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|_| local("cannot open the PFX file (wrong password or damaged file)"))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| local("the PFX file holds no private key"))?;
        let cert = chain
            .certs()
            .first()
            .ok_or_else(|| local("the PFX file holds no certificate for its key"))?;
        // jsonwebtoken takes RSA keys as PEM (PKCS#8 is unwrapped there) or PKCS#1 DER; the PFX
        // carries PKCS#8 DER, so wrap it as PEM.
        let pem = SecretString::from(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(chain.key().as_der())
        ));
        let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
            .map_err(|_| local("the PFX private key is not an RSA key"))?;
        Ok(Self::from_parts(cert.as_der(), key))
    }

    fn from_parts(der: &[u8], key: EncodingKey) -> Self {
        let x5t_s256 = URL_SAFE_NO_PAD.encode(Sha256::digest(der));
        let x5t = URL_SAFE_NO_PAD.encode(Sha1::digest(der));
        let (not_after, subject) = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => (
                jiff::Timestamp::from_second(cert.validity().not_after.timestamp()).ok(),
                cert.subject().to_string(),
            ),
            Err(_) => (None, String::new()),
        };
        CertificateCredential {
            key,
            x5t_s256,
            x5t,
            not_after,
            subject,
            algorithm: AssertionAlgorithm::default(),
        }
    }

    /// Choose RS256/`x5t` instead of the default PS256/`x5t#S256`.
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// base64url SHA-256 thumbprint of the certificate (the `x5t#S256` header).
    pub fn thumbprint_sha256(&self) -> &str {
        &self.x5t_s256
    }

    /// base64url SHA-1 thumbprint of the certificate (the `x5t` header).
    pub fn thumbprint_sha1(&self) -> &str {
        &self.x5t
    }

    /// Sign a client assertion for `token_url`, valid for 10 minutes.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> Result<String, AuthError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let now = jiff::Timestamp::now().as_second();
        let mut header = match self.algorithm {
            AssertionAlgorithm::Ps256 => {
                let mut h = Header::new(Algorithm::PS256);
                h.x5t_s256 = Some(self.x5t_s256.clone());
                h
            }
            AssertionAlgorithm::Rs256 => {
                let mut h = Header::new(Algorithm::RS256);
                h.x5t = Some(self.x5t.clone());
                h
            }
        };
        header.typ = Some("JWT".into());
        let claims = Claims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + 600,
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| {
            AuthError::local(
                AuthCause::BadCertificateAssertion,
                "cannot sign the client assertion with the configured private key",
            )
        })
    }
}

fn first_pem_block(pem: &[u8], label: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

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

    const CERT: &[u8] = include_bytes!("../tests/fixtures/test-cert.pem");
    const KEY: &str = include_str!("../tests/fixtures/test-key.pem");
    const PFX: &[u8] = include_bytes!("../tests/fixtures/test.pfx");

    fn jwt_part(b64: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn pem_assertion_is_ps256_with_sha256_thumbprint() {
        let c = CertificateCredential::from_pem(CERT, &SecretString::from(KEY)).unwrap();
        let jwt = c
            .assertion("client-1", "https://login/t/oauth2/v2.0/token")
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = jwt_part(parts[0]);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], c.thumbprint_sha256());
        assert!(header.get("x5t").is_none());
        let claims = jwt_part(parts[1]);
        assert_eq!(claims["aud"], "https://login/t/oauth2/v2.0/token");
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap() <= 600);
        assert_eq!(c.thumbprint_sha256().len(), 43);
        assert!(c.not_after.is_some());
        assert!(c.subject.contains("gc-graph test"));
    }

    #[test]
    fn rs256_option_uses_sha1_thumbprint() {
        let c = CertificateCredential::from_pem(CERT, &SecretString::from(KEY))
            .unwrap()
            .with_algorithm(AssertionAlgorithm::Rs256);
        let jwt = c.assertion("c", "aud").unwrap();
        let header = jwt_part(jwt.split('.').next().unwrap());
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], c.thumbprint_sha1());
        assert_eq!(c.thumbprint_sha1().len(), 27);
    }

    #[test]
    fn pfx_and_pem_give_the_same_certificate() {
        let pem = CertificateCredential::from_pem(CERT, &SecretString::from(KEY)).unwrap();
        let pfx =
            CertificateCredential::from_pfx(PFX, &SecretString::from("test-password")).unwrap();
        assert_eq!(pem.thumbprint_sha256(), pfx.thumbprint_sha256());
        pfx.assertion("c", "aud").unwrap();
        let wrong = CertificateCredential::from_pfx(PFX, &SecretString::from("nope"));
        assert!(wrong.is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credential::secret("super-secret-value");
        assert!(!format!("{c:?}").contains("super-secret-value"));
        let cert = CertificateCredential::from_pem(CERT, &SecretString::from(KEY)).unwrap();
        let dbg = format!("{cert:?}");
        assert!(dbg.contains("REDACTED") && !dbg.contains("PRIVATE"));
    }

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
