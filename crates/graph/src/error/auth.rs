//! Failures at the token endpoint: [`AuthCause`] (an AADSTS code classified, with its
//! explanation and fix for an administrator) and [`AuthError`] (the token endpoint's error body
//! parsed).

use std::fmt;

use serde::Deserialize;

/// Why authentication failed, parsed from the AADSTS code of the token endpoint (or from Graph's
/// 401 answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthCause {
    /// AADSTS7000222: the client secret has expired.
    ExpiredSecret,
    /// AADSTS7000215 / 70002: the client secret is wrong (often the secret *id* was configured
    /// instead of its value).
    InvalidSecret,
    /// AADSTS700016 / 700011: no application with this client id in the tenant.
    UnknownApplication,
    /// AADSTS90002 / 90023-style: the tenant id or domain does not exist.
    UnknownTenant,
    /// AADSTS700027: the client assertion signature did not validate (wrong key or certificate).
    BadCertificateAssertion,
    /// AADSTS50012 / 700030: the certificate is not registered for the app, or its thumbprint or
    /// subject is not accepted.
    CertificateNotRegistered,
    /// AADSTS500133: the assertion's time range is invalid (clock skew).
    AssertionExpired,
    /// AADSTS70011: the scope is invalid.
    InvalidScope,
    /// AADSTS7000112 / 700024-like: the application is disabled.
    ApplicationDisabled,
    /// Graph rejected an access token (401 `InvalidAuthenticationToken`) even after a refresh.
    TokenRejected,
    /// The token endpoint answered in a way we could not understand, or another AADSTS code.
    Other {
        /// First AADSTS code, if any.
        code: Option<u32>,
        /// The OAuth `error` value (`invalid_client`, ...), if any.
        error: Option<String>,
    },
}

impl AuthCause {
    /// Classify AADSTS codes (first known code wins).
    pub fn from_codes(codes: &[u32], oauth_error: Option<&str>) -> Self {
        for code in codes {
            let cause = match code {
                7_000_222 => Some(Self::ExpiredSecret),
                7_000_215 | 70_002 => Some(Self::InvalidSecret),
                700_016 | 700_011 => Some(Self::UnknownApplication),
                90_002 | 90_023 | 900_023 => Some(Self::UnknownTenant),
                700_027 => Some(Self::BadCertificateAssertion),
                50_012 | 700_030 => Some(Self::CertificateNotRegistered),
                500_133 => Some(Self::AssertionExpired),
                70_011 => Some(Self::InvalidScope),
                7_000_112 => Some(Self::ApplicationDisabled),
                _ => None,
            };
            if let Some(cause) = cause {
                return cause;
            }
        }
        Self::Other {
            code: codes.first().copied(),
            error: oauth_error.map(str::to_owned),
        }
    }

    /// Plain-words explanation for an administrator.
    pub fn explanation(&self) -> &'static str {
        match self {
            Self::ExpiredSecret => "the client secret has expired",
            Self::InvalidSecret => {
                "the client secret is wrong (check that the secret value, not the secret id, is configured)"
            }
            Self::UnknownApplication => {
                "no application with this client id exists in the tenant (wrong client id or wrong tenant)"
            }
            Self::UnknownTenant => "the tenant id or domain does not exist",
            Self::BadCertificateAssertion => {
                "the certificate signature was rejected (private key does not match the registered certificate)"
            }
            Self::CertificateNotRegistered => {
                "the certificate is not registered for this application"
            }
            Self::AssertionExpired => {
                "the signed client assertion was outside its validity window (check the system clock)"
            }
            Self::InvalidScope => "the requested scope is invalid",
            Self::ApplicationDisabled => "the application is disabled in the tenant",
            Self::TokenRejected => "Microsoft Graph rejected the access token",
            Self::Other { .. } => "the token endpoint refused the request",
        }
    }

    /// What the administrator should do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Self::ExpiredSecret => {
                "create a new client secret for the app registration in Microsoft Entra and update the configuration"
            }
            Self::InvalidSecret => {
                "copy the secret's Value (not its Secret ID) from Microsoft Entra into the configuration, or create a new secret"
            }
            Self::UnknownApplication => {
                "check tenant_id and client_id in the configuration against the app registration's overview page"
            }
            Self::UnknownTenant => {
                "check tenant_id in the configuration (Directory (tenant) ID on the app registration's overview page)"
            }
            Self::BadCertificateAssertion | Self::CertificateNotRegistered => {
                "upload the certificate (public part) under Certificates & secrets of the app registration, and configure the matching private key"
            }
            Self::AssertionExpired => "synchronise the system clock (NTP) of the connector host",
            Self::InvalidScope => "use the scope https://graph.microsoft.com/.default",
            Self::ApplicationDisabled => "enable the enterprise application in Microsoft Entra",
            Self::TokenRejected => {
                "check that the token is issued for Microsoft Graph by the configured tenant"
            }
            Self::Other { .. } => "read the AADSTS code in the log and check the app registration",
        }
    }
}

impl fmt::Display for AuthCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other {
                code: Some(code), ..
            } => {
                write!(f, "{} (AADSTS{code})", self.explanation())
            }
            Self::Other { error: Some(e), .. } => write!(f, "{} ({e})", self.explanation()),
            _ => f.write_str(self.explanation()),
        }
    }
}

/// A failure at the token endpoint.
#[derive(Debug, Clone)]
pub struct AuthError {
    /// What went wrong, classified.
    pub cause: AuthCause,
    /// HTTP status of the token endpoint (0 when no answer came).
    pub status: u16,
    /// AADSTS codes.
    pub codes: Vec<u32>,
    /// The first line of `error_description` (no secrets: Entra never echoes them).
    pub description: String,
    /// Entra's trace id for support.
    pub trace_id: Option<String>,
}

#[derive(Deserialize)]
struct AadErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
}

impl AuthError {
    /// Parse the token endpoint's error body (`{"error","error_description","error_codes",...}`).
    pub fn from_token_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<AadErrorBody>(body) {
            Ok(b) => {
                let mut codes = b.error_codes;
                let description = b.error_description.unwrap_or_default();
                if codes.is_empty() {
                    codes.extend(aadsts_code_in_text(&description));
                }
                let first_line = description
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                AuthError {
                    cause: AuthCause::from_codes(&codes, b.error.as_deref()),
                    status,
                    codes,
                    description: first_line,
                    trace_id: b.trace_id,
                }
            }
            Err(_) => AuthError {
                cause: AuthCause::Other {
                    code: None,
                    error: None,
                },
                status,
                codes: Vec::new(),
                description: format!("unexpected answer from the token endpoint (HTTP {status})"),
                trace_id: None,
            },
        }
    }

    /// Error raised locally (e.g. the assertion could not be signed).
    pub fn local(cause: AuthCause, description: impl Into<String>) -> Self {
        AuthError {
            cause,
            status: 0,
            codes: Vec::new(),
            description: description.into(),
            trace_id: None,
        }
    }

    /// Whether retrying the token request later may help (throttling or outage of Entra).
    pub fn is_transient(&self) -> bool {
        self.status == 429
            || self.status >= 500
            || self.status == 0 && matches!(self.cause, AuthCause::Other { .. })
            || self
                .codes
                .iter()
                .any(|c| matches!(c, 90_055 | 90_024 | 90_033 | 90_006))
    }
}

fn aadsts_code_in_text(text: &str) -> Option<u32> {
    let idx = text.find("AADSTS")?;
    let digits: String = text[idx + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.cause)?;
        if !self.description.is_empty() {
            write!(f, ": {}", self.description)?;
        }
        if let Some(t) = &self.trace_id {
            write!(f, " (trace id {t})")?;
        }
        Ok(())
    }
}
