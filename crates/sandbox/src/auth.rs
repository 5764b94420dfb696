//! The Microsoft identity platform side of the sandbox: the app registration, the v2.0 token
//! endpoint (client credentials with a secret or a certificate assertion), and bearer checks.
//!
//! Failures answer exactly as Entra does (`error`, `error_description` starting with the AADSTS
//! code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`), so the connector's
//! `check` command can be tested against every failure an administrator meets.

use crate::error::GraphError;
use crate::faults::Fault;
use crate::server::Shared;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::Digest;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Private key (PKCS#1) the sandbox signs its access tokens with. Sandbox only, not a secret.
pub(crate) const TOKEN_SIGNING_KEY_PEM: &str = include_str!("keys/token-signing.key.pem");
const TOKEN_SIGNING_PUB_PEM: &str = include_str!("keys/token-signing.pub.pem");
/// The demo client certificate registered on the app unless another one is configured.
pub(crate) const DEMO_CLIENT_CERT_PEM: &str = include_str!("keys/demo-client.cert.pem");
/// The private key of [`DEMO_CLIENT_CERT_PEM`] (PKCS#8).
pub(crate) const DEMO_CLIENT_KEY_PEM: &str = include_str!("keys/demo-client.key.pem");

/// The application permissions consented by default: what the connector needs (SPEC §2) plus
/// Mail.Send (error notifications) and MailboxSettings.ReadWrite (master categories).
pub const DEFAULT_ROLES: &[&str] = &[
    "Calendars.ReadWrite",
    "Contacts.ReadWrite",
    "Directory.Read.All",
    "Mail.ReadWrite",
    "Mail.Send",
    "MailboxSettings.ReadWrite",
    "Tasks.ReadWrite.All",
    "User.ReadWrite.All",
];

/// A certificate registered on the app for `client_assertion`.
#[derive(Clone)]
pub(crate) struct RegisteredCert {
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    pub key: DecodingKey,
}

impl RegisteredCert {
    pub fn from_pem(pem: &str) -> Result<RegisteredCert, String> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        let der = pem.contents.clone();
        let cert = pem
            .parse_x509()
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let key = match cert.public_key().parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                DecodingKey::from_rsa_raw_components(strip0(rsa.modulus), strip0(rsa.exponent))
            }
            _ => return Err("the certificate's key is not an RSA key".to_owned()),
        };
        Ok(RegisteredCert {
            sha1: sha1::Sha1::digest(&der).to_vec(),
            sha256: sha2::Sha256::digest(&der).to_vec(),
            key,
        })
    }
}

fn strip0(b: &[u8]) -> &[u8] {
    match b {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => b,
    }
}

/// The live app registration and the failure switches of the control API.
pub(crate) struct AuthState {
    pub roles: BTreeSet<String>,
    pub secret_expired: bool,
    pub secret_invalid: bool,
    pub app_unknown: bool,
    pub tenant_unknown: bool,
    pub certificate: Option<RegisteredCert>,
    pub token_lifetime: Duration,
    /// Bearer tokens issued before this instant are rejected (control API "revoke").
    pub not_before: i64,
}

impl AuthState {
    pub fn new(token_lifetime: Duration, cert_pem: Option<&str>) -> Result<AuthState, String> {
        let certificate = Some(RegisteredCert::from_pem(
            cert_pem.unwrap_or(DEMO_CLIENT_CERT_PEM),
        )?);
        Ok(AuthState {
            roles: DEFAULT_ROLES.iter().map(|r| (*r).to_owned()).collect(),
            secret_expired: false,
            secret_invalid: false,
            app_unknown: false,
            tenant_unknown: false,
            certificate,
            token_lifetime,
            not_before: 0,
        })
    }
}

/// Keys for signing and verifying access tokens.
pub(crate) struct TokenKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub kid: String,
    /// JWK `n` and `e` (base64url).
    pub components: (String, String),
}

impl TokenKeys {
    pub fn load() -> Result<TokenKeys, String> {
        let encoding = EncodingKey::from_rsa_pem(TOKEN_SIGNING_KEY_PEM.as_bytes())
            .map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_rsa_pem(TOKEN_SIGNING_PUB_PEM.as_bytes())
            .map_err(|e| e.to_string())?;
        let kid = URL_SAFE_NO_PAD.encode(&sha1::Sha1::digest(TOKEN_SIGNING_PUB_PEM.as_bytes())[..]);
        let (_, pem) = x509_parser::pem::parse_x509_pem(TOKEN_SIGNING_PUB_PEM.as_bytes())
            .map_err(|e| e.to_string())?;
        let (_, spki) =
            <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<
                '_,
                x509_parser::error::X509Error,
            >>::from_der(&pem.contents)
            .map_err(|e| e.to_string())?;
        let components = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => (
                URL_SAFE_NO_PAD.encode(strip0(rsa.modulus)),
                URL_SAFE_NO_PAD.encode(strip0(rsa.exponent)),
            ),
            _ => return Err("the token signing key is not RSA".to_owned()),
        };
        Ok(TokenKeys {
            encoding,
            decoding,
            kid,
            components,
        })
    }
}

/// Claims of the access tokens the sandbox issues (a subset of Entra's app-only v1 tokens).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub app_displayname: String,
    pub appid: String,
    pub appidacr: String,
    pub idtyp: String,
    pub oid: String,
    pub sub: String,
    pub tid: String,
    pub uti: String,
    pub ver: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl AccessClaims {
    pub fn has_any(&self, roles: &[&str]) -> bool {
        roles
            .iter()
            .any(|r| self.roles.iter().any(|have| have.eq_ignore_ascii_case(r)))
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
}

/// An Entra-shaped token endpoint error.
struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    text: String,
}

impl AadError {
    fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        text: impl Into<String>,
    ) -> AadError {
        AadError {
            status,
            error,
            code,
            text: text.into(),
        }
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let trace = uuid::Uuid::new_v4().to_string();
        let correlation = uuid::Uuid::new_v4().to_string();
        let timestamp = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}",
                self.code, self.text
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        (
            self.status,
            [("cache-control", "no-store, no-cache")],
            axum::Json(body),
        )
            .into_response()
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub(crate) async fn token_endpoint(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    shared.monitor.count(&crate::monitor::Seen::Graph {
        resource: "token".to_owned(),
        write: true,
        in_batch: false,
    });
    crate::server::base_latency(&shared).await;
    // The identity platform throttles and fails too (`temporarily_unavailable`).
    match shared.faults.roll_login() {
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut r = AadError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                90055,
                "The tenant is receiving too many requests; retry after the indicated delay.",
            )
            .into_response();
            if let Ok(v) =
                axum::http::HeaderValue::from_str(&format!("{}", retry_after_secs.ceil()))
            {
                r.headers_mut().insert("retry-after", v);
            }
            return r;
        }
        Some(Fault::ServiceUnavailable { .. } | Fault::GatewayTimeout) => {
            return AadError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            )
            .into_response();
        }
        Some(Fault::ConnectionReset) => {
            let stream = futures::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault: connection reset",
                ))
            });
            return Response::builder()
                .status(StatusCode::OK)
                .body(axum::body::Body::from_stream(stream))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let form = TokenForm {
        grant_type: form.get("grant_type").cloned(),
        client_id: form.get("client_id").cloned(),
        client_secret: form.get("client_secret").cloned(),
        client_assertion: form.get("client_assertion").cloned(),
        client_assertion_type: form.get("client_assertion_type").cloned(),
        scope: form.get("scope").cloned(),
    };
    match issue(&shared, &tenant, &headers, form) {
        Ok(body) => (
            StatusCode::OK,
            [("cache-control", "no-store, no-cache")],
            axum::Json(body),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the tenant discovery document MSAL
/// (and so azure-identity) reads before asking for a token.
pub(crate) async fn openid_configuration(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Response {
    let creds = &shared.creds;
    let known = tenant.eq_ignore_ascii_case(&creds.tenant_id)
        || tenant.eq_ignore_ascii_case(&shared.directory.domain);
    if shared.lock_auth().tenant_unknown || !known {
        return AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        )
        .into_response();
    }
    let base = &shared.base_url;
    let tid = &creds.tenant_id;
    axum::Json(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: the public key the access tokens are signed with.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let (n, e) = shared.keys.components.clone();
    axum::Json(json!({"keys": [{"kty": "RSA", "use": "sig", "kid": shared.keys.kid, "x5t": shared.keys.kid, "n": n, "e": e}]}))
        .into_response()
}

fn issue(
    shared: &Shared,
    tenant: &str,
    headers: &HeaderMap,
    mut form: TokenForm,
) -> Result<serde_json::Value, AadError> {
    let creds = &shared.creds;
    let auth = shared.lock_auth();
    let known_tenant = tenant.eq_ignore_ascii_case(&creds.tenant_id)
        || tenant.eq_ignore_ascii_case(&shared.directory.domain);
    if tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("consumers") {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9001023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    if auth.tenant_unknown || !known_tenant {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    // HTTP Basic client authentication (RFC 6749 §2.3.1) is accepted too.
    if let Some((id, secret)) = basic_auth(headers) {
        form.client_id.get_or_insert(id);
        form.client_secret.get_or_insert(secret);
    }
    let missing = |name: &str| {
        AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };
    let grant = form
        .grant_type
        .as_deref()
        .ok_or_else(|| missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let client_id = form
        .client_id
        .as_deref()
        .ok_or_else(|| missing("client_id"))?;
    if auth.app_unknown || !client_id.eq_ignore_ascii_case(&creds.client_id) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let scope = form.scope.as_deref().ok_or_else(|| missing("scope"))?;
    let graph_scope = scope.split_whitespace().all(|s| {
        let s = s.trim_end_matches('/');
        s.eq_ignore_ascii_case("https://graph.microsoft.com/.default")
            || s.eq_ignore_ascii_case("00000003-0000-0000-c000-000000000000/.default")
            || s.eq_ignore_ascii_case(&format!("{}/.default", shared.base_url))
    });
    if !graph_scope || scope.trim().is_empty() {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let appidacr = if let Some(secret) = form.client_secret.as_deref() {
        if auth.secret_expired {
            return Err(AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                format!(
                    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                ),
            ));
        }
        if auth.secret_invalid || secret != creds.client_secret {
            return Err(AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        "1"
    } else if let Some(assertion) = form.client_assertion.as_deref() {
        if form.client_assertion_type.as_deref()
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(AadError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "Invalid client_assertion_type; expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            ));
        }
        verify_assertion(&auth, assertion, client_id)?;
        "2"
    } else {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };

    let now = jiff::Timestamp::now().as_second();
    let lifetime = auth.token_lifetime.as_secs() as i64;
    let claims = AccessClaims {
        aud: "https://graph.microsoft.com".to_owned(),
        iss: format!("https://sts.windows.net/{}/", creds.tenant_id),
        iat: now,
        nbf: now,
        exp: now + lifetime,
        app_displayname: "graph-connector (sandbox)".to_owned(),
        appid: creds.client_id.clone(),
        appidacr: appidacr.to_owned(),
        idtyp: "app".to_owned(),
        oid: shared.service_principal_id.clone(),
        sub: shared.service_principal_id.clone(),
        tid: creds.tenant_id.clone(),
        uti: URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
        ver: "1.0".to_owned(),
        roles: auth.roles.iter().cloned().collect(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".to_owned());
    header.kid = Some(shared.keys.kid.clone());
    header.x5t = Some(shared.keys.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &shared.keys.encoding).map_err(|e| {
        AadError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable",
            90033,
            format!("Token signing failed: {e}"),
        )
    })?;
    Ok(
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
    )
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((dec(id), dec(secret)))
}

fn decode_thumbprint(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .ok()
    })
}

fn verify_assertion(auth: &AuthState, assertion: &str, client_id: &str) -> Result<(), AadError> {
    let bad = |code: u32, text: String| {
        AadError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, text)
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| bad(50027, format!("JWT token is invalid or malformed: {e}.")))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(bad(
            700027,
            format!(
                "Client assertion failed signature validation. Unsupported algorithm {:?}.",
                header.alg
            ),
        ));
    }
    let cert = auth.certificate.as_ref().ok_or_else(|| {
        bad(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found.]"
                .to_owned(),
        )
    })?;
    let s256 = header.x5t_s256.as_deref().and_then(decode_thumbprint);
    let s1 = header.x5t.as_deref().and_then(decode_thumbprint);
    if s256.is_none() && s1.is_none() {
        return Err(bad(700027, "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: 'none']".to_owned()));
    }
    let matches =
        s256.as_deref() == Some(&cert.sha256[..]) || s1.as_deref() == Some(&cert.sha1[..]);
    if !matches {
        let tp = header.x5t_s256.or(header.x5t).unwrap_or_default();
        return Err(bad(
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{tp}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
            ),
        ));
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature | jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
            bad(500133, "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.".to_owned())
        }
        jsonwebtoken::errors::ErrorKind::InvalidSignature => bad(700027, "Client assertion failed signature validation.".to_owned()),
        other => bad(50027, format!("JWT token is invalid or malformed: {other:?}.")),
    })?;
    let c = data.claims;
    if c.iss.as_deref() != Some(client_id) || c.sub.as_deref() != Some(client_id) {
        return Err(bad(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter."
                .to_owned(),
        ));
    }
    let aud_ok = match &c.aud {
        Some(serde_json::Value::String(a)) => {
            a.contains("/oauth2/v2.0/token") || a.contains("/oauth2/token")
        }
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .any(|a| a.contains("/oauth2/")),
        _ => false,
    };
    if !aud_ok {
        return Err(bad(
            700212,
            "No matching federated identity record found for presented assertion audience."
                .to_owned(),
        ));
    }
    Ok(())
}

/// Checks `Authorization: Bearer …` on a Graph request.
pub(crate) fn verify_bearer(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<AccessClaims, GraphError> {
    let unauth =
        |msg: &str| GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", msg);
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(unauth("Access token is empty."));
    }
    if token.split('.').count() != 3 {
        return Err(unauth(
            "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.",
        ));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[
        "https://graph.microsoft.com",
        "00000003-0000-0000-c000-000000000000",
    ]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<AccessClaims>(token, &shared.keys.decoding, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                unauth("Lifetime validation failed, the token is expired.")
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                unauth("Access token validation failure. Invalid audience.")
            }
            _ => unauth("Access token validation failure."),
        })?;
    let claims = data.claims;
    if claims.tid != shared.creds.tenant_id {
        return Err(unauth("Access token validation failure. Invalid tenant."));
    }
    if claims.iat < shared.lock_auth().not_before {
        return Err(unauth("Access token has expired or is not yet valid."));
    }
    Ok(claims)
}

/// Control of the app registration for tests (also exposed under `/_sandbox/auth`).
pub struct AuthControl<'a> {
    pub(crate) shared: &'a Shared,
}

impl std::fmt::Debug for AuthControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthControl")
    }
}

impl AuthControl<'_> {
    /// AADSTS7000222 on every secret-based token request while set.
    pub fn set_secret_expired(&self, on: bool) {
        self.shared.lock_auth().secret_expired = on;
    }
    /// AADSTS7000215 (the configured secret no longer matches) while set.
    pub fn set_secret_invalid(&self, on: bool) {
        self.shared.lock_auth().secret_invalid = on;
    }
    /// AADSTS700016 (application not found in the directory) while set.
    pub fn set_app_unknown(&self, on: bool) {
        self.shared.lock_auth().app_unknown = on;
    }
    /// AADSTS90002 (tenant not found) while set.
    pub fn set_tenant_unknown(&self, on: bool) {
        self.shared.lock_auth().tenant_unknown = on;
    }
    /// Withdraws the admin consent of one application permission; tokens issued afterwards lack it.
    pub fn remove_role(&self, role: &str) {
        self.shared
            .lock_auth()
            .roles
            .retain(|r| !r.eq_ignore_ascii_case(role));
    }
    pub fn grant_role(&self, role: &str) {
        self.shared.lock_auth().roles.insert(role.to_owned());
    }
    pub fn roles(&self) -> Vec<String> {
        self.shared.lock_auth().roles.iter().cloned().collect()
    }
    /// Registers the certificate (PEM) accepted for `client_assertion`, replacing the previous one.
    pub fn register_certificate(&self, pem: &str) -> Result<(), String> {
        let cert = RegisteredCert::from_pem(pem)?;
        self.shared.lock_auth().certificate = Some(cert);
        Ok(())
    }
    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock_auth().token_lifetime = lifetime;
    }
    /// Rejects every bearer token issued before now (as after a credential reset).
    pub fn revoke_tokens(&self) {
        self.shared.lock_auth().not_before = jiff::Timestamp::now().as_second() + 1;
    }
    /// Resets all switches and roles to their defaults.
    pub fn reset(&self) {
        let mut a = self.shared.lock_auth();
        a.secret_expired = false;
        a.secret_invalid = false;
        a.app_unknown = false;
        a.tenant_unknown = false;
        a.roles = DEFAULT_ROLES.iter().map(|r| (*r).to_owned()).collect();
    }
}
