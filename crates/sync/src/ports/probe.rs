//! Asking, for many mailboxes at once, whether anything changed since their last complete
//! round: what makes an idle cycle cost a fraction of a request per mailbox.
//!
//! A kind offers one probe per source of a mailbox (see
//! [`SyncKind::probes`](crate::engine::SyncKind::probes)): a Graph source by the delta link
//! its cursor stored, a CRM source by the update stamp its checkpoint stored. The answers of
//! every mailbox come from a few grouped requests: delta links 20 per `$batch` call, CRM
//! questions of one table in one CRM.interface request for all reps.

use async_trait::async_trait;
use jiff::civil::Date;

/// One question about one source of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The Graph user the source belongs to (for logs).
    pub user: String,
    /// What is asked.
    pub question: Question,
}

/// What a probe asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A stored `@odata.deltaLink`: is there anything behind it?
    Delta {
        /// The link.
        link: String,
        /// Whether removals behind it count (`false` for a source where an item leaving
        /// needs no work; see [`Probe::delta_past_removals`]).
        removals_are_changes: bool,
    },
    /// CRM tasks of a rep: did any in the window change after the stamp?
    CrmTasks(StampQuestion),
    /// CRM activities of a rep (the appointments' CRM side): did any dated in the window
    /// change after the stamp?
    CrmActivities(StampQuestion),
    /// CRM absences of a rep: are those in the window still the ones a run saw?
    CrmAbsences(FingerprintQuestion),
    /// The contacts' selection of a rep: are its companies and their persons still the ones
    /// a run saw?
    CrmSelection(SelectionQuestion),
}

/// "Do the ids and update stamps of this rep's companies and their persons still give this
/// fingerprint?" (see [`crate::contacts::probe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionQuestion {
    /// The rep number (the company's responsible rep).
    pub rep_number: String,
    /// What the selection's last complete round stored.
    pub fingerprint: String,
}

/// "Do the ids and update stamps of this rep's records in the window still give this
/// fingerprint?" (for a source that is read whole, so deletions count as changes too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintQuestion {
    /// The rep number (`RepID`).
    pub rep_number: String,
    /// The window's first day.
    pub from: Date,
    /// The window's last day, inclusive.
    pub to: Date,
    /// What the source's last complete round stored.
    pub fingerprint: String,
}

/// "Records of this rep in this window changed after this update stamp?"
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampQuestion {
    /// The rep number (`RepID`).
    pub rep_number: String,
    /// The window's first day.
    pub from: Date,
    /// The window's last day, inclusive.
    pub to: Date,
    /// The newest update stamp the source has seen; `None`: it saw no record, so any record
    /// in the window is a change.
    pub since: Option<String>,
}

impl Probe {
    /// A stored delta link of `user`'s source.
    pub fn delta(user: &str, link: String) -> Self {
        Probe {
            user: user.to_owned(),
            question: Question::Delta {
                link,
                removals_are_changes: true,
            },
        }
    }

    /// A stored delta link of `user`'s source where items leaving need no work (e-mail's
    /// sync folder: a message leaves it when it is filed, or deleted unfiled): removals
    /// behind it are not changes. Without this, every run that filed messages was followed,
    /// one interval later, by a run that read nothing but their removals.
    pub fn delta_past_removals(user: &str, link: String) -> Self {
        Probe {
            user: user.to_owned(),
            question: Question::Delta {
                link,
                removals_are_changes: false,
            },
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// Nothing changed behind the link.
    Unchanged,
    /// Something changed (or more pages follow).
    Changed,
    /// No answer (the link expired, the folder is gone, the request failed, nobody here
    /// answers this kind of question): the mailbox is run, and its run finds out what is
    /// wrong.
    Unknown(String),
}

/// Answers many probes in few requests.
#[async_trait]
pub trait Prober: Send + Sync {
    /// One answer per probe, in order. Never fails as a whole: a request that failed is
    /// [`ProbeAnswer::Unknown`] for each of its probes, and so is a question this prober
    /// cannot answer.
    async fn probe(&self, probes: &[Probe]) -> Vec<ProbeAnswer>;
}
