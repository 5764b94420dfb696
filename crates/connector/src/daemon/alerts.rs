//! Alerts to the administrator (`[microsoft] admin_email`, `[errors] notify_admin`): a mailbox
//! was excluded, a tenant-level error stops every run, a mailbox's delta checkpoint keeps
//! expiring, the client secret or certificate expires soon.
//!
//! Every alert goes through the store first
//! ([`AlertStore::raise_alert`](gc_store::AlertStore::raise_alert)): the same alert key is raised
//! at most once per `[errors] alert_repeat_hours`, also across processes sharing a PostgreSQL
//! store, and every raised alert is listed on the admin page. Delivery goes through Microsoft Graph
//! exactly like the users' failure notes (`Notifier::notify`: `sendMail` from the admin address
//! when Mail.Send is granted, otherwise a message created in the admin's Inbox).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gc_store::{AlertDelivery, Kind, NewAlert, StateStore};
use gc_sync::ports::{Notification, Notifier};
use jiff::Timestamp;

/// Raises and delivers alerts.
pub struct Alerter {
    store: Arc<dyn StateStore>,
    graph: Arc<dyn Notifier>,
    admin: String,
    notify: bool,
    repeat: Duration,
    resets_threshold: u32,
    resets: Mutex<BTreeMap<(String, Kind), VecDeque<Instant>>>,
}

/// The window in which repeated delta resets are counted.
const RESET_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Alerter {
    /// An alerter. `notify`: deliver (`[errors] notify_admin`); `repeat`: the rate limit per
    /// alert key; `resets_threshold`: delta resets of one mailbox and kind within a day that
    /// raise an alert (0: never).
    pub fn new(
        store: Arc<dyn StateStore>,
        graph: Arc<dyn Notifier>,
        admin: String,
        notify: bool,
        repeat: Duration,
        resets_threshold: u32,
    ) -> Self {
        Alerter {
            store,
            graph,
            admin,
            notify,
            repeat,
            resets_threshold,
            resets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Raise an alert (unless rate-limited) and deliver it.
    pub async fn raise(&self, alert: NewAlert) {
        let raised = match self.store.raise_alert(&alert, self.repeat).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                tracing::debug!(key = alert.key, "alert suppressed: raised recently");
                return;
            }
            Err(e) => {
                tracing::warn!(key = alert.key, error = %e, "cannot record an alert");
                return;
            }
        };
        metrics::counter!("graph_connector_alerts_total", "alert" => alert.kind.clone())
            .increment(1);
        tracing::warn!(
            alert = alert.kind,
            key = alert.key,
            subject = alert.subject,
            "alert"
        );
        let (delivery, error) = if !self.notify || self.admin.is_empty() {
            (AlertDelivery::Disabled, None)
        } else {
            let note = Notification {
                subject: format!("graph-connector: {}", alert.subject),
                html: html(&alert.body),
            };
            match self.graph.notify(&self.admin, &note).await {
                Ok(()) => (AlertDelivery::Sent, None),
                Err(e) => {
                    tracing::warn!(key = alert.key, error = %e, "cannot deliver an alert to the administrator");
                    (AlertDelivery::Failed, Some(e.message))
                }
            }
        };
        if let Err(e) = self
            .store
            .set_alert_delivery(raised.id, delivery, error.as_deref())
            .await
        {
            tracing::warn!(key = alert.key, error = %e, "cannot record an alert's delivery");
        }
    }

    /// A mailbox was excluded after repeated access errors.
    pub async fn mailbox_excluded(&self, rep_id: &str, address: &str, until: Timestamp, why: &str) {
        self.raise(NewAlert {
            key: format!("mailbox_excluded/{rep_id}"),
            kind: "mailbox_excluded".into(),
            mailbox: Some(rep_id.to_owned()),
            subject: format!("mailbox {address} is excluded from synchronization"),
            body: format!(
                "The mailbox {address} could not be accessed several times in a row and is \
                 excluded until {until} ([errors] exclude_after_access_errors, \
                 exclusion_minutes).\n\nLast error: {why}\n\nFix the cause (the mailbox exists, \
                 is licensed, and the app has access to it), then press \"sync now\" on the \
                 mailbox's admin page to try again at once."
            ),
        })
        .await;
    }

    /// A mailbox and kind waits for the administrator: the mass-delete guard held a run, or
    /// its first sync waits for review.
    pub async fn held(&self, rep_id: &str, address: &str, kind: Kind, why: &str) {
        self.raise(NewAlert {
            key: format!("held/{rep_id}/{kind}"),
            kind: "held".into(),
            mailbox: Some(rep_id.to_owned()),
            subject: format!("{kind} of {address} waits for your confirmation"),
            body: format!(
                "The {kind} synchronization of {address} stopped before writing and waits for \
                 your confirmation:\n\n{why}\n\nReview it on the admin page (the plan and what \
                 was held are shown there), then press \"confirm\", or run `graph-connector \
                 confirm --mailbox {address} --kind {kind}`. `graph-connector plan --mailbox \
                 {address} --kind {kind}` shows what the next run would do. Until then nothing \
                 of this mailbox and kind is synchronized."
            ),
        })
        .await;
    }

    /// A tenant-level error stops every run.
    pub async fn tenant_error(&self, error: &str) {
        self.raise(NewAlert {
            key: "tenant_error".into(),
            kind: "tenant_error".into(),
            mailbox: None,
            subject: "synchronization is stopped for the whole tenant".into(),
            body: format!(
                "No mailbox is synchronized until this is fixed:\n\n{error}\n\nThe service \
                 retries by itself; `graph-connector check` shows the cause and the fix."
            ),
        })
        .await;
    }

    /// A delta checkpoint expired; alert when it keeps happening for the same mailbox and kind.
    pub async fn delta_reset(&self, rep_id: &str, address: &str, kind: Kind) {
        if self.resets_threshold == 0 {
            return;
        }
        let count = {
            let mut all = self
                .resets
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let q = all.entry((rep_id.to_owned(), kind)).or_default();
            q.push_back(Instant::now());
            while q.front().is_some_and(|t| t.elapsed() > RESET_WINDOW) {
                q.pop_front();
            }
            q.len()
        };
        if count < self.resets_threshold as usize {
            return;
        }
        self.raise(NewAlert {
            key: format!("delta_resets/{rep_id}/{kind}"),
            kind: "delta_resets".into(),
            mailbox: Some(rep_id.to_owned()),
            subject: format!("{kind} delta of {address} keeps expiring"),
            body: format!(
                "Microsoft Graph expired the {kind} delta checkpoint of {address} {count} times \
                 within a day. Each time the connector re-reads the whole folder (nothing is \
                 lost or duplicated, but it costs time and requests). Usual causes: the service \
                 was stopped for longer than Graph keeps delta state, or the folder is being \
                 reorganised."
            ),
        })
        .await;
    }

    /// The client secret or the certificate expires within the warning period (or expired).
    pub async fn credential_expiry(&self, credential: &str, expires: Timestamp, days_left: i64) {
        let when = expires.strftime("%Y-%m-%d");
        let subject = if days_left < 0 {
            format!("the {credential} expired on {when}")
        } else {
            format!("the {credential} expires in {days_left} day(s), on {when}")
        };
        let key = credential.replace(' ', "_");
        self.raise(NewAlert {
            key: format!("{key}_expiry"),
            kind: format!("{key}_expiry"),
            mailbox: None,
            body: format!(
                "{subject}. After that Microsoft Entra ID refuses the connector's token and \
                 nothing is synchronized.\n\nCreate a new {credential} for the app registration \
                 in the Entra admin centre, put it into the connector's configuration \
                 ([microsoft] client_secret and client_secret_expires, or certificate), and \
                 reload or restart the service."
            ),
            subject,
        })
        .await;
    }
}

/// The alert's plain text as simple HTML (escaped).
fn html(text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    text.split("\n\n")
        .map(|p| format!("<p>{}</p>", esc(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_body_is_escaped_html() {
        assert_eq!(
            html("a <b> & c\n\nsecond"),
            "<p>a &lt;b&gt; &amp; c</p><p>second</p>"
        );
    }
}
