//! How a mailbox run ends: its row, the mailbox's health and the release of the mailbox
//! lease.
//!
//! Apart from the runner because it is the one place that decides what a run's outcome means
//! for the mailbox (a failure counts, toward exclusion only for access errors; a stop, a
//! cancellation, a busy or held mailbox is nobody's fault) and how that is written: a success
//! goes with the run's row and the lease's release in one write ([`gc_store::RunEnd`] says
//! why).

use gc_store::{Kind, MailboxFailure, RunEnd, StoreError};
use uuid::Uuid;

use crate::engine::Engine;
use crate::engine::report::{MailboxOutcome, MailboxReport};
use crate::lease::LeaseGuard;

impl Engine {
    /// The end of a run that started (has a run row): a failure's health first, on its own
    /// (failures are rare); then the run's row, a success and the lease's release in one
    /// write. If that write fails, the health and the lease go on their own, as far as the
    /// store takes them.
    pub(crate) async fn end_run(
        &self,
        run_id: Uuid,
        mailbox: &str,
        k: Kind,
        report: &MailboxReport,
        access_error: bool,
        lease: LeaseGuard,
    ) {
        let success = matches!(
            report.outcome,
            MailboxOutcome::Complete | MailboxOutcome::Delayed
        );
        if !success {
            self.record_health(mailbox, k, report, access_error).await;
        }
        let end = RunEnd {
            id: run_id,
            mailbox: mailbox.to_owned(),
            counts: report.run_counts(),
            outcome: report.run_outcome(),
            error: report.error.clone(),
            success,
            release: Some(lease.fence().clone()),
        };
        match self.store.end_run(&end).await {
            Ok(_) => lease.released_with_commit(),
            Err(e) => {
                tracing::warn!(mailbox, kind = %k, error = %e, "cannot record the end of the run");
                if success {
                    self.record_health(mailbox, k, report, access_error).await;
                }
                lease.release().await;
            }
        }
    }

    /// The mailbox's health after a run: a failure counts (toward exclusion only for access
    /// errors); a stop, a cancellation or a busy mailbox is nobody's fault and changes nothing.
    async fn record_health(
        &self,
        mailbox: &str,
        kind: Kind,
        report: &MailboxReport,
        access_error: bool,
    ) {
        let health = match report.outcome {
            MailboxOutcome::Failed => self
                .store
                .record_failure(
                    mailbox,
                    &MailboxFailure {
                        kind: if access_error {
                            "access_denied".to_owned()
                        } else {
                            format!("{kind}_run_failed")
                        },
                        text: report.error.clone().unwrap_or_default(),
                    },
                    self.policy.exclusion.filter(|_| access_error),
                )
                .await
                .map(|_| ()),
            MailboxOutcome::Stopped
            | MailboxOutcome::Cancelled
            | MailboxOutcome::Busy
            | MailboxOutcome::Excluded
            | MailboxOutcome::Held => Ok(()),
            MailboxOutcome::Complete | MailboxOutcome::Delayed => {
                self.store.record_success(mailbox).await
            }
        };
        if let Err(e) = health
            && !matches!(e, StoreError::NotFound(_))
        {
            tracing::warn!(mailbox, error = %e, "cannot record mailbox health");
        }
    }
}
