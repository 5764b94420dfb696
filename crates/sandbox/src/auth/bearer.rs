//! The access token as Graph sees it: the claims the sandbox issues and the check of
//! `Authorization: Bearer …` on every Graph request (signature, audience, lifetime, tenant,
//! revocation), answered with Graph's errors rather than the token endpoint's.

use crate::error::GraphError;
use crate::server::Shared;
use axum::http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

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
