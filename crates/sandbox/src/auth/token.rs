//! The v2.0 token endpoint: client credentials with a secret (in the form or HTTP Basic) or a
//! certificate assertion, the login faults, and every AADSTS refusal a wrong tenant, app, grant,
//! scope or credential earns; on success an access token signed with the sandbox's key.

use super::AccessClaims;
use super::aad_error::AadError;
use super::assertion::verify_assertion;
use crate::faults::Fault;
use crate::server::Shared;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Header};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
    scope: Option<String>,
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
