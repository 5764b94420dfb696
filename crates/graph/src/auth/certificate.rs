//! A certificate credential: read from PEM or PFX, its thumbprints and expiry, and the client
//! assertion (a JWT signed with its key) it proves the application's identity with. Kept apart
//! from the token cache, which only asks it for an assertion per token request.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{AuthCause, AuthError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credential;

    const CERT: &[u8] = include_bytes!("../../tests/fixtures/test-cert.pem");
    const KEY: &str = include_str!("../../tests/fixtures/test-key.pem");
    const PFX: &[u8] = include_bytes!("../../tests/fixtures/test.pfx");

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
}
