//! Participants (MB) of an activity: their roles (in the terms of the missing-attendees
//! block), a participant to add and one read back, the participant record an activity's
//! insert writes with it, participants added to an existing activity.

use gc_ids::CrmId;

use crate::client::CrmSession;
use crate::codec::{CatalogMode, RecordData, WriteKind};
use crate::error::CrmError;

/// Participant roles, in the terms of the missing-attendees block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParticipantRole {
    /// To / required attendee (the organizer is written as required too).
    Required,
    /// CC / optional attendee.
    Optional,
    /// BCC / resource / informational.
    Informational,
    /// Anything else.
    Unknown,
}

impl ParticipantRole {
    /// Wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Optional => "optional",
            Self::Informational => "informational",
            Self::Unknown => "unknown",
        }
    }

    /// Parses the wire text (unknown spellings are [`ParticipantRole::Unknown`]).
    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "required" | "to" | "organizer" => Self::Required,
            "optional" | "cc" => Self::Optional,
            "informational" | "bcc" | "resource" => Self::Informational,
            _ => Self::Unknown,
        }
    }
}

/// A participant to add to an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParticipant {
    pub role: ParticipantRole,
    pub email: String,
    /// Person (KP) the address belongs to.
    pub person: Option<CrmId>,
    /// Rep (ID record id) the address belongs to.
    pub rep: Option<CrmId>,
    /// Response status (accepted, declined, …), free text.
    pub status: Option<String>,
}

/// A participant (MB) read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub id: CrmId,
    pub role: ParticipantRole,
    pub email: Option<String>,
    pub person: Option<CrmId>,
    pub rep: Option<CrmId>,
    pub status: Option<String>,
}

impl CrmSession<'_> {
    pub(super) fn participant_record(&self, activity: CrmId, p: &NewParticipant) -> RecordData {
        let dl = self.dialect();
        let d = &dl.participant;
        let mut rec = RecordData::new(&d.table)
            .field(&d.email, p.email.trim().to_ascii_lowercase())
            .field(&d.role, p.role.as_str())
            .link(&dl.activity.table, activity);
        if let Some(s) = &p.status {
            rec = rec.field(&d.status, s.clone());
        }
        if let Some(pid) = p.person {
            rec = rec.link(&dl.person.table, pid);
        }
        if let Some(rid) = p.rep {
            rec = rec.link(&dl.rep.table, rid);
        }
        rec
    }

    /// Adds participants to an existing activity; one result per participant.
    pub async fn add_participants(
        &self,
        activity: CrmId,
        participants: &[NewParticipant],
    ) -> Result<Vec<Result<CrmId, CrmError>>, CrmError> {
        let recs = participants
            .iter()
            .map(|p| self.participant_record(activity, p))
            .collect();
        self.write(WriteKind::Insert, CatalogMode::Text, recs).await
    }
}
