//! The Microsoft identity platform side of the sandbox: the app registration, the v2.0 token
//! endpoint (client credentials with a secret or a certificate assertion), and bearer checks.
//!
//! Failures answer exactly as Entra does (`error`, `error_description` starting with the AADSTS
//! code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`), so the connector's
//! `check` command can be tested against every failure an administrator meets.

mod aad_error;
mod assertion;
mod bearer;
mod control;
mod discovery;
mod keys;
mod token;

use std::collections::BTreeSet;
use std::time::Duration;

pub(crate) use bearer::{AccessClaims, verify_bearer};
pub use control::AuthControl;
pub(crate) use discovery::{jwks, openid_configuration};
pub(crate) use keys::{DEMO_CLIENT_CERT_PEM, DEMO_CLIENT_KEY_PEM, RegisteredCert, TokenKeys};
pub(crate) use token::token_endpoint;

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
