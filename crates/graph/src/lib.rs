//! A thin typed Microsoft Graph client made for the connector.
//!
//! It knows nothing of CRM. Everything goes through one request layer ([`GraphClient`]) that
//! handles tokens ([`auth`]), throttling and retries ([`retry`]), per-mailbox concurrency and a
//! tenant-wide budget; paging and delta are exposed page by page ([`paging`]) so callers can
//! persist `nextLink`/`deltaLink` checkpoints; errors carry a [`ErrorKind`] callers act on.

pub mod auth;
mod client;
pub mod error;
pub mod options;
pub mod redact;
pub mod retry;

pub use auth::{AccessToken, AssertionAlgorithm, CertificateCredential, Credential, TokenProvider};
pub use client::{ClientStats, GraphClient};
pub use error::{ApiError, AuthCause, AuthError, ErrorKind, GraphError, Permission, ResourceKind};
pub use options::{Budget, GraphOptions};
