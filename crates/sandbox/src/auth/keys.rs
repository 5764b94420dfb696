//! The key material: the key the sandbox signs its access tokens with (and its JWK), and the
//! certificates an app registers for `client_assertion`. Parsing PEM and X.509 is a concern of its
//! own, apart from the endpoint that uses the keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sha1::Digest;

/// Private key (PKCS#1) the sandbox signs its access tokens with. Sandbox only, not a secret.
pub(crate) const TOKEN_SIGNING_KEY_PEM: &str = include_str!("../keys/token-signing.key.pem");
const TOKEN_SIGNING_PUB_PEM: &str = include_str!("../keys/token-signing.pub.pem");
/// The demo client certificate registered on the app unless another one is configured.
pub(crate) const DEMO_CLIENT_CERT_PEM: &str = include_str!("../keys/demo-client.cert.pem");
/// The private key of [`DEMO_CLIENT_CERT_PEM`] (PKCS#8).
pub(crate) const DEMO_CLIENT_KEY_PEM: &str = include_str!("../keys/demo-client.key.pem");

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
