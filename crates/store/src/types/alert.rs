//! Alerts to the administrator: the alert to raise, the raised alert and its delivery state.
//! Separate because alerts concern the service as a whole, not the synchronized items.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::MailboxId;
use crate::error::StoreError;

text_enum! {
    /// What became of an alert to the administrator.
    AlertDelivery {
        /// Raised, not delivered yet.
        Pending => "pending",
        /// Delivered through Microsoft Graph.
        Sent => "sent",
        /// Delivery failed (see [`Alert::delivery_error`]).
        Failed => "failed",
        /// Not sent: `[errors] notify_admin` is off. Listed on the admin page all the same.
        Disabled => "disabled",
    }
}

/// An alert to raise (see [`crate::AlertStore::raise_alert`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAlert {
    /// Rate-limiting key: an alert with the same key is raised at most once per interval
    /// (e.g. `excluded/4294967394`, `certificate_expiry`).
    pub key: String,
    /// What kind of alert (`mailbox_excluded`, `tenant_error`, `delta_resets`,
    /// `secret_expiry`, `certificate_expiry`).
    pub kind: String,
    /// Mailbox concerned, if any.
    pub mailbox: Option<MailboxId>,
    /// Subject of the message to the administrator.
    pub subject: String,
    /// Plain-text body (no secrets).
    pub body: String,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Monotonic id.
    pub id: i64,
    /// When it was raised (database clock).
    pub at: Timestamp,
    /// Rate-limiting key.
    pub key: String,
    /// Kind of alert.
    pub kind: String,
    /// Mailbox concerned.
    pub mailbox: Option<MailboxId>,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Delivery state.
    pub delivery: AlertDelivery,
    /// Why delivery failed.
    pub delivery_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
}
