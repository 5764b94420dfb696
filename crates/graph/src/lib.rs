//! A thin typed Microsoft Graph client made for the connector.
//!
//! It knows nothing of CRM. Everything goes through one request layer ([`GraphClient`]) that
//! handles tokens ([`auth`]), throttling and retries ([`retry`]), per-mailbox concurrency and a
//! tenant-wide budget; paging and delta are exposed page by page ([`paging`]) so callers can
//! persist `nextLink`/`deltaLink` checkpoints; `$batch` lives in [`batch`]; errors carry an
//! [`ErrorKind`] callers act on; [`diagnose()`] is the Microsoft half of `check`.
//! See docs/GRAPH-CLIENT.md.

pub mod auth;
pub mod batch;
mod budgets;
mod client;
pub mod delta_probe;
pub mod diagnose;
mod download;
pub mod error;
pub mod models;
pub mod ops;
pub mod options;
pub mod paging;
pub mod redact;
pub mod retry;
mod slots;
pub mod tenant_line;
pub mod tz;

pub use auth::{AccessToken, AssertionAlgorithm, CertificateCredential, Credential, TokenProvider};
pub use batch::{BatchRequest, BatchResponse};
pub use client::{ClientStats, GraphClient};
pub use delta_probe::{DeltaProbe, DeltaState};
pub use diagnose::{CheckStatus, Diagnostic, diagnose};
pub use download::Download;
pub use error::{ApiError, AuthCause, AuthError, ErrorKind, GraphError, Permission, ResourceKind};
pub use ops::mail::{MessageDeltaOptions, MessagePatch, NewMessage};
pub use options::{Budget, GraphOptions};
pub use paging::{DeltaItem, ItemError, Page, PageStream, RemovalReason};
pub use tenant_line::HeadStart;
