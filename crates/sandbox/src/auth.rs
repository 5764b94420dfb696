//! The Microsoft identity platform side of the sandbox: app registration and token endpoint.

/// Private key (PKCS#1) the sandbox signs its access tokens with. Sandbox only, not a secret.
pub(crate) const TOKEN_SIGNING_KEY_PEM: &str = include_str!("keys/token-signing.key.pem");
/// The demo client certificate registered on the app unless another one is configured.
pub(crate) const DEMO_CLIENT_CERT_PEM: &str = include_str!("keys/demo-client.cert.pem");
/// The private key of [`DEMO_CLIENT_CERT_PEM`] (PKCS#8).
pub(crate) const DEMO_CLIENT_KEY_PEM: &str = include_str!("keys/demo-client.key.pem");
