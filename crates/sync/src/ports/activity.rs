//! The CRM side of e-mail filing: activities, their external keys, participants and
//! documents. Every call acts for the rep `rep` (impersonation).

use async_trait::async_trait;
use gc_store::CrmId;

use crate::email::model::{
    ActivityPlan, DocumentPlan, ExistingActivity, ParkedDocument, ParticipantPlan, PeopleMatch,
};
use crate::error::PortError;

/// A document already attached to an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMeta {
    /// File name.
    pub file_name: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
}

/// What [`ActivityCrm::lookup_page`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLookup {
    /// Keys CRM has an activity's external key for, with the activity (the lowest id).
    pub known_keys: std::collections::HashMap<String, CrmId>,
    /// The people of the addresses.
    pub people: PeopleMatch,
}

/// Result of writing a new activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Written completely (activity, external key, participants, documents).
    Complete(CrmId),
    /// The activity was written but a follow-up write failed; finish it by adoption.
    Partial {
        /// The activity.
        id: CrmId,
        /// What failed.
        error: PortError,
    },
}

/// The CRM side of e-mail filing. Every call acts for the rep `rep` (impersonation).
#[async_trait]
pub trait ActivityCrm: Send + Sync {
    /// Whether CRM.interface accepts to act for `rep` (impersonation): refused when the rep
    /// is unknown, locked or holds no valid CRM licence (`ErrorClass::Mailbox`).
    async fn check_rep_access(&self, rep: &str) -> Result<(), PortError>;

    /// Persons and companies by address, many addresses at once.
    async fn find_people(&self, rep: &str, addresses: &[String]) -> Result<PeopleMatch, PortError>;

    /// The activity whose external key is `key`, with its participants.
    async fn find_by_key(
        &self,
        rep: &str,
        key: &str,
    ) -> Result<Option<ExistingActivity>, PortError>;

    /// As [`ActivityCrm::find_by_key`], where `guess` is the activity another mailbox's link
    /// for the key names: an adapter may read it together with the key, and uses that read
    /// only when the key points to it (the default asks as `find_by_key` does).
    async fn find_by_key_guessing(
        &self,
        rep: &str,
        key: &str,
        guess: CrmId,
    ) -> Result<Option<ExistingActivity>, PortError> {
        let _ = guess;
        self.find_by_key(rep, key).await
    }

    /// For a whole page of messages (see `email::prefetch`): of `keys`, those CRM has an
    /// activity's external key for, with the activity's id; and the people of `addresses`
    /// (as [`ActivityCrm::find_people`]). The default asks [`ActivityCrm::find_by_key`] key by
    /// key and then the people; an adapter that can ask everything in one request overrides
    /// it.
    async fn lookup_page(
        &self,
        rep: &str,
        keys: &[String],
        addresses: &[String],
    ) -> Result<PageLookup, PortError> {
        let mut known_keys = std::collections::HashMap::new();
        for k in keys {
            if let Some(a) = self.find_by_key(rep, k).await? {
                known_keys.insert(k.clone(), a.id);
            }
        }
        let people = if addresses.is_empty() {
            PeopleMatch::default()
        } else {
            self.find_people(rep, addresses).await?
        };
        Ok(PageLookup { known_keys, people })
    }

    /// An activity by id, with its participants (`None` if gone).
    async fn activity(&self, rep: &str, id: CrmId) -> Result<Option<ExistingActivity>, PortError>;

    /// Several activities by id, with their participants; those that are gone are left out.
    /// The default asks [`ActivityCrm::activity`] id by id; an adapter that can read them in
    /// one request overrides it.
    async fn activities(
        &self,
        rep: &str,
        ids: &[CrmId],
    ) -> Result<Vec<ExistingActivity>, PortError> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(a) = self.activity(rep, *id).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// An activity an interrupted attempt wrote for `plan` without its external key: same
    /// rep, date, time, subject and text.
    async fn find_orphan(
        &self,
        rep: &str,
        plan: &ActivityPlan,
    ) -> Result<Option<ExistingActivity>, PortError>;

    /// Write a new activity with its external key, participants and documents.
    async fn create(
        &self,
        rep: &str,
        plan: &ActivityPlan,
        documents: &[DocumentPlan],
        content_type: &str,
    ) -> Result<CreateOutcome, PortError>;

    /// Record the external key of an adopted activity.
    async fn add_key(
        &self,
        rep: &str,
        activity: CrmId,
        key: &str,
        content_type: &str,
    ) -> Result<(), PortError>;

    /// Add participants.
    async fn add_participants(
        &self,
        rep: &str,
        activity: CrmId,
        participants: &[ParticipantPlan],
    ) -> Result<(), PortError>;

    /// Documents attached to an activity.
    async fn documents(&self, rep: &str, activity: CrmId) -> Result<Vec<DocumentMeta>, PortError>;

    /// Attach a document, its content read from the spool while the request is sent.
    async fn add_document(
        &self,
        rep: &str,
        activity: CrmId,
        document: &ParkedDocument,
    ) -> Result<(), PortError>;
}
