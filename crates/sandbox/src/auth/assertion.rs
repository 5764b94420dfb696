//! The check of a certificate credential (`client_assertion`): the thumbprint against the
//! registered certificate, the signature, the time range, issuer, subject and audience, each
//! failure with Entra's AADSTS code. Apart from the token request because it is a JWT check of
//! its own.

use super::AuthState;
use super::aad_error::AadError;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
}

fn decode_thumbprint(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .ok()
    })
}

pub(super) fn verify_assertion(
    auth: &AuthState,
    assertion: &str,
    client_id: &str,
) -> Result<(), AadError> {
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
