//! Client-credentials tokens: client secret or certificate (signed JWT assertion).
//!
//! One POST to `{login}/{tenant}/oauth2/v2.0/token`. Tokens are cached and refreshed ahead of
//! expiry; while a still-valid token is being refreshed other tasks keep using it, and when no
//! valid token exists exactly one task fetches while the others wait for its result.
//!
//! Here: the [`Credential`] the application proves its identity with. The certificate, its key
//! and the assertions it signs are in `certificate`; the token cache, its single-flight
//! refresh and the token endpoint's answer in `token`.

mod certificate;
mod token;

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;

pub use certificate::{AssertionAlgorithm, CertificateCredential};
pub(crate) use token::describe_reqwest;
pub use token::{AccessToken, TokenProvider};

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
