//! The tests' handle on the app registration: the AADSTS failure switches, the consented
//! application permissions, the registered certificate, token lifetime and revocation. Apart
//! from the endpoints because it is the control side (also under `/_sandbox/auth`).

use super::{DEFAULT_ROLES, RegisteredCert};
use crate::server::Shared;
use std::time::Duration;

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
