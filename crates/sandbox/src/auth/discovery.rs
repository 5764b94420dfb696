//! What a client reads before it asks for a token: the tenant's OpenID configuration (MSAL and
//! so azure-identity need it) and the JWKS with the key the access tokens are signed with.

use super::aad_error::AadError;
use crate::server::Shared;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

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
